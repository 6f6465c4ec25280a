// Bundles the in-isolate prelude into one script, dist/prelude.js. Every fresh
// context runs it, so what it evaluates up front is kept small:
// - the libraries of src/prelude/on-demand.js are bundled apart and
//   wrapped in a function (`javascriptd:on-demand`), evaluated on first use;
// - object-inspect's string-width table (needed only to lay out long arrays)
//   is built on its first call.
// It also bundles dist/library.js, the script of an isolate's library realm
// (src/prelude-library), with SES's lockdown wrapped the same way: evaluated
// only once a script requires a module.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { build } from 'esbuild';

const common = { bundle: true, format: 'iife', platform: 'browser', target: 'es2022', legalComments: 'none', logLevel: 'warning' };

const onDemand = await build({ ...common, entryPoints: ['src/prelude/on-demand.js'], globalName: 'onDemand', write: false });

const onDemandModule = {
  name: 'on-demand',
  setup(builder) {
    builder.onResolve({ filter: /^javascriptd:on-demand$/ }, (args) => ({ path: args.path, namespace: 'on-demand' }));
    builder.onLoad({ filter: /.*/, namespace: 'on-demand' }, () => ({
      contents: `let loaded;\nexport function onDemand() {\n  if (loaded === undefined) loaded = (() => {\n${onDemand.outputFiles[0].text}\nreturn onDemand;\n})();\n  return loaded;\n}\n`,
      loader: 'js',
    }));
  },
};

// SES's lockdown shim (it defines globalThis.lockdown and, once that has run, harden); strict, as SES requires.
const ses = await build({ ...common, stdin: { contents: "import 'ses/lockdown-shim.js';", resolveDir: '.' }, minify: true, write: false });

const sesModule = {
  name: 'ses',
  setup(builder) {
    builder.onResolve({ filter: /^javascriptd:ses$/ }, (args) => ({ path: args.path, namespace: 'ses' }));
    builder.onLoad({ filter: /.*/, namespace: 'ses' }, () => ({
      contents: `export function lockdownShim() {\n${ses.outputFiles[0].text}\n}\n`,
      loader: 'js',
    }));
  },
};

const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(builder) {
    builder.onLoad({ filter: /object-inspect[\\/]stringWidth\.js$/, namespace: 'file' }, (args) => ({
      contents: `let width;\nmodule.exports = function getStringWidth(text) {\n  if (width === undefined) width = require(${JSON.stringify(`${args.path}?eager`)});\n  return width(text);\n};\n`,
      loader: 'js',
    }));
    builder.onResolve({ filter: /\?eager$/ }, (args) => ({ path: args.path.slice(0, -'?eager'.length), namespace: 'eager' }));
    builder.onLoad({ filter: /.*/, namespace: 'eager' }, (args) => ({
      contents: readFileSync(args.path, 'utf8'),
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

await build({
  ...common,
  entryPoints: ['src/prelude/prelude.js'],
  outfile: 'dist/prelude.js',
  globalName: 'javascriptdPrelude',
  plugins: [onDemandModule, lazyStringWidth],
});

await build({
  ...common,
  entryPoints: ['src/prelude-library/library.js'],
  outfile: 'dist/library.js',
  globalName: 'javascriptdLibrary',
  plugins: [sesModule],
});
