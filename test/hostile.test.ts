// Hostile scripts are ordinary traffic: each gets a coded reply, and a normal
// call succeeds right after it on the same daemon.
import assert from 'node:assert/strict';
import { TestClient } from './helpers/client.js';
import { useDaemon } from './helpers/daemon.js';

interface Case {
  name: string;
  code: string;
  call?: string;
  /** Acceptable error codes. */
  codes: number[];
  message?: RegExp;
  /** Memory bombs need longer than TIMEOUT to reach the limit on a busy machine. */
  timeout?: number;
  /** With no codes: the value expected, and the console if it printed. */
  value?: unknown;
  console?: string[];
}

const CASES: Case[] = [
  { name: 'while(true){}', code: 'while (true) {}', codes: [1002] },
  { name: 'a busy loop in a timer', code: 'function h(cb) { setTimeout(() => { for (;;) {} }, 1); }', call: 'h', codes: [1002] },
  { name: 'an array memory bomb', code: 'const a = []; for (;;) a.push(new Array(1e6).fill(0));', timeout: 10000, codes: [1003] },
  { name: 'an object memory bomb', code: 'const a = []; for (let i = 0; ; i++) a.push({ i, s: "x" + i });', timeout: 10000, codes: [1003] },
  {
    name: 'a string memory bomb',
    code: 'let s = "x"; for (;;) s += s;',
    timeout: 10000,
    codes: [1000, 1003],
    message: /RangeError: Invalid string length|Memory limit/,
  },
  {
    name: 'a string array memory bomb',
    code: 'const a = []; for (let i = 0; ; i++) a.push(String(i).repeat(1e5));',
    timeout: 10000,
    codes: [1003],
  },
  {
    name: 'an ArrayBuffer memory bomb',
    code: 'const a = []; for (;;) a.push(new ArrayBuffer(1e7));',
    timeout: 10000,
    codes: [1000, 1003],
    message: /RangeError: Array buffer allocation failed|Memory limit/,
  },
  {
    name: 'a typed array memory bomb',
    code: 'const a = []; for (;;) a.push(new Float64Array(1e6).fill(1));',
    timeout: 10000,
    codes: [1000, 1003],
  },
  {
    name: 'a WebAssembly memory bomb',
    code: 'const m = []; for (;;) m.push(new WebAssembly.Memory({ initial: 1000 }));',
    codes: [1000],
    message: /ReferenceError: WebAssembly is not defined/,
  },
  { name: 'an infinite microtask chain', code: 'function f() { Promise.resolve().then(f); } f();', codes: [1002] },
  { name: 'an infinite await loop', code: '(async () => { for (;;) await null; })()', codes: [1002] },
  { name: 'a zero-delay timer storm', code: 'function h(cb) { const f = () => setTimeout(f, 0); f(); }', call: 'h', codes: [1002] },
  {
    name: 'too many pending timers',
    code: 'function h(cb) { for (let i = 0; i < 20000; i++) setTimeout(() => {}, 100000); }',
    call: 'h',
    codes: [1000],
    message: /pending timers/,
  },
  { name: 'a catastrophic regexp', code: '/(a+)+$/.test("a".repeat(50) + "!")', codes: [1002] },
  { name: 'Atomics.wait forever', code: 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)', codes: [1002] },
  { name: 'a getter that loops forever on the result', code: '({ get x() { for (;;) {} } })', codes: [1002] },
  { name: 'a toJSON that loops forever', code: '({ toJSON() { for (;;) {} } })', codes: [1002] },
  { name: 'a Proxy that loops forever on the result', code: 'new Proxy({}, { ownKeys() { for (;;) {} } })', codes: [1002] },
  {
    name: 'a Proxy with every trap looping',
    code: 'new Proxy({}, new Proxy({}, { get() { return () => { for (;;) {} }; } }))',
    codes: [1002],
  },
  { name: 'a result with a huge getter', code: '({ get x() { return "z".repeat(50e6); } })', codes: [1003, 1005] },
  { name: 'a replaced JSON', code: 'JSON.stringify = () => { for (;;) {} }; JSON.parse = null; ({ a: 1 })', codes: [], value: { a: 1 } },
  {
    name: 'a tainted Array.prototype',
    code: 'for (const k of Object.getOwnPropertyNames(Array.prototype)) if (k !== "length") Array.prototype[k] = () => { throw new Error("tainted") }; Array.prototype[Symbol.iterator] = function* () { for (;;) {} }; function h(cb) { console.log("x", 1); cb([1, 2]); }',
    call: 'h',
    codes: [],
    value: [1, 2],
    console: ['x 1'],
  },
  {
    name: 'a tainted Promise.prototype',
    code: 'Promise.prototype.then = function () { for (;;) {} }; Promise.resolve = () => { for (;;) {} }; async function h(cb) { return "resolved"; }',
    call: 'h',
    codes: [],
    value: 'resolved',
  },
  {
    name: 'a tainted Function.prototype',
    code: 'Function.prototype.call = Function.prototype.apply = Function.prototype.bind = () => { for (;;) {} }; Reflect.apply = () => { for (;;) {} }; function h(cb) { setTimeout(() => cb("ok"), 1); }',
    call: 'h',
    codes: [],
    value: 'ok',
  },
  {
    name: 'a thrown object whose getters loop',
    code: 'throw { get message() { for (;;) {} }, get stack() { for (;;) {} }, get name() { for (;;) {} } }',
    codes: [1000, 1002],
  },
  { name: 'a thrown Proxy', code: 'throw new Proxy({}, { get() { for (;;) {} }, getPrototypeOf() { for (;;) {} } })', codes: [1000, 1002] },
  {
    name: 'a callee that throws an object whose getters loop',
    code: 'function h() { throw { get message() { for (;;) {} } }; }',
    call: 'h',
    codes: [1002],
  },
  {
    name: 'a rejection with looping getters',
    code: 'Promise.reject({ get message() { for (;;) {} }, get stack() { for (;;) {} } }); 1',
    codes: [1000, 1002],
  },
  { name: 'a rejected Proxy whose traps loop', code: 'Promise.reject(new Proxy({}, { get() { for (;;) {} } })); 1', codes: [1000, 1002] },
  {
    name: 'a rejected Proxy in a timer',
    code: 'function h(cb) { setTimeout(() => Promise.reject(new Proxy({}, { get() { for (;;) {} }, getPrototypeOf() { for (;;) {} } })), 1); }',
    call: 'h',
    codes: [1000, 1002],
  },
  {
    name: 'an Error subclass whose message getter loops',
    code: 'class E extends Error { get message() { for (;;) {} } } throw new E("x")',
    codes: [1000, 1002],
  },
  {
    name: 'Error.prepareStackTrace that loops',
    code: 'Error.prepareStackTrace = () => { for (;;) {} }; throw new Error("x")',
    codes: [1000],
    message: /^Error: x$/,
  },
  { name: 'a stack overflow', code: 'function f() { f(); } f()', codes: [1000], message: /RangeError: Maximum call stack size exceeded/ },
  {
    name: 'reaching the host through constructor',
    code: 'this.constructor.constructor("return process")().exit(1)',
    codes: [1000],
    message: /ReferenceError: process is not defined/,
  },
  {
    name: 'reaching the host through Function("return this")',
    code: 'Function("return this")().process.mainModule.require("child_process")',
    codes: [1000],
    message: /TypeError: Cannot read properties of undefined/,
  },
  {
    name: 'reaching the host through a timer callback',
    code: 'setTimeout.constructor("return process")().exit(1)',
    codes: [1000],
    message: /ReferenceError: process is not defined/,
  },
  {
    name: 'reaching the host through console',
    code: 'console.log.constructor("return this")().process.exit(1)',
    codes: [1000],
    message: /^TypeError: Cannot read properties of undefined \(reading 'exit'\)$/,
  },
  {
    name: 'reaching the host through a stack trace',
    code: 'Error.prepareStackTrace = (e, frames) => frames.map(f => f.getFunction()); new Error().stack.process.exit(1)',
    codes: [1000],
    message: /^TypeError: Cannot read properties of undefined \(reading 'exit'\)$/,
  },
  {
    name: "reaching the daemon's side through arguments.callee.caller",
    code: 'function h(cb) { cb(arguments.callee.caller); }',
    call: 'h',
    codes: [],
    value: null,
  },
  { name: 'eval of a host global', code: 'eval("process")', codes: [1000], message: /^ReferenceError: process is not defined$/ },
  { name: 'import() of a builtin', code: 'import("child_process")', codes: [1000], message: /^Error: Not supported$/ },
  {
    name: 'require of a builtin',
    code: 'require("child_process")',
    codes: [1000],
    message: /^Error: module 'child_process' is not allowed$/,
  },
  { name: 'require reached through eval', code: 'eval("require")("fs")', codes: [1000], message: /^Error: module 'fs' is not allowed$/ },
];

describe('hostile scripts', function () {
  this.timeout(60000);
  let client: TestClient;

  const daemon = useDaemon({ TIMEOUT: '500', MEMORY_LIMIT: '64', RESULT_LIMIT: '1048576' });
  before(async () => {
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.codes.length === 0 ? 'still gets the right result' : `gets ${c.codes.join(' or ')}`}, then a normal call succeeds`, async () => {
      const reply = await client.execute({ code: c.code, call: c.call, timeout: c.timeout });
      if (c.codes.length === 0) {
        assert.equal(reply.error, undefined, `expected a value, got ${JSON.stringify(reply.error)}`);
        assert.ok('value' in c, 'a case that expects no error names the value it expects');
        assert.deepEqual(reply.payload?.value, c.value);
        assert.deepEqual(reply.payload?.console, c.console ?? []);
      } else {
        assert.ok(reply.error, `expected an error, got ${JSON.stringify(reply.payload)}`);
        assert.ok(c.codes.includes(reply.error.code), `code ${reply.error.code} (${reply.error.message}) is not one of ${c.codes}`);
        if (c.message) assert.match(reply.error.message, c.message);
      }
      const normal = await client.execute({ code: 'function h(cb) { setTimeout(() => cb("normal"), 1); }', call: 'h' });
      assert.equal(normal.payload?.value, 'normal');
    });
  }

  it('returns the real values despite tainted builtins', async () => {
    const json = await client.execute({ code: 'JSON.stringify = () => "\\"forged\\""; ({ a: 1 })' });
    assert.deepEqual(json.payload?.value, { a: 1 });
    const array = await client.execute({
      code: 'Array.prototype.push = Array.prototype.join = Array.prototype.map = () => { throw new Error("tainted") }; function h(cb) { console.log("a", 1); cb([1, 2]); }',
      call: 'h',
    });
    assert.deepEqual(array.payload, { value: [1, 2], console: ['a 1'], time: array.payload?.time });
    const promise = await client.execute({
      code: 'Promise.prototype.then = () => { for (;;) {} }; async function h() { return "resolved"; }',
      call: 'h',
    });
    assert.equal(promise.payload?.value, 'resolved');
  });

  it('is still alive and serving after all of the above', async () => {
    const base = daemon.url.replace('ws://', 'http://');
    assert.equal((await fetch(new URL('/healthz', base))).status, 200);
    assert.equal(daemon.process.exitCode, null);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => client.execute({ code: `${i} * 2` })));
    assert.deepEqual(
      replies.map((r) => r.payload?.value),
      Array.from({ length: 10 }, (_, i) => i * 2),
    );
  });
});
