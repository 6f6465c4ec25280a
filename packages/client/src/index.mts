// The ES module entry: the CommonJS build's own exports, so that `import` and
// `require` in one program share one Client and one ExecutionError (instanceof
// works across them).
export * from './index.js';
