// runtime.execute, rule by rule, against the real daemon over a real WebSocket.
import assert from 'node:assert/strict';
import { type Reply, TestClient } from './helpers/client.js';
import { useDaemon } from './helpers/daemon.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';

describe('runtime.execute', () => {
  let client: TestClient;

  const daemon = useDaemon({ TIMEOUT: '2000' });
  before(async () => {
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
  });

  function value(reply: Reply): unknown {
    assert.equal(reply.error, undefined, `expected a value, got ${JSON.stringify(reply.error)}`);
    return reply.payload?.value;
  }

  function error(reply: Reply): NonNullable<Reply['error']> {
    assert.ok(reply.error, `expected an error, got ${JSON.stringify(reply.payload)}`);
    return reply.error;
  }

  describe('1. every execution gets a fresh context', () => {
    // Timers left behind: see 8.
    it('does not see globals or prototype changes left by an earlier execution', async () => {
      await client.execute({ code: 'leaked = 1; var alsoLeaked = 2; Array.prototype.tainted = true; Object.prototype.x = 1; 1' });
      const reply = await client.execute({
        code: '[typeof leaked, typeof alsoLeaked, [].tainted, ({}).x]',
      });
      assert.deepEqual(value(reply), ['undefined', 'undefined', null, null]);
    });

    it('does not share state between executions running at the same time', async () => {
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          client.execute({ code: `globalThis.n = (globalThis.n || 0) + ${i}; new Promise(r => setTimeout(() => r(globalThis.n), 5))` }),
        ),
      );
      assert.deepEqual(
        replies.map(value),
        Array.from({ length: 10 }, (_, i) => i),
      );
    });

    it('has a Symbol.for registry of its own, which behaves as the standard one within the execution', async () => {
      const reply = await client.execute({
        code: '[Symbol.for("a") === Symbol.for("a"), Symbol.keyFor(Symbol.for("k")), Symbol.keyFor(Symbol("n")) === undefined, Symbol.for("d").description]',
      });
      assert.deepEqual(value(reply), [true, 'k', true, 'd']);
    });

    it('runs FinalizationRegistry callbacks within their own execution only (and has no Atomics.waitAsync)', async () => {
      const reply = await client.execute({
        code: `function h(cb) {
          const registry = new FinalizationRegistry((held) => cb(held + " collected, " + typeof Atomics.waitAsync));
          (() => registry.register({}, "object"))();
          const junk = [];
          setInterval(() => { for (let i = 0; i < 50; i++) junk.push(new Array(1e4)); if (junk.length > 1000) junk.length = 0; }, 1);
        }`,
        call: 'h',
      });
      assert.equal(value(reply), 'object collected, undefined');
    });
  });

  describe('2. globals', () => {
    it('makes every own key of globals a global, JSON values intact', async () => {
      const globals = { event: { action: 'opened', number: 7 }, list: [1, 'two', null], flag: false, n: 0, s: '' };
      const reply = await client.execute({ code: '[event.action, event.number, list, flag, n, s, typeof globalThis.event]', globals });
      assert.deepEqual(value(reply), ['opened', 7, [1, 'two', null], false, 0, '', 'object']);
    });

    it('defines a "__proto__" key as a global instead of changing the global prototype', async () => {
      const reply = await client.execute({
        code: '[Object.getOwnPropertyDescriptor(globalThis, "__proto__").value.a, typeof Object.getPrototypeOf(globalThis).a]',
        globals: JSON.parse('{"__proto__": {"a": 1}}'),
      });
      assert.deepEqual(value(reply), [1, 'undefined']);
    });
  });

  describe('3. call', () => {
    it('calls the named global function', async () => {
      const reply = await client.execute({ code: 'function handler(cb) { cb("called"); }', call: 'handler' });
      assert.equal(value(reply), 'called');
    });

    it('finds a top-level const/let function too', async () => {
      const reply = await client.execute({ code: 'const handler = (cb) => cb("lexical");', call: 'handler' });
      assert.equal(value(reply), 'lexical');
    });

    it('answers 1001 Not implemented when call names nothing', async () => {
      const err = error(await client.execute({ code: 'console.log("before")', call: 'missing' }));
      assert.equal(err.code, 1001);
      assert.equal(err.message, 'Not implemented');
      assert.deepEqual(err.data?.console, ['before']);
    });

    it('answers 1001 when call names something that is not a function, with no data when nothing was printed (as the original)', async () => {
      const err = error(await client.execute({ code: 'var notAFunction = 5; const alsoNot = {};', call: 'notAFunction' }));
      assert.deepEqual(err, { code: 1001, message: 'Not implemented' });
      assert.equal(error(await client.execute({ code: 'const alsoNot = {};', call: 'alsoNot' })).code, 1001);
    });
  });

  describe('4. caller', () => {
    it('uses function (callee, cb) { callee(cb); } by default', async () => {
      const reply = await client.execute({
        code: 'function h() { return arguments.length === 1 && typeof arguments[0] === "function" ? arguments[0]("ok") : null }',
        call: 'h',
      });
      assert.equal(value(reply), 'ok');
    });

    it('evaluates caller in the context and calls it with (callee, cb)', async () => {
      const reply = await client.execute({
        code: 'const prefix = "pr"; function h(event, cb) { cb(prefix + ":" + event.action); }',
        call: 'h',
        caller: 'function (callee, cb) { callee(event, cb); }',
        globals: { event: { action: 'opened' } },
      });
      assert.equal(value(reply), 'pr:opened');
    });

    it('reports an exception thrown in caller as 1000', async () => {
      const err = error(
        await client.execute({
          code: 'function h(cb) { cb(1) }',
          call: 'h',
          caller: 'function (callee, cb) { throw new RangeError("in caller"); }',
        }),
      );
      assert.equal(err.code, 1000);
      assert.equal(err.message, 'RangeError: in caller');
      assert.match(String(err.data?.stack), /caller\.js/);
    });

    it('reports a caller with a syntax error, or that is not a function, as 1000', async () => {
      const syntax = error(await client.execute({ code: 'function h(cb) { cb(1) }', call: 'h', caller: 'function (callee, cb) {' }));
      assert.equal(syntax.code, 1000);
      assert.match(syntax.message, /^SyntaxError: /);
      const notFunction = error(await client.execute({ code: 'function h(cb) { cb(1) }', call: 'h', caller: '42' }));
      assert.equal(notFunction.code, 1000);
      assert.match(notFunction.message, /caller must be the source of a function expression/);
    });
  });

  describe('5. the value', () => {
    it('is the first argument of the first cb call', async () => {
      const reply = await client.execute({ code: 'function h(cb) { cb("first", "ignored"); cb("second"); }', call: 'h' });
      assert.equal(value(reply), 'first');
    });

    it('turns undefined into null and keeps falsy values', async () => {
      const results = await Promise.all(
        ['undefined', 'false', '0', '""', 'null'].map((v) => client.execute({ code: `function h(cb) { cb(${v}) }`, call: 'h' })),
      );
      assert.deepEqual(results.map(value), [null, false, 0, '', null]);
      assert.equal(value(await client.execute({ code: 'function h(cb) { cb() }', call: 'h' })), null);
    });

    it('is the resolved value when the callee returns a promise and never calls cb', async () => {
      const reply = await client.execute({
        code: 'async function h(cb) { await new Promise(r => setTimeout(r, 5)); return { resolved: true }; }',
        call: 'h',
      });
      assert.deepEqual(value(reply), { resolved: true });
    });

    it('prefers cb when it is called before the promise resolves', async () => {
      const reply = await client.execute({ code: 'async function h(cb) { cb("from cb"); return "from promise"; }', call: 'h' });
      assert.equal(value(reply), 'from cb');
    });

    it('is the completion value of code without call, awaited if a promise', async () => {
      assert.deepEqual(value(await client.execute({ code: 'const a = 20; a + 22' })), 42);
      assert.deepEqual(value(await client.execute({ code: '(async () => { await null; return [1, 2]; })()' })), [1, 2]);
    });

    it('arrives after timers when cb is called later', async () => {
      const reply = await client.execute({
        code: 'function h(cb) { let n = 0; const t = setInterval(() => { if (++n === 3) { clearInterval(t); cb(n); } }, 2); }',
        call: 'h',
      });
      assert.equal(value(reply), 3);
    });
  });

  describe('6. console and time', () => {
    it('captures every console method, arguments joined by a space, objects rendered readably', async () => {
      const reply = await client.execute({
        code: [
          'console.log("a", 1, true, null, undefined);',
          'console.info({ x: 1, y: [1, "two"] });',
          'console.warn("%s is %d years", "Bob", 42);',
          'console.error(new Map([["k", 1]]));',
          'console.debug([1, [2, [3, [4, [5]]]]]);',
          'class Point { constructor() { this.x = 1; } }',
          'console.log(new Point(), function named() {}, 10n, Symbol("s"));',
          '1',
        ].join('\n'),
      });
      assert.deepEqual(reply.payload?.console, [
        'a 1 true null undefined',
        "{ x: 1, y: [ 1, 'two' ] }",
        'Bob is 42 years',
        "Map (1) {'k' => 1}",
        '[ 1, [ 2, [ 3, [Array] ] ] ]',
        'Point { x: 1 } [Function: named] 10n Symbol(s)',
      ]);
    });

    it('prints an Error with its stack, as Node does', async () => {
      const reply = await client.execute({ code: 'console.log(new TypeError("shown")); 1' });
      assert.match(reply.payload?.console[0] ?? '', /^TypeError: shown\n {4}at script\.js:1:13/);
    });

    it('reports time as the duration in ms', async () => {
      const reply = await client.execute({ code: 'function h(cb) { setTimeout(() => cb(1), 30); }', call: 'h' });
      const time = reply.payload?.time ?? -1;
      assert.ok(time >= 29, `time ${time} should cover the 30 ms timer`);
    });
  });

  describe('7. errors', () => {
    it('answers 1000 for a synchronous exception with name, stack and console', async () => {
      const err = error(await client.execute({ code: 'console.log("before"); undefinedFunction()' }));
      assert.equal(err.code, 1000);
      assert.equal(err.message, 'ReferenceError: undefinedFunction is not defined');
      assert.equal(err.data?.name, 'ReferenceError');
      assert.match(String(err.data?.stack), /^ReferenceError: undefinedFunction is not defined\n {4}at script\.js:1:24$/);
      assert.deepEqual(err.data?.console, ['before']);
    });

    it('answers 1000 for "x is not a function" in the callee', async () => {
      const err = error(await client.execute({ code: 'function h(cb) { const x = 1; x(); }', call: 'h' }));
      assert.equal(err.message, 'TypeError: x is not a function');
    });

    it('answers 1000 for an exception in a timer', async () => {
      const err = error(
        await client.execute({ code: 'function h(cb) { setTimeout(() => { throw new Error("in timer"); }, 5); }', call: 'h' }),
      );
      assert.equal(err.code, 1000);
      assert.equal(err.message, 'Error: in timer');
    });

    it('answers 1000 for an unhandled rejection', async () => {
      const err = error(await client.execute({ code: 'function h(cb) { Promise.reject(new TypeError("nobody caught me")); }', call: 'h' }));
      assert.equal(err.code, 1000);
      assert.equal(err.message, 'TypeError: nobody caught me');
    });

    it('answers 1000 for a rejection inside a timer', async () => {
      const err = error(
        await client.execute({ code: 'function h(cb) { setTimeout(async () => { throw new Error("async in timer"); }, 5); }', call: 'h' }),
      );
      assert.equal(err.code, 1000);
      assert.equal(err.message, 'Error: async in timer');
    });

    it('answers 1000 for a rejected promise returned by the callee', async () => {
      const err = error(await client.execute({ code: 'async function h(cb) { throw new SyntaxError("bad input"); }', call: 'h' }));
      assert.equal(err.message, 'SyntaxError: bad input');
    });

    it('answers 1000 for a thrown non-Error value', async () => {
      const err = error(await client.execute({ code: 'function h(cb) { throw { reason: "plain object" }; }', call: 'h' }));
      assert.equal(err.code, 1000);
      assert.equal(err.message, "Error: Uncaught { reason: 'plain object' }");
    });

    it('answers 1000 for a syntax error in code', async () => {
      const err = error(await client.execute({ code: 'function (' }));
      assert.equal(err.code, 1000);
      assert.equal(err.data?.name, 'SyntaxError');
      assert.match(err.message, /^SyntaxError: /);
    });

    it('answers 1002 Timeout for a busy loop, with the console so far', async () => {
      const err = error(await client.execute({ code: 'console.log("started"); while (true) {}', timeout: 200 }));
      assert.equal(err.code, 1002);
      assert.equal(err.message, 'Timeout');
      assert.deepEqual(err.data?.console, ['started']);
      assert.equal(err.data?.timeout, 200);
    });

    it('answers 1002 when cb is never called but a timer is still pending; data only when something was printed', async () => {
      // A limit a loaded machine runs the script's first part well within: the line is printed before it.
      const silent = error(await client.execute({ code: 'function h(cb) { setTimeout(() => {}, 100000); }', call: 'h', timeout: 2500 }));
      assert.deepEqual(silent, { code: 1002, message: 'Timeout' });
      const printed = error(
        await client.execute({
          code: 'function h(cb) { console.log("waiting"); setTimeout(() => {}, 100000); }',
          call: 'h',
          timeout: 2500,
        }),
      );
      assert.deepEqual(printed.data, { timeout: 2500, reason: 'the time limit was reached', console: ['waiting'] });
    });

    it('answers 1002 at once when cb is never called and nothing is pending', async () => {
      const err = error(await client.execute({ code: 'function h(cb) { console.log("forgot cb"); }', call: 'h', timeout: 20000 }));
      assert.equal(err.code, 1002);
      assert.equal(err.data?.reason, 'the script returned without calling cb and has nothing pending');
      assert.deepEqual(err.data?.console, ['forgot cb']);
    });

    it('answers 1003 when the memory limit is exceeded, and serves on', async () => {
      const err = error(await client.execute({ code: 'const a = []; while (true) a.push(new Array(1e6).fill(1));', timeout: 10000 }));
      assert.equal(err.code, 1003);
      assert.equal(err.message, 'Memory limit exceeded');
      assert.equal(value(await client.execute({ code: '"alive"' })), 'alive');
    });
  });

  describe('8. nothing keeps running after the execution ends', () => {
    describe('timers and intervals', () => {
      // What a leftover timer does shows where it must reach: a request to a server of the test's.
      let server: TestServer;
      before(async () => {
        server = await startHttpServer({
          '/leftover': (_req, res) => res.end(),
          '/late': (_req, res) => res.end(),
          '/after': (_req, res) => res.end(),
        });
      });
      after(async () => {
        await server?.close();
      });
      // One sandbox, so that the later execution's timer runs on the same clock as the leftovers.
      const sandbox = useDaemon(() => ({ POOL_SIZE: '1', FETCH_ALLOW: `GET ${server.origin}/**` }));

      it('clears timers and intervals of a finished execution: they never run again', async () => {
        const own = await TestClient.connect(sandbox.url);
        try {
          const { origin } = server;
          const leaving = await own.execute({
            code: `function h(cb) { setInterval(() => fetch("${origin}/leftover"), 1); setTimeout(() => fetch("${origin}/late"), 50); cb(1); }`,
            call: 'h',
          });
          assert.equal(value(leaving), 1);
          // Its timer is due after the leftovers' would have been, in the same sandbox process.
          const later = await own.execute({
            code: `function h(cb) { setTimeout(() => fetch("${origin}/after").then(() => cb(2)), 200); }`,
            call: 'h',
          });
          assert.equal(value(later), 2);
          assert.deepEqual(
            server.seen.map((seen) => seen.url),
            ['/after'],
          );
        } finally {
          await own.close();
        }
      });
    });

    it('stops a busy loop that keeps running after cb was called', async () => {
      const started = Date.now();
      // One such script per pool isolate: if either kept looping, the next call would wait 20 s.
      const hostile = { code: 'function h(cb) { cb("answered"); while (true) {} }', call: 'h', timeout: 20000 };
      const replies = await Promise.all([client.execute(hostile), client.execute(hostile)]);
      assert.deepEqual(replies.map(value), ['answered', 'answered']);
      const after = await Promise.all([client.execute({ code: '1' }), client.execute({ code: '2' }), client.execute({ code: '3' })]);
      assert.deepEqual(after.map(value), [1, 2, 3]);
      assert.ok(Date.now() - started < 10000, 'the looping isolates were not stopped');
    });
  });

  describe('9. what a script can use', () => {
    it('runs modern JavaScript', async () => {
      const reply = await client.execute({
        code: `
          class Counter { #count = 0; inc() { return ++this.#count; } static of() { return new Counter(); } }
          const c = Counter.of(); c.inc();
          const big = 2n ** 64n;
          const { a, ...rest } = { a: 1, b: 2, c: 3 };
          const groups = /(?<year>\\d{4})/.exec('in 2026').groups.year;
          (async () => [c.inc(), String(big), rest, groups, [1, [2, [3]]].flat(Infinity), Object.groupBy([1, 2, 3], (n) => n % 2 ? 'odd' : 'even'), await Promise.resolve('awaited')])()`,
      });
      assert.deepEqual(value(reply), [2, '18446744073709551616', { b: 2, c: 3 }, '2026', [1, 2, 3], { odd: [1, 3], even: [2] }, 'awaited']);
    });

    it('has console, timers and queueMicrotask', async () => {
      const reply = await client.execute({
        code: `function h(cb) {
          const order = [];
          const cancelled = setTimeout(() => order.push('cancelled'), 1); clearTimeout(cancelled);
          setTimeout((x, y) => { order.push('timeout ' + x + y); cb(order); }, 10, 'a', 'b');
          queueMicrotask(() => order.push('microtask'));
          order.push('sync');
        }`,
        call: 'h',
      });
      assert.deepEqual(value(reply), ['sync', 'microtask', 'timeout ab']);
    });

    it('has no Node APIs, no import(), no WebAssembly', async () => {
      const reply = await client.execute({
        code: '[typeof process, typeof Buffer, typeof global, typeof module, typeof exports, typeof WebAssembly, typeof setImmediate]',
      });
      assert.deepEqual(value(reply), ['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
      const dynamicImport = error(await client.execute({ code: 'import("fs")' }));
      assert.equal(dynamicImport.code, 1000);
    });

    it('has require, which refuses every module for now', async () => {
      for (const name of ['fs', 'child_process', 'lodash', './local']) {
        const err = error(await client.execute({ code: `require(${JSON.stringify(name)})` }));
        assert.equal(err.code, 1000);
        assert.equal(err.message, `Error: module '${name}' is not allowed`);
      }
    });
  });

  describe('10. the result is copied out by the host', () => {
    it('is not affected by a replaced JSON', async () => {
      const reply = await client.execute({ code: 'JSON.stringify = () => "\\"forged\\""; JSON.parse = () => "forged"; ({ real: true })' });
      assert.deepEqual(value(reply), { real: true });
    });

    it('answers 1000 with a clear message for a cyclic result', async () => {
      const err = error(await client.execute({ code: 'const a = {}; a.self = a; a' }));
      assert.equal(err.code, 1000);
      assert.match(err.message, /^TypeError: result could not be serialized to JSON: Converting circular structure to JSON/);
    });

    it('answers 1000 for a BigInt result', async () => {
      const err = error(await client.execute({ code: '10n' }));
      assert.equal(err.code, 1000);
      assert.match(err.message, /result could not be serialized to JSON: Do not know how to serialize a BigInt/);
    });

    it('applies JSON rules to dates, functions and toJSON', async () => {
      const reply = await client.execute({ code: '({ d: new Date(0), f() {}, u: undefined, t: { toJSON() { return "custom"; } } })' });
      assert.deepEqual(value(reply), { d: '1970-01-01T00:00:00.000Z', t: 'custom' });
    });
  });
});
