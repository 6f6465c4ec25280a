// Following an execution while it runs: its console lines as they are printed
// (stream), stopping it (runtime.cancel), and what it cost (usage) — over raw
// Duplex and JSON-RPC frames against a real daemon and a real HTTP server.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { type Reply, TestClient, within } from './helpers/client.js';
import { httpBase, startDaemon, useDaemon } from './helpers/daemon.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';

/** Prints `count` lines, one every `everyMs`, then calls cb with the count. */
const ticker = (count: number, everyMs: number) => ({
  code: `function h(cb) { let n = 0; const t = setInterval(() => { console.log("tick", ++n); if (n === ${count}) { clearInterval(t); cb(n); } }, ${everyMs}); }`,
  call: 'h',
});

describe('following an execution while it runs', () => {
  let server: TestServer;

  before(async () => {
    server = await startHttpServer({
      '/echo': (_req, res, body) => res.end(`echo:${body}`),
      // Never answers: a fetch to it is pending until it is aborted.
      '/hang': () => {},
    });
  });
  const daemon = useDaemon(() => ({
    POOL_SIZE: '1',
    TIMEOUT: '10000',
    FETCH_ALLOW: [`POST ${server.origin}/echo`, `GET ${server.origin}/hang`].join(', '),
  }));
  after(async () => {
    await server?.close();
  });

  describe('console lines as they are printed (stream: true)', () => {
    it('Duplex: sends each line as a more:true reply of the request id, the first within 300 ms, then the whole reply', async () => {
      const client = await TestClient.connect(daemon.url);
      const sent = performance.now();
      const reply = await client.execute({ ...ticker(10, 100), stream: true }, { ext: { trace: 't1' } });
      const lines = client.streamed.flatMap((s) => s.lines);
      assert.deepEqual(
        lines,
        Array.from({ length: 10 }, (_, i) => `tick ${i + 1}`),
      );
      assert.ok(client.streamed.every((s) => s.id === 1));
      const first = client.streamed[0].at - sent;
      assert.ok(first < 300, `the first line came after ${Math.round(first)} ms`);
      assert.ok(client.streamed.at(-1)!.at - client.streamed[0].at > 700, 'the lines came as they were printed, not all at the end');
      assert.deepEqual(reply.payload?.console, lines, 'the reply still carries every line');
      assert.equal(reply.payload?.value, 10);
      await client.close();
    });

    it('JSON-RPC: sends runtime.console notifications naming the request id, before the reply', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { ...ticker(3, 50), stream: true }, id: 'r1' });
      const reply = await client.replyTo('r1');
      assert.deepEqual(
        client.streamed.map((s) => [s.id, s.lines]).flatMap(([id, lines]) => (lines as string[]).map((line) => [id, line])),
        [
          ['r1', 'tick 1'],
          ['r1', 'tick 2'],
          ['r1', 'tick 3'],
        ],
      );
      assert.deepEqual(reply.result?.console, ['tick 1', 'tick 2', 'tick 3']);
      await client.close();
    });

    it('sends nothing ahead of the reply to a request that does not ask, and the reply is as before', async () => {
      const client = await TestClient.connect(daemon.url);
      const reply = await client.execute(ticker(3, 20));
      assert.deepEqual(client.streamed, []);
      assert.deepEqual(Object.keys(reply), ['type', 'id', 'payload']);
      assert.deepEqual(Object.keys(reply.payload ?? {}), ['value', 'console', 'time']);
      await client.close();
    });

    it('streams no more than CONSOLE_LIMIT', async () => {
      const limited = await startDaemon({ POOL_SIZE: '1', CONSOLE_LIMIT: '100' });
      try {
        const client = await TestClient.connect(limited.url);
        const reply = await client.execute({ code: 'for (let i = 0; i < 1000; i++) console.log("line", i); 1', stream: true });
        const streamed = client.streamed.flatMap((s) => s.lines);
        assert.ok(streamed.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0) <= 100, `${streamed.length} lines streamed`);
        assert.deepEqual(streamed, reply.payload?.console.slice(0, streamed.length));
        assert.match(reply.payload?.console.at(-1) ?? '', /more console lines .* dropped past CONSOLE_LIMIT/);
        await client.close();
      } finally {
        await limited.stop();
      }
    });
  });

  describe('runtime.cancel', () => {
    /** Sends runtime.cancel for `id` over Duplex and resolves with its reply. */
    const cancel = (client: TestClient, id: unknown, cancelId: string) => {
      const reply = client.replyTo(cancelId);
      client.send({ type: 'req', method: 'runtime.cancel', id: cancelId, payload: { id } });
      return reply;
    };

    it('stops a busy loop in a handler: 1007 with the console so far, and the sandbox serves on', async () => {
      const client = await TestClient.connect(daemon.url);
      const running = client.execute({ code: 'function h(cb) { console.log("before"); for (;;) {} }', call: 'h' });
      await delay(200);
      const asked = performance.now();
      assert.deepEqual((await cancel(client, 1, 'c1')).payload, { cancelled: true });
      const reply = await within(running, 2000, 'the cancelled execution');
      const took = performance.now() - asked;
      assert.deepEqual(reply.error, { code: 1007, message: 'Cancelled', data: { console: ['before'] } });
      assert.ok(took < 1000, `answered ${Math.round(took)} ms after the cancel (its time limit is 10 s)`);
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      await client.close();
    });

    it("stops a busy loop in a script's top level, which holds its sandbox: the others living there run again and are answered", async () => {
      const client = await TestClient.connect(daemon.url);
      const sleeper = client.execute({ code: 'function h(cb) { setTimeout(() => cb("slept"), 600); }', call: 'h' });
      await delay(100);
      const looping = client.execute({ code: 'for (;;) {}' });
      await delay(200);
      assert.deepEqual((await cancel(client, 2, 'c2')).payload, { cancelled: true });
      assert.equal((await within(looping, 2000, 'the cancelled execution')).error?.code, 1007);
      assert.equal((await sleeper).payload?.value, 'slept');
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      await client.close();
    });

    it('aborts a pending fetch against a real server', async () => {
      const client = await TestClient.connect(daemon.url);
      const running = client.execute({
        code: `(async () => { console.log("fetching"); await fetch("${server.origin}/hang"); return "never"; })()`,
      });
      await within(
        (async () => {
          while (!server.seen.some((s) => s.url === '/hang')) await delay(20);
        })(),
        5000,
        'the fetch reaching the server',
      );
      assert.deepEqual((await cancel(client, 1, 'c1')).payload, { cancelled: true });
      assert.deepEqual((await running).error, { code: 1007, message: 'Cancelled', data: { console: ['fetching'] } });
      await within(
        (async () => {
          while (!server.aborted.includes('/hang')) await delay(20);
        })(),
        2000,
        'the server seeing the request aborted',
      );
      await client.close();
    });

    it('takes a queued execution out of the queue before it starts', async () => {
      const queued = await startDaemon({ POOL_SIZE: '1', MAX_CONCURRENT: '4' });
      try {
        const client = await TestClient.connect(queued.url);
        // A connection may run a quarter of MAX_CONCURRENT: one; the second waits in the queue.
        const first = client.execute({ code: 'function h(cb) { setTimeout(() => cb("first"), 500); }', call: 'h' });
        const second = client.execute({ code: 'function h(cb) { console.log("started"); cb("second"); }', call: 'h' });
        await delay(100);
        assert.deepEqual((await cancel(client, 2, 'c')).payload, { cancelled: true });
        assert.deepEqual((await within(second, 200, 'the queued execution')).error, {
          code: 1007,
          message: 'Cancelled',
          data: { console: [] },
        });
        assert.equal((await first).payload?.value, 'first');
        await client.close();
      } finally {
        await queued.stop();
      }
    });

    it("cancels nothing for an unknown id, a finished one, or another connection's, and says so", async () => {
      const mine = await TestClient.connect(daemon.url);
      const theirs = await TestClient.connect(daemon.url);
      assert.equal((await mine.execute({ code: '1' })).payload?.value, 1);
      const finished = await cancel(mine, 1, 'c1');
      assert.equal(finished.payload && (finished.payload as unknown as { cancelled: boolean }).cancelled, false);
      assert.match(JSON.stringify(finished.payload), /no execution with id 1 is queued or running on this connection/);
      const unknown = await cancel(mine, 'nope', 'c2');
      assert.match(JSON.stringify(unknown.payload), /"cancelled":false/);
      const other = theirs.execute({ code: 'function h(cb) { setTimeout(() => cb("theirs"), 300); }', call: 'h' });
      await delay(50);
      assert.match(JSON.stringify((await cancel(mine, 1, 'c3')).payload), /"cancelled":false/);
      assert.equal((await other).payload?.value, 'theirs');
      await Promise.all([mine.close(), theirs.close()]);
    });

    it('JSON-RPC: runtime.cancel with {id} stops the request of that id', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: 'function h(cb) { for (;;) {} }', call: 'h' }, id: 'long' });
      await delay(200);
      client.send({ jsonrpc: '2.0', method: 'runtime.cancel', params: { id: 'long' }, id: 'stop' });
      const [stopped, cancelled] = await Promise.all([client.replyTo('stop'), client.replyTo('long')]);
      assert.deepEqual(stopped.result, { cancelled: true });
      assert.equal(cancelled.error?.code, 1007);
      await client.close();
    });

    it('refuses a cancel without an id with -32602', async () => {
      const client = await TestClient.connect(daemon.url);
      const reply = client.replyTo('c');
      client.send({ type: 'req', method: 'runtime.cancel', id: 'c', payload: { which: 1 } });
      assert.equal((await reply).error?.code, -32602);
      await client.close();
    });
  });

  describe('what a run cost (usage: true)', () => {
    it('reports CPU and wall time of a measured busy loop, heap, fetches and console bytes', async () => {
      const client = await TestClient.connect(daemon.url);
      const reply = await client.execute({
        code: `(async () => {
          const end = Date.now() + 200; while (Date.now() < end) {}
          const held = new Array(2_000_000).fill(1.5);
          console.log("héllo"); console.log("");
          const text = await (await fetch("${server.origin}/echo", { method: "POST", body: "12345" })).text();
          return [held.length, text];
        })()`,
        usage: true,
      });
      assert.deepEqual(reply.payload?.value, [2_000_000, 'echo:12345']);
      const usage = (reply.payload as unknown as { usage: Record<string, number> }).usage;
      assert.deepEqual(Object.keys(usage), [
        'cpuMs',
        'wallMs',
        'heapBytes',
        'fetchRequests',
        'fetchBytesOut',
        'fetchBytesIn',
        'consoleBytes',
      ]);
      assert.ok(usage.cpuMs >= 150 && usage.cpuMs <= usage.wallMs + 5, `cpuMs ${usage.cpuMs}, wallMs ${usage.wallMs}`);
      assert.ok(
        usage.wallMs >= 195 && usage.wallMs <= (reply.payload?.time ?? 0) + 1,
        `wallMs ${usage.wallMs}, time ${reply.payload?.time}`,
      );
      assert.ok(usage.heapBytes >= 8_000_000 && usage.heapBytes < 200_000_000, `heapBytes ${usage.heapBytes}`);
      assert.equal(usage.fetchRequests, 1);
      assert.equal(usage.fetchBytesOut, 5);
      assert.equal(usage.fetchBytesIn, 'echo:12345'.length);
      assert.equal(usage.consoleBytes, Buffer.byteLength('héllo') + 1 + 1);
      await client.close();
    });

    it('counts only its own time: a sleeper reports almost no CPU', async () => {
      const client = await TestClient.connect(daemon.url);
      const reply = await client.execute({ code: 'function h(cb) { setTimeout(() => cb(1), 300); }', call: 'h', usage: true });
      const usage = (reply.payload as unknown as { usage: Record<string, number> }).usage;
      assert.ok(usage.wallMs >= 290, `wallMs ${usage.wallMs}`);
      assert.ok(usage.cpuMs < 50, `cpuMs ${usage.cpuMs}`);
      await client.close();
    });

    it('adds usage to an error reply when asked (a timeout), and nothing to replies of requests that do not ask', async () => {
      const client = await TestClient.connect(daemon.url);
      const timedOut = await client.execute({ code: 'for (;;) {}', timeout: 300, usage: true });
      assert.equal(timedOut.error?.code, 1002);
      const usage = timedOut.error?.data?.usage as Record<string, number>;
      assert.ok(usage.cpuMs >= 200, `cpuMs ${usage.cpuMs}`);
      const plain = await client.execute({ code: 'for (;;) {}', timeout: 100 });
      assert.deepEqual(plain.error, { code: 1002, message: 'Timeout' });
      await client.close();
    });

    it('works with a TypeScript module: lines streamed, usage in the reply and in a mapped error', async () => {
      const client = await TestClient.connect(daemon.url);
      const code =
        'const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));\nconsole.log("first");\nawait wait(150);\nconsole.log("second");\nexport default 42;\n';
      const sent = performance.now();
      const reply = await client.execute({ code, module: true, typescript: true, stream: true, usage: true });
      assert.equal(reply.payload?.value, 42);
      assert.deepEqual(
        client.streamed.flatMap((s) => s.lines),
        ['first', 'second'],
      );
      assert.ok(client.streamed[0].at - sent < 140, 'the first line came before the await was over');
      assert.equal((reply.payload as unknown as { usage: { consoleBytes: number } }).usage.consoleBytes, 13);
      const failed = await client.execute({ code: 'const n: number = 1;\nthrow new Error(`bad ${n}`);\n', typescript: true, usage: true });
      assert.equal(failed.error?.message, 'Error: bad 1');
      assert.match(String(failed.error?.data?.stack), /script\.ts:2:7/);
      assert.equal(typeof (failed.error?.data?.usage as { cpuMs: number } | undefined)?.cpuMs, 'number');
      await client.close();
    });

    it('JSON-RPC: the result carries usage too', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: 'console.log("x"); 1', usage: true }, id: 1 });
      const reply: Reply = await client.replyTo(1);
      assert.equal((reply.result as unknown as { usage: { consoleBytes: number } }).usage.consoleBytes, 2);
      await client.close();
    });

    it('feeds the per-key histograms of /metrics', async () => {
      const metrics = await (await fetch(`${httpBase(daemon)}metrics`)).text();
      for (const name of ['cpu_seconds', 'heap_bytes', 'fetch_requests', 'fetch_bytes', 'console_bytes']) {
        const count = metrics.match(new RegExp(`^javascriptd_execution_${name}_count\\{key="default"\\} (\\d+)`, 'm'));
        assert.ok(count !== null && Number(count[1]) > 0, `javascriptd_execution_${name}_count`);
      }
    });
  });
});
