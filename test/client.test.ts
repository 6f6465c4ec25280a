// javascriptd-client (packages/client; javascriptd/client in this repository)
// against the real daemon over a real WebSocket.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type Client, ConnectionError, connect, ErrorCode, ExecutionError } from 'javascriptd-client';
import { executionCounts, freePort, startDaemon, useDaemon } from './helpers/daemon.js';
import { Gates, startHttpServer, type TestServer } from './helpers/http-server.js';
import { until } from './helpers/poll.js';

const ROOT = join(__dirname, '..', '..');
const SECRET = 'client-test-secret';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the call to fail');
}

async function executionError(promise: Promise<unknown>, code: number): Promise<ExecutionError> {
  const error = await rejection(promise);
  assert.ok(error instanceof ExecutionError, `expected an ExecutionError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

describe('javascriptd-client', function () {
  this.timeout(30000);
  let rt: Client;
  let server: TestServer;
  const gates = new Gates();

  before(async () => {
    server = await startHttpServer({ '/gate/*': gates.route });
  });
  const daemon = useDaemon(() => ({
    SECRET,
    POOL_SIZE: '2',
    MEMORY_LIMIT: '16',
    RESULT_LIMIT: '1000',
    MAX_TIMEOUT: '5000',
    FETCH_ALLOW: `GET ${server.origin}/gate/*`,
  }));
  before(async () => {
    rt = await connect(daemon.url, { secret: SECRET });
  });

  after(async () => {
    await rt?.close();
    await server?.close();
  });

  it('resolves with value, console and time', async () => {
    const result = await rt.execute({
      code: 'function main(cb) { console.log("hi", who); cb({ greeting: `hello ${who}` }); }',
      call: 'main',
      globals: { who: 'ada' },
    });
    assert.deepEqual(result.value, { greeting: 'hello ada' });
    assert.deepEqual(result.console, ['hi ada']);
    assert.ok(typeof result.time === 'number' && result.time > 0);
  });

  it('passes caller and timeout through', async () => {
    const result = await rt.execute({
      code: 'function add(a, b, cb) { cb(a + b); }',
      call: 'add',
      caller: '(callee, cb) => callee(2, 3, cb)',
      timeout: 1000,
    });
    assert.equal(result.value, 5);
  });

  it('rejects with a typed ExecutionError for each error code', async () => {
    const thrown = await executionError(rt.execute({ code: 'console.log("before"); throw new RangeError("bad")' }), ErrorCode.Exception);
    assert.equal(thrown.message, 'RangeError: bad');
    assert.deepEqual(thrown.console, ['before']);
    assert.match(thrown.scriptStack ?? '', /RangeError: bad\n\s+at script\.js/);
    await executionError(rt.execute({ code: '1', call: 'nope' }), ErrorCode.NotImplemented);
    const timeout = await executionError(rt.execute({ code: 'console.log("spinning"); while (true) {}', timeout: 50 }), ErrorCode.Timeout);
    assert.equal(timeout.data?.timeout, 50);
    await executionError(rt.execute({ code: 'const a = []; while (true) a.push(new Array(100000).fill(1));' }), ErrorCode.MemoryLimit);
    await executionError(rt.execute({ code: '"x".repeat(5000)' }), ErrorCode.ResultTooLarge);
    await executionError(rt.execute({ code: '1', timeout: 60000 }), ErrorCode.InvalidParams);
  });

  it('keeps many calls in flight on one connection, each answered with its own value', async () => {
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, n) =>
        rt.execute({ code: 'function f(cb) { setTimeout(() => cb(n * n), n % 7); }', call: 'f', globals: { n } }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.value),
      Array.from({ length: 60 }, (_, n) => n * n),
    );
  });

  it('aborts a call with an AbortSignal or timeoutMs; other calls are not affected', async () => {
    const before = daemon.logs().length;
    const controller = new AbortController();
    const slow = rt.execute({ code: 'function f(cb) { setTimeout(() => cb("late"), 300); }', call: 'f' }, { signal: controller.signal });
    const other = rt.execute({ code: '"other"' });
    controller.abort();
    const aborted = await rejection(slow);
    assert.ok(aborted instanceof DOMException && aborted.name === 'AbortError', String(aborted));
    assert.equal((await other).value, 'other');
    const timedOut = await rejection(
      rt.execute({ code: 'function f(cb) { setTimeout(() => cb("late"), 300); }', call: 'f' }, { timeoutMs: 50 }),
    );
    assert.ok(timedOut instanceof DOMException && timedOut.name === 'TimeoutError', String(timedOut));
    const already = await rejection(rt.execute({ code: '1' }, { signal: AbortSignal.abort() }));
    assert.ok(already instanceof DOMException && already.name === 'AbortError');
    // With both, whichever comes first.
    const both = await rejection(
      rt.execute(
        { code: 'function f(cb) { setTimeout(() => cb("late"), 300); }', call: 'f' },
        { signal: new AbortController().signal, timeoutMs: 50 },
      ),
    );
    assert.ok(both instanceof DOMException && both.name === 'TimeoutError', String(both));
    const first = new AbortController();
    const aborting = rt.execute(
      { code: 'function f(cb) { setTimeout(() => cb("late"), 300); }', call: 'f' },
      { signal: first.signal, timeoutMs: 5000 },
    );
    first.abort();
    const byHand = await rejection(aborting);
    assert.ok(byHand instanceof DOMException && byHand.name === 'AbortError', String(byHand));
    // The four sent were cancelled in the daemon: their replies (1007) came on this connection ahead of the next one's, and were dropped.
    const cancelled = () =>
      daemon
        .logs()
        .slice(before)
        .filter((line) => line.msg === 'execution' && line.code === ErrorCode.Cancelled).length;
    await until(() => cancelled() === 4, 'the daemon answering the four abandoned calls');
    assert.equal((await rt.execute({ code: '2' })).value, 2);
  });

  it('stops the execution in the daemon when its AbortSignal aborts (runtime.cancel): a busy loop ends long before its time limit', async () => {
    const controller = new AbortController();
    const before = daemon.logs().length;
    const code = 'function f(cb) { console.log("spinning"); for (;;) {} }';
    // Its own log line, by its code's hash: the executions the test before abandoned may log meanwhile.
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
    const spinning = rt.execute({ code, call: 'f', timeout: 5000 }, { signal: controller.signal, onConsole: () => controller.abort() });
    const aborted = await rejection(spinning);
    assert.ok(aborted instanceof DOMException && aborted.name === 'AbortError', String(aborted));
    const logged = () =>
      daemon
        .logs()
        .slice(before)
        .find((line) => line.msg === 'execution' && line.hash === hash);
    await until(() => logged() !== undefined, 'the log line of the cancelled execution');
    assert.equal(logged()?.code, ErrorCode.Cancelled);
  });

  it('hands console lines to onConsole as they are printed, and the result still has them all', async () => {
    const seen: string[] = [];
    const running = rt.execute(
      {
        code: `async function f() { console.log("line", 1); console.log("line", 2); await fetch("${server.origin}/gate/onConsole"); console.log("line", 3); return 3; }`,
        call: 'f',
        timeout: 5000,
      },
      { onConsole: (line) => seen.push(line) },
    );
    // The script waits at its gate until its first two lines have been handed over: they came as they were printed.
    await until(() => seen.length === 2, 'the lines printed before the script waits');
    assert.deepEqual(seen, ['line 1', 'line 2']);
    gates.release('onConsole');
    const result = await running;
    assert.deepEqual(seen, ['line 1', 'line 2', 'line 3']);
    assert.deepEqual(result.console, seen);
    assert.equal(result.usage, undefined, 'no usage unless asked');
  });

  it("returns usage when the script asks for it, and in an error's data", async () => {
    const result = await rt.execute({ code: 'console.log("ab"); 1', usage: true });
    assert.equal(result.usage?.consoleBytes, 3);
    assert.ok((result.usage?.cpuMs ?? -1) >= 0 && (result.usage?.wallMs ?? -1) >= 0);
    const timedOut = await executionError(rt.execute({ code: 'for (;;) {}', timeout: 100, usage: true }), ErrorCode.Timeout);
    // Some CPU, at most its wall time: how much a loop stopped at 100 ms got depends on how busy the machine is.
    const usage = timedOut.data?.usage as { cpuMs: number; wallMs: number } | undefined;
    assert.ok(usage !== undefined && usage.cpuMs > 0 && usage.cpuMs <= usage.wallMs + 5, JSON.stringify(usage));
  });

  it('refuses to connect with a wrong secret (401) or to nothing listening', async () => {
    const refused = await rejection(connect(daemon.url, { secret: 'not-the-secret-4711' }));
    assert.ok(refused instanceof ConnectionError);
    assert.equal(refused.reason, 'refused');
    assert.equal(refused.status, 401);
    assert.ok(!refused.message.includes('not-the-secret-4711'), 'the secret is not repeated in errors');
    const nobody = await rejection(connect(`ws://127.0.0.1:${await freePort()}/`));
    assert.ok(nobody instanceof ConnectionError);
    assert.equal(nobody.reason, 'connect-failed');
  });

  it('closes cleanly: waits for calls in flight, then refuses new ones', async () => {
    const own = await connect(daemon.url, { secret: SECRET });
    const inFlight = own.execute({ code: 'function f(cb) { setTimeout(() => cb("done"), 100); }', call: 'f' });
    await own.close();
    assert.equal((await inFlight).value, 'done');
    assert.equal(own.connected, false);
    const closed = await rejection(own.execute({ code: '1' }));
    assert.ok(closed instanceof ConnectionError && closed.reason === 'closed');
  });

  it('works from plain JavaScript in this repository, as javascriptd-client or javascriptd/client, required or imported, with its types published', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    };
    assert.ok(existsSync(join(ROOT, pkg.exports['./client'].types)), 'the declarations are built');
    for (const name of ['javascriptd-client', 'javascriptd/client']) {
      const run = `async (rt) => { const r = await rt.execute({ code: '6 * 7' }); await rt.close(); console.log(JSON.stringify(r.value)); }`;
      const programs = [
        [
          '-e',
          `const { connect } = require('${name}');\nconnect(process.argv[1], { secret: process.env.SECRET }).then(${run}).catch((e) => { console.error(e); process.exit(1); });`,
        ],
        [
          '--input-type=module',
          '-e',
          `import { connect, ExecutionError } from '${name}';\nimport { createRequire } from 'node:module';\nif (createRequire(process.cwd() + '/')('${name}').ExecutionError !== ExecutionError) throw new Error('two ExecutionError classes');\nawait connect(process.argv[1], { secret: process.env.SECRET }).then(${run});`,
        ],
      ];
      for (const args of programs) {
        const child = spawnSync(process.execPath, [...args, daemon.url], {
          cwd: ROOT,
          env: { PATH: process.env.PATH, SECRET },
          encoding: 'utf8',
        });
        assert.equal(child.status, 0, `${name} ${args[0]}: ${child.stderr}`);
        assert.equal(child.stdout.trim(), '42');
      }
    }
  });
});

describe('javascriptd-client across daemon restarts', function () {
  this.timeout(60000);

  it('rejects with 1004 when the daemon is busy and 1006 once it is shutting down', async () => {
    const daemon = await startDaemon({ MAX_CONCURRENT: '1', QUEUE_LIMIT: '0' });
    const rt = await connect(daemon.url, { reconnect: false });
    try {
      const slow = rt.execute({ code: 'function f(cb) { setTimeout(() => cb("slow"), 400); }', call: 'f' });
      await executionError(rt.execute({ code: '1' }), ErrorCode.Busy);
      daemon.process.kill('SIGTERM');
      await until(() => daemon.logs().some((line) => line.msg === 'shutting down'), 'the daemon shutting down');
      await executionError(rt.execute({ code: '1' }), ErrorCode.ShuttingDown);
      assert.equal((await slow).value, 'slow', 'the call in flight is still answered');
    } finally {
      await rt.close();
      await daemon.stop();
    }
  });

  it('reconnects with backoff after a restart; a call made while the daemon is down waits and succeeds', async () => {
    const port = await freePort();
    let daemon = await startDaemon({ PORT: String(port) });
    const rt = await connect(daemon.url, { reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    const events: string[] = [];
    rt.on('disconnect', () => events.push('disconnect'));
    rt.on('reconnect', () => events.push('reconnect'));
    try {
      assert.equal((await rt.execute({ code: '1' })).value, 1);
      await daemon.stop();
      const waiting = rt.execute({ code: '2' });
      // While the daemon is down the client keeps trying: a stand-in on its port counts the attempts, and drops them.
      let attempts = 0;
      const standIn = createServer((socket) => {
        attempts++;
        socket.destroy();
      }).listen(port, '127.0.0.1');
      await until(() => attempts >= 2, 'two attempts to reconnect');
      await new Promise((resolve) => standIn.close(resolve));
      daemon = await startDaemon({ PORT: String(port) });
      assert.equal((await waiting).value, 2);
      assert.equal((await rt.execute({ code: '3' })).value, 3);
      assert.deepEqual(events, ['disconnect', 'reconnect']);
    } finally {
      await rt.close();
      await daemon.stop();
    }
  });

  it('fails a call whose daemon dies under it with connection-lost, or resends it when asked to', async () => {
    const port = await freePort();
    let daemon = await startDaemon({ PORT: String(port) });
    const once = await connect(daemon.url, { reconnect: false });
    const resending = await connect(daemon.url, { resendUnanswered: true, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    try {
      const slow = { code: 'function f(cb) { setTimeout(() => cb("survived"), 500); }', call: 'f' };
      const lost = rejection(once.execute(slow));
      const resent = resending.execute(slow);
      await until(async () => (await executionCounts(daemon)).running === 2, 'both calls running in the daemon');
      await daemon.stop('SIGKILL');
      const error = await lost;
      assert.ok(error instanceof ConnectionError && error.reason === 'connection-lost', String(error));
      daemon = await startDaemon({ PORT: String(port) });
      assert.equal((await resent).value, 'survived');
    } finally {
      await once.close();
      await resending.close();
      await daemon.stop();
    }
  });
});
