// ES module and TypeScript scripts against a real daemon: allowlisted imports
// (lodash, default and named; the ESM-only camelcase), top-level await, `call`
// naming an export, refused imports (static and dynamic), positions of errors
// mapped back to the source, over Duplex and JSON-RPC, from the typed client
// and from `javascriptd run`; and requests without the new fields answered
// exactly as before.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, connect, ExecutionError } from 'javascriptd-client';
import { type Reply, TestClient, within } from './helpers/client.js';
import { CLI, errorLogs, useDaemon } from './helpers/daemon.js';
import { esbuildService } from './helpers/esbuild-process.js';

const MODULE_PATH = join(__dirname, '..', '..', 'node_modules');

function value(reply: Reply): unknown {
  assert.equal(reply.error, undefined, JSON.stringify(reply.error));
  return reply.payload?.value;
}

function failure(reply: Reply, code = 1000): { code: number; message: string; data?: Record<string, unknown> } {
  assert.ok(reply.error !== undefined, `expected an error, got ${JSON.stringify(reply.payload)}`);
  assert.equal(reply.error.code, code, reply.error.message);
  return reply.error;
}

describe('ES module and TypeScript scripts', function () {
  this.timeout(30000);
  let client: TestClient;
  const cache = mkdtempSync(join(tmpdir(), 'javascriptd-modules-'));

  const daemon = useDaemon({ MODULES: 'lodash,camelcase', MODULE_PATH, MODULE_CACHE: cache });
  before(async () => {
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
    if (daemon !== undefined) assert.deepEqual(errorLogs(daemon), [], 'nothing failed inside the daemon');
  });

  describe('modules', () => {
    it('imports an allowlisted CommonJS package, default and named', async () => {
      const code =
        'import _ from "lodash";\nimport { chunk, VERSION } from "lodash";\nexport default [chunk([1, 2, 3], 2), _.VERSION === VERSION, VERSION];';
      assert.deepEqual(value(await client.execute({ code, module: true })), [[[1, 2], [3]], true, '4.18.1']);
    });

    it('imports an allowlisted ESM-only package', async () => {
      const code = 'import camelCase from "camelcase";\nexport default camelCase("foo-bar_baz");';
      assert.equal(value(await client.execute({ code, module: true })), 'fooBarBaz');
    });

    it('awaits at its top level, timers included, before its handler is called', async () => {
      const code =
        'const n = await new Promise((resolve) => setTimeout(() => resolve(20), 30));\nexport function handle(cb) { cb(n + 1); }';
      assert.equal(value(await client.execute({ code, module: true, call: 'handle' })), 21);
    });

    it('calls the default export, with the caller and globals as for a classic script; a returned promise is awaited', async () => {
      const code = 'export default async function (event) { await null; return event.n * 2; }';
      const caller = 'function (callee, cb) { return callee(event); }';
      assert.equal(value(await client.execute({ code, module: true, call: 'default', caller, globals: { event: { n: 21 } } })), 42);
    });

    it('without call, answers its default export (awaited), or null without one', async () => {
      assert.deepEqual(value(await client.execute({ code: 'export default Promise.resolve({ a: 1 });', module: true })), { a: 1 });
      assert.equal(value(await client.execute({ code: 'export const a = 1;', module: true })), null);
    });

    it('answers 1001 when call names no exported function', async () => {
      for (const call of ['missing', 'notAFunction', 'local', 'toString']) {
        const code = 'export const notAFunction = 1;\nfunction local(cb) { cb(1); }\nglobalThis.onGlobal = local;';
        failure(await client.execute({ code, module: true, call }), 1001);
      }
    });

    it('refuses an import of anything else with a 1000 naming the specifier, static or dynamic', async () => {
      for (const [code, specifier, at] of [
        ['import fs from "fs";', 'fs', '1:16'],
        ['\nimport { x } from "./local.js";', './local.js', '2:19'],
        ['export const p = import("child_process");', 'child_process', '1:25'],
        ['import "dayjs";', 'dayjs', '1:8'],
        ['import x from "lodash/fp";', 'lodash/fp', '1:15'],
        ['import p from "/etc/passwd";', '/etc/passwd', '1:15'],
        ['export const fs = require("node:fs");', 'node:fs', '1:27'],
      ]) {
        const error = failure(await client.execute({ code, module: true }));
        assert.equal(error.message, `Error: module '${specifier}' is not allowed [module.js:${at}]`, code);
      }
    });

    it('imports an allowlisted name dynamically; a computed name goes through require and fails the same way', async () => {
      assert.equal(
        value(await client.execute({ code: 'const _ = await import("lodash");\nexport default _.default.VERSION;', module: true })),
        '4.18.1',
      );
      const name = 'const name = ["lo", "dash"].join("");\nexport default (await import(name)).default.VERSION;';
      assert.equal(value(await client.execute({ code: name, module: true })), '4.18.1');
      const refused = failure(await client.execute({ code: 'const name = "f" + "s";\nexport default await import(name);', module: true }));
      assert.equal(refused.message, "Error: module 'fs' is not allowed");
    });

    it('fails with the error thrown at its top level, before or after an await, at the line it was thrown', async () => {
      const sync = failure(await client.execute({ code: 'export const a = 1;\nthrow new RangeError("at once");', module: true }));
      assert.equal(sync.message, 'RangeError: at once');
      assert.match(String(sync.data?.stack), /^RangeError: at once\n {4}at module\.js:2:7$/);
      const later = failure(
        await client.execute({ code: 'await new Promise((r) => setTimeout(r, 10));\n\nthrow new Error("later");', module: true }),
      );
      assert.match(String(later.data?.stack), /^Error: later\n {4}at module\.js:3:7$/);
    });

    it('answers 1002 at once when its top-level await can never end', async () => {
      // Its reason tells it from the time limit's ("the time limit was reached"); a console line makes the reply carry it.
      const never = failure(
        await client.execute({
          code: 'console.log("waiting");\nawait new Promise(() => {});\nexport default 1;',
          module: true,
          timeout: 5000,
        }),
        1002,
      );
      assert.equal(never.data?.reason, 'the script returned without calling cb and has nothing pending');
    });

    it('gets a fresh context, the same globals and limits as a classic script', async () => {
      await client.execute({ code: 'globalThis.leak = 1; export default 1;', module: true });
      const code = 'export default [typeof leak, typeof require, typeof process, typeof __javascriptdEnter, typeof WebAssembly];';
      assert.deepEqual(value(await client.execute({ code, module: true })), [
        'undefined',
        'function',
        'undefined',
        'undefined',
        'undefined',
      ]);
      failure(await client.execute({ code: 'for (;;) {}', module: true, timeout: 200 }), 1002);
      failure(await client.execute({ code: 'await null;\nwhile (true) {}', module: true, timeout: 200 }), 1002);
    });

    it("maps a handler's stack to the module's lines, leaving out the bundle's own code", async () => {
      const code =
        'import _ from "lodash";\n\nexport function handle() {\n  return _.map([1], () => {\n    throw new Error("inner");\n  });\n}';
      const error = failure(await client.execute({ code, module: true, call: 'handle' }));
      assert.equal(error.data?.stack, 'Error: inner\n    at module.js:5:11\n    at handle (module.js:4:12)');
    });

    it('answers a syntax error at its position', async () => {
      const error = failure(await client.execute({ code: 'export default 1;\nlet x = ;', module: true }));
      assert.equal(error.message, 'SyntaxError: Unexpected ";" [module.js:2:9]');
      assert.equal(error.data?.name, 'SyntaxError');
    });
  });

  describe('TypeScript', () => {
    it('runs a classic script: declarations stay globals call finds, the last expression is the value', async () => {
      const code =
        'interface Order { items: string[] }\nconst order: Order = { items: ["a", "b"] };\nfunction handle(cb: (total: number) => void): void { cb(order.items.length * 10); }\norder.items.length as number;';
      assert.equal(value(await client.execute({ code, typescript: true })), 2);
      assert.equal(value(await client.execute({ code, typescript: true, call: 'handle' })), 20);
    });

    it('runs code with type errors: types are stripped, not checked', async () => {
      const code = 'const n: number = "not a number";\nconst s: string = 42;\nn + s';
      assert.equal(value(await client.execute({ code, typescript: true })), 'not a number42');
    });

    it("points a thrown error's stack at the TypeScript lines and columns", async () => {
      const code =
        'type Id = number;\ninterface User {\n  id: Id;\n}\nenum Kind { A, B }\nfunction fail(user: User): never {\n    throw new Error(`user ${user.id} ${Kind.B}`);\n}\nfail({ id: 7 });';
      const error = failure(await client.execute({ code, typescript: true }));
      assert.equal(error.message, 'Error: user 7 1');
      assert.equal(error.data?.stack, 'Error: user 7 1\n    at fail (script.ts:7:11)\n    at script.ts:9:1');
    });

    it("maps a TypeScript module's stack, a handler called later", async () => {
      const code =
        'import { chunk } from "lodash";\n\nconst size: number = 2;\nexport function handle(cb: (v: unknown) => void): void {\n  setTimeout((): void => {\n      (null as unknown as { x: number }).x;\n  }, 1);\n}\nexport const parts = chunk([1], size);';
      const error = failure(await client.execute({ code, module: true, typescript: true, call: 'handle' }));
      assert.match(error.message, /^TypeError: Cannot read properties of null/);
      assert.match(String(error.data?.stack), /\n {4}at module\.ts:6:42$/);
    });

    it('answers a syntax error at its TypeScript position', async () => {
      const error = failure(await client.execute({ code: 'type T = string;\n\nlet x: T = ;', typescript: true }));
      assert.equal(error.message, 'SyntaxError: Unexpected ";" [script.ts:3:12]');
      assert.deepEqual(error.data, { name: 'SyntaxError', stack: 'SyntaxError: Unexpected ";" [script.ts:3:12]', console: [] });
    });

    it('is cached by hash: the same script again is answered without esbuild', async () => {
      const code = `const greeting: string = "hi ${randomUUID()}";\ngreeting.slice(0, 2)`;
      assert.equal(value(await client.execute({ code, typescript: true })), 'hi');
      // esbuild runs as a child process of the daemon: stopped, it could make nothing.
      const esbuild = esbuildService(daemon)?.pid;
      assert.ok(esbuild !== undefined, "esbuild's process, started by the first script");
      process.kill(esbuild, 'SIGSTOP');
      try {
        for (let i = 0; i < 3; i++)
          assert.equal(value(await within(client.execute({ code, typescript: true }), 5000, 'the cached script')), 'hi');
      } finally {
        process.kill(esbuild, 'SIGCONT');
      }
    });
  });

  describe('on the wire', () => {
    it('takes the fields in a raw Duplex frame, false and null meaning not given', async () => {
      const send = (id: string, payload: object) => {
        const reply = client.replyTo(id);
        client.send({ type: 'req', method: 'runtime.execute', id, payload });
        return reply;
      };
      assert.equal(value(await send('m1', { code: 'export default 6 * 7;', module: true, typescript: null })), 42);
      assert.equal(value(await send('m2', { code: '6 * 7', module: false, typescript: false })), 42);
      assert.equal((await send('m3', { code: '1', module: 'yes' })).error?.code, -32602);
    });

    it('takes the fields over JSON-RPC', async () => {
      const rpc = await TestClient.connect(daemon.url, { handshake: false });
      try {
        rpc.send({
          jsonrpc: '2.0',
          method: 'runtime.execute',
          params: { code: 'export function h(cb: (n: number) => void) { cb(5); }', module: true, typescript: true, call: 'h' },
          id: 1,
        });
        assert.deepEqual(JSON.parse(await rpc.next()).result.value, 5);
        rpc.send({ jsonrpc: '2.0', method: 'runtime.execute', params: [{ code: 'import "fs";', module: true }], id: 2 });
        assert.equal(JSON.parse(await rpc.next()).error.message, "Error: module 'fs' is not allowed [module.js:1:8]");
      } finally {
        await rpc.close();
      }
    });

    it('answers a request without the new fields exactly as before', async () => {
      client.send(
        '{"type":"req","method":"runtime.execute","id":7,"payload":{"code":"function h(cb) { console.log(\\"x\\"); cb([1, \\"a\\"]) }","call":"h"}}',
      );
      assert.match(await client.next(), /^\{"type":"rep","id":7,"payload":\{"value":\[1,"a"\],"console":\["x"\],"time":[0-9.]+\}\}$/);
      client.send('{"type":"req","method":"runtime.execute","id":8,"payload":{"code":"null.x"}}');
      assert.equal(
        await client.next(),
        '{"type":"rep","id":8,"error":{"code":1000,"message":"TypeError: Cannot read properties of null (reading \'x\')","data":{"name":"TypeError","stack":"TypeError: Cannot read properties of null (reading \'x\')\\n    at script.js:1:6","console":[]}}}',
      );
      client.send('{"type":"req","method":"runtime.execute","id":9,"payload":{"code":"let x = ;"}}');
      assert.equal(
        await client.next(),
        '{"type":"rep","id":9,"error":{"code":1000,"message":"SyntaxError: Unexpected token \';\' [script.js:1:9]","data":{"name":"SyntaxError","stack":"SyntaxError: Unexpected token \';\' [script.js:1:9]","console":[]}}}',
      );
    });
  });

  describe('from the typed client and the CLI', () => {
    let rt: Client;
    before(async () => {
      rt = await connect(daemon.url);
    });
    after(() => rt?.close());

    it('the client sends module and typescript', async () => {
      const result = await rt.execute({
        code: 'export default function handle(cb: (s: string) => void): void { cb("typed"); }',
        module: true,
        typescript: true,
        call: 'default',
      });
      assert.equal(result.value, 'typed');
      const error = await rt
        .execute({ code: 'const x: number = 1;\nthrow new Error("x" + x);', typescript: true })
        .catch((e: unknown) => e);
      assert.ok(error instanceof ExecutionError);
      assert.equal(error.scriptStack, 'Error: x1\n    at script.ts:2:7');
    });

    it('`javascriptd run` sends .ts as TypeScript, .mts and .mjs as modules, --module for any file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'javascriptd-esm-'));
      const run = (name: string, code: string, ...args: string[]) => {
        writeFileSync(join(dir, name), code);
        return spawnSync(process.execPath, ['--no-node-snapshot', CLI, 'run', join(dir, name), ...args], {
          env: { PATH: process.env.PATH, JAVASCRIPTD_URL: daemon.url },
          encoding: 'utf8',
          timeout: 20000,
        });
      };
      const ts = run('classic.ts', 'const n: number = 6;\nfunction h(cb: (v: number) => void) { cb(n * 7); }', '--call', 'h');
      assert.equal(ts.status, 0, ts.stderr);
      assert.equal(ts.stdout, '42\n');
      const mts = run('module.mts', 'import { chunk } from "lodash";\nexport default chunk([1, 2], 1) as number[][];');
      assert.equal(mts.stdout, '[\n  [\n    1\n  ],\n  [\n    2\n  ]\n]\n');
      const mjs = run('module.mjs', 'const word = await Promise.resolve("mjs");\nexport const h = (cb) => cb(word);', '--call', 'h');
      assert.equal(mjs.stdout, '"mjs"\n', mjs.stderr);
      const flagged = run('plain.js', 'export default await Promise.resolve("flagged");', '--module');
      assert.equal(flagged.stdout, '"flagged"\n');
      const thrown = run('throws.ts', 'const s: string = "a";\n\n  throw new Error(s);');
      assert.equal(thrown.status, 1);
      assert.match(thrown.stderr, /at \S*throws\.ts:3:9/);
    });
  });
});
