// The execution engine: executions that wait hold no sandbox thread, their
// number is bounded by MAX_CONCURRENT (a quarter of it per connection), every
// execution keeps state of its own beside others in its sandbox, and an
// execution that brings its isolate down costs the others nothing.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Reply, TestClient } from './helpers/client.js';
import { executionCounts, metricSample, metricsText, useDaemon } from './helpers/daemon.js';
import { Gates, startHttpServer, type TestServer } from './helpers/http-server.js';
import { loadedBy } from './helpers/loaded.js';
import { until } from './helpers/poll.js';

/** Resolves with the replies in the order they arrived, each with the ms it took. */
async function arrivals(calls: { name: string; reply: Promise<Reply> }[]): Promise<{ name: string; reply: Reply; ms: number }[]> {
  const started = performance.now();
  const arrived: { name: string; reply: Reply; ms: number }[] = [];
  await Promise.all(calls.map(({ name, reply }) => reply.then((r) => arrived.push({ name, reply: r, ms: performance.now() - started }))));
  return arrived;
}

describe('the execution engine', function () {
  this.timeout(60000);

  describe('waiting costs nothing', () => {
    let server: TestServer;
    const gates = new Gates();
    before(async () => {
      server = await startHttpServer({ '/gate/*': gates.route });
    });
    const daemon = useDaemon(() => ({ POOL_SIZE: '2', MAX_CONCURRENT: '16', FETCH_ALLOW: `GET ${server.origin}/gate/*` }));
    after(async () => {
      await server?.close();
    });
    /** A script held at gate `gate` until the test releases it, then answering `value`. */
    const holder = (gate: string, value: unknown) => ({
      code: `async function h() { await fetch("${server.origin}/gate/${gate}"); return ${JSON.stringify(value)}; }`,
      call: 'h',
      timeout: 20000,
    });
    const atGate = (gate: string) => server.seen.filter((s) => s.url === `/gate/${gate}`).length;

    it('answers a call from a ninth client while eight others wait side by side on two sandbox threads, and all eight once released', async () => {
      const sleepers = await Promise.all(Array.from({ length: 8 }, () => TestClient.connect(daemon.url)));
      const light = await TestClient.connect(daemon.url);
      // Each sleeps, then waits at the gate: none can finish before the test releases them.
      const calls = sleepers.map((client, i) => ({
        name: `sleeper ${i}`,
        reply: client.execute({
          code: `async function h() { await new Promise((r) => setTimeout(r, 50)); await fetch("${server.origin}/gate/sleepers"); return ${i}; }`,
          call: 'h',
          // However long a busy machine takes to get all eight there (FETCH_TIMEOUT is 10 s).
          timeout: 20000,
        }),
      }));
      // All eight at the gate at once, with two sandbox threads: waiting held none of them.
      await until(() => server.seen.filter((s) => s.url === '/gate/sleepers').length === 8, 'all eight sleepers waiting at the gate');
      calls.push({ name: 'light', reply: light.execute({ code: '"light"' }) });
      const arriving = arrivals(calls);
      assert.equal((await calls.at(-1)!.reply).payload?.value, 'light');
      gates.release('sleepers');
      const arrived = await arriving;
      assert.equal(arrived[0].name, 'light', `${arrived.map((a) => a.name).join(', ')}`);
      assert.deepEqual(
        arrived
          .filter((a) => a.name !== 'light')
          .map((a) => a.reply.payload?.value)
          .sort(),
        Array.from({ length: 8 }, (_, i) => i),
      );
      await Promise.all([...sleepers, light].map((c) => c.close()));
    });

    it('runs at most MAX_CONCURRENT of a key at once, across connections, the rest waiting their turn', async () => {
      // Five connections of four each: a quarter of 16 per connection lets all 20 through, the key's cap only 16.
      const clients = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(daemon.url)));
      const replies = clients.flatMap((client, c) => Array.from({ length: 4 }, (_, i) => client.execute(holder('cap', `${c}.${i}`))));
      await until(async () => (await executionCounts(daemon)).queued === 4, 'four executions waiting in the queue');
      await until(() => atGate('cap') === 16, 'the sixteen running ones at the gate');
      assert.deepEqual(await executionCounts(daemon), { queued: 4, running: 16 }, 'the other four still wait in the queue');
      gates.release('cap');
      assert.deepEqual(
        (await Promise.all(replies)).map((reply) => reply.payload?.value),
        clients.flatMap((_, c) => Array.from({ length: 4 }, (_, i) => `${c}.${i}`)),
      );
      assert.equal(atGate('cap'), 20);
      await Promise.all(clients.map((client) => client.close()));
    });

    it('lets a connection run at most a quarter of MAX_CONCURRENT, while another connection is answered', async () => {
      const greedy = await TestClient.connect(daemon.url);
      const other = await TestClient.connect(daemon.url);
      const replies = Array.from({ length: 6 }, (_, i) => greedy.execute(holder('quarter', i)));
      await until(async () => (await executionCounts(daemon)).queued === 2, "the greedy connection's fifth and sixth waiting");
      assert.deepEqual(await executionCounts(daemon), { queued: 2, running: 4 });
      assert.equal((await other.execute({ code: '"other"' })).payload?.value, 'other');
      assert.deepEqual(await executionCounts(daemon), { queued: 2, running: 4 }, 'the greedy ones still wait');
      gates.release('quarter');
      assert.deepEqual(
        (await Promise.all(replies)).map((reply) => reply.payload?.value),
        [0, 1, 2, 3, 4, 5],
      );
      await Promise.all([greedy.close(), other.close()]);
    });
  });

  describe('fresh state beside other executions', () => {
    // One sandbox: every execution runs in it.
    const daemon = useDaemon(() => ({ POOL_SIZE: '1' }));

    it('lets no execution see what another running at the same time in its sandbox changes', async () => {
      const client = await TestClient.connect(daemon.url);
      const taint = `
        globalThis.leaked = 1; Array.prototype.tainted = 1; Object.prototype.polluted = 1;
        Symbol.for("shared").description; Error.stackTraceLimit = 0; /(a)(b)/.exec("ab");
        function h(cb) { setTimeout(() => cb("tainted"), 300); }`;
      const look = `function h(cb) { setTimeout(() => cb([
        typeof leaked, [].tainted, ({}).polluted, Symbol.keyFor(Symbol.for("k")) === "k" && Symbol.for("shared") !== undefined,
        Error.stackTraceLimit, RegExp.$1,
      ]), 100); }`;
      const tainting = Array.from({ length: 4 }, () =>
        client.execute({ code: `${taint}\nconsole.log("tainted")`, stream: true, call: 'h' }),
      );
      // Each has changed its globals and sleeps (its line streamed) before the others look.
      await until(() => client.streamed.length === 4, 'the four tainting scripts past their top level');
      const looking = await Promise.all(Array.from({ length: 4 }, () => client.execute({ code: look, call: 'h' })));
      for (const reply of looking) assert.deepEqual(reply.payload?.value, ['undefined', null, null, true, 10, '']);
      for (const reply of await Promise.all(tainting)) assert.equal(reply.payload?.value, 'tainted');
      await client.close();
    });
  });

  describe('faults contained', () => {
    const daemon = useDaemon({ POOL_SIZE: '1', MEMORY_LIMIT: '64', TIMEOUT: '10000' });

    it('answers 32 sleepers correctly, each run once, while a memory bomb and a wedging script of the same key lose only their own isolates', async () => {
      const client = await TestClient.connect(daemon.url);
      const sleepers = Array.from({ length: 32 }, (_, i) =>
        client.execute({
          code: `function h(cb) { console.log("sleeper", ${i}); setTimeout(() => cb(${i}), 800); }`,
          call: 'h',
          stream: true,
        }),
      );
      // All 32 asleep in the sandbox (their lines streamed) before the faults.
      const streamed = () => client.streamed.flatMap((s) => s.lines);
      await until(() => streamed().length === 32, 'the 32 sleepers started');
      const bomb = client.execute({ code: 'const a = []; for (;;) a.push(new Array(1e6).fill(0));' });
      const wedge = client.execute({ code: 'function h(cb) { cb("answered"); for (;;) {} }', call: 'h' });
      const [bombed, wedged] = await Promise.all([bomb, wedge]);
      assert.equal(bombed.error?.code, 1003);
      assert.equal(wedged.payload?.value, 'answered');
      const answers = await Promise.all(sleepers);
      assert.deepEqual(
        answers.map((reply) => reply.payload?.value ?? reply.error),
        Array.from({ length: 32 }, (_, i) => i),
      );
      for (const [i, reply] of answers.entries()) assert.deepEqual(reply.payload?.console, [`sleeper ${i}`]);
      // Run once each: a second run would have streamed its line again.
      assert.equal(streamed().length, 32);
      const metrics = await metricsText(daemon);
      const recycled = (reason: string) => metricSample(metrics, `javascriptd_isolates_recycled_total{key="default",reason="${reason}"}`);
      assert.deepEqual([recycled('memory-limit'), recycled('still-running')], [1, 1]);
      await client.close();
    });
  });

  describe('the sandbox process', () => {
    it("loads neither the daemon's settings (ajv) nor its bundler (esbuild)", () => {
      const dir = mkdtempSync(join(tmpdir(), 'javascriptd-executor-'));
      const options = {
        limits: {
          memoryLimitMb: 16,
          sandboxMemoryMb: 384,
          consoleLimitBytes: 100,
          resultLimitBytes: 100,
          resultDepth: 8,
          fetchMaxBytes: 0,
          fetchMaxRequests: 0,
        },
        modules: [],
        cacheDir: dir,
        logLevel: 'silent',
        noLogs: true,
        logFormat: 'json',
      };
      // Run as in a container (frames on stdin and stdout); closing stdin ends it, once it is up.
      const { loaded } = loadedBy([join(__dirname, '..', 'src', 'executor', 'main.js'), JSON.stringify(options)], { input: '' });
      assert.ok(
        loaded.some((file) => file.includes('isolated-vm')),
        'it did start',
      );
      assert.deepEqual(
        loaded.filter((file) =>
          /node_modules[\\/](ajv|esbuild|dockerode|prom-client|undici|pino-pretty)[\\/]|src[\\/](config|daemon|sandbox[\\/]module-bundler)\.js/.test(
            file,
          ),
        ),
        [],
      );
    });
  });
});
