// Following an execution while it runs: its console lines as they are printed
// (stream), stopping it (runtime.cancel), and what it cost (usage) — over raw
// Duplex and JSON-RPC frames against a real daemon and a real HTTP server.
import assert from 'node:assert/strict';
import { type Reply, TestClient } from './helpers/client.js';
import { executionCounts, httpBase, startDaemon, useDaemon } from './helpers/daemon.js';
import { Gates, startHttpServer, type TestServer } from './helpers/http-server.js';
import { until } from './helpers/poll.js';

/** Prints `count` lines, one every `everyMs`, then calls cb with the count. */
const ticker = (count: number, everyMs: number) => ({
  code: `function h(cb) { let n = 0; const t = setInterval(() => { console.log("tick", ++n); if (n === ${count}) { clearInterval(t); cb(n); } }, ${everyMs}); }`,
  call: 'h',
});

/** A busy loop of a fixed amount of work: a loaded machine stretches a loop of so many ms of wall time without giving it more CPU. */
const work = (iterations: number) => `let x = 0; for (let i = 0; i < ${iterations}; i++) x = (x + i * i) % 1000003;`;

describe('following an execution while it runs', () => {
  let server: TestServer;
  const gates = new Gates();
  /** A script line that waits until the test calls gates.release(name). */
  const gate = (name: string) => `await fetch("${server.origin}/gate/${name}")`;
  const lines = (client: TestClient) => client.streamed.flatMap((s) => s.lines);

  before(async () => {
    server = await startHttpServer({
      '/echo': (_req, res, body) => res.end(`echo:${body}`),
      // Never answers: a fetch to it is pending until it is aborted.
      '/hang': () => {},
      '/gate/*': gates.route,
    });
  });
  const daemon = useDaemon(() => ({
    POOL_SIZE: '1',
    TIMEOUT: '10000',
    FETCH_ALLOW: [`POST ${server.origin}/echo`, `GET ${server.origin}/hang`, `GET ${server.origin}/gate/*`].join(', '),
  }));
  after(async () => {
    await server?.close();
  });

  describe('console lines as they are printed (stream: true)', () => {
    it('Duplex: sends each line as a more:true reply of the request id while the script runs, then the whole reply', async () => {
      const client = await TestClient.connect(daemon.url);
      const replied = client.execute(
        {
          code: `async function h() { console.log("tick", 1); console.log("tick", 2); ${gate('duplex')}; console.log("tick", 3); return 3; }`,
          call: 'h',
          stream: true,
        },
        { ext: { trace: 't1' } },
      );
      // The script waits at its gate until the test has its first two lines: they came as they were printed, not at the end.
      await until(() => lines(client).length === 2, 'the lines printed before the script waits');
      assert.deepEqual(lines(client), ['tick 1', 'tick 2']);
      gates.release('duplex');
      const reply = await replied;
      assert.deepEqual(lines(client), ['tick 1', 'tick 2', 'tick 3']);
      assert.ok(client.streamed.every((s) => s.id === 1));
      assert.deepEqual(reply.payload?.console, lines(client), 'the reply still carries every line');
      assert.equal(reply.payload?.value, 3);
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
      const running = client.execute({ code: 'function h(cb) { console.log("before"); for (;;) {} }', call: 'h', stream: true });
      await until(() => lines(client).length === 1, 'the handler looping (its line streamed)');
      assert.deepEqual((await cancel(client, 1, 'c1')).payload, { cancelled: true });
      // 1007, not the 1002 its 10 s time limit would give.
      assert.deepEqual((await running).error, { code: 1007, message: 'Cancelled', data: { console: ['before'] } });
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      await client.close();
    });

    it("stops a busy loop in a script's top level, which holds its sandbox: the others living there run again and are answered", async () => {
      const client = await TestClient.connect(daemon.url);
      const sleeper = client.execute({
        code: 'function h(cb) { console.log("sleeping"); setTimeout(() => cb("slept"), 600); }',
        call: 'h',
        stream: true,
      });
      await until(() => lines(client).length === 1, 'the sleeper started');
      const looping = client.execute({ code: 'for (;;) {}' });
      // A loop at the top level streams nothing (its sandbox thread never gets back to it): the daemon's count shows it handed over.
      await until(async () => (await executionCounts(daemon)).running === 2, 'the loop handed to the sandbox');
      assert.deepEqual((await cancel(client, 2, 'c2')).payload, { cancelled: true });
      assert.equal((await looping).error?.code, 1007);
      assert.equal((await sleeper).payload?.value, 'slept');
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      await client.close();
    });

    it('aborts a pending fetch against a real server', async () => {
      const client = await TestClient.connect(daemon.url);
      const running = client.execute({
        code: `(async () => { console.log("fetching"); await fetch("${server.origin}/hang"); return "never"; })()`,
      });
      await until(() => server.seen.some((s) => s.url === '/hang'), 'the fetch reaching the server');
      assert.deepEqual((await cancel(client, 1, 'c1')).payload, { cancelled: true });
      assert.deepEqual((await running).error, { code: 1007, message: 'Cancelled', data: { console: ['fetching'] } });
      await until(() => server.aborted.includes('/hang'), 'the server seeing the request aborted');
      await client.close();
    });

    it('takes a queued execution out of the queue before it starts', async () => {
      const queued = await startDaemon({
        POOL_SIZE: '1',
        MAX_CONCURRENT: '4',
        TIMEOUT: '10000',
        FETCH_ALLOW: `GET ${server.origin}/gate/*`,
      });
      try {
        const client = await TestClient.connect(queued.url);
        // A connection may run a quarter of MAX_CONCURRENT: one, held at its gate; the second waits in the queue.
        const first = client.execute({ code: `async function h() { ${gate('queued')}; return "first"; }`, call: 'h' });
        const second = client.execute({ code: 'function h(cb) { console.log("started"); cb("second"); }', call: 'h' });
        await until(async () => (await executionCounts(queued)).queued === 1, 'the second execution in the queue');
        assert.deepEqual((await cancel(client, 2, 'c')).payload, { cancelled: true });
        // Answered while the first still holds the only place: it never started.
        assert.deepEqual((await second).error, { code: 1007, message: 'Cancelled', data: { console: [] } });
        gates.release('queued');
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
      // Their id 1 runs, held at its gate, while this connection asks to cancel id 1.
      const other = theirs.execute({ code: `async function h() { ${gate('theirs')}; return "theirs"; }`, call: 'h' });
      await until(() => server.seen.some((s) => s.url === '/gate/theirs'), 'their execution running');
      assert.match(JSON.stringify((await cancel(mine, 1, 'c3')).payload), /"cancelled":false/);
      gates.release('theirs');
      assert.equal((await other).payload?.value, 'theirs');
      await Promise.all([mine.close(), theirs.close()]);
    });

    it('JSON-RPC: runtime.cancel with {id} stops the request of that id', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      client.send({
        jsonrpc: '2.0',
        method: 'runtime.execute',
        params: { code: 'function h(cb) { console.log("looping"); for (;;) {} }', call: 'h', stream: true },
        id: 'long',
      });
      await until(() => lines(client).length === 1, 'the handler looping (its runtime.console notification)');
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
      const cpuOf = (reply: Reply) => (reply.payload as unknown as { usage: { cpuMs: number } }).usage.cpuMs;
      // The baseline: a tenth of the loop below, measured in this test on this machine as it is now.
      const baseline = cpuOf(await client.execute({ code: `${work(200_000)} x`, usage: true }));
      const reply = await client.execute({
        code: `(async () => {
          ${work(2_000_000)}
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
      // Ten times the work: several times the CPU, however busy the machine (the slack is for the fixed cost of a run).
      assert.ok(usage.cpuMs > 3 * baseline, `cpuMs ${usage.cpuMs}, ${baseline} for a tenth of the loop`);
      assert.ok(usage.cpuMs <= usage.wallMs + 5, `cpuMs ${usage.cpuMs}, wallMs ${usage.wallMs}`);
      assert.ok(usage.wallMs <= (reply.payload?.time ?? 0) + 1, `wallMs ${usage.wallMs}, time ${reply.payload?.time}`);
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
      // A loop stopped at 300 ms of wall time got some CPU, at most that: how much depends on how busy the machine is.
      assert.ok(usage.wallMs >= 290 && usage.cpuMs > 0 && usage.cpuMs <= usage.wallMs + 5, `cpuMs ${usage.cpuMs}, wallMs ${usage.wallMs}`);
      const plain = await client.execute({ code: 'for (;;) {}', timeout: 100 });
      assert.deepEqual(plain.error, { code: 1002, message: 'Timeout' });
      await client.close();
    });

    it('works with a TypeScript module: lines streamed, usage in the reply and in a mapped error', async () => {
      const client = await TestClient.connect(daemon.url);
      const code = `const gate: string = "${server.origin}/gate/typescript";\nconsole.log("first");\nawait fetch(gate);\nconsole.log("second");\nexport default 42;\n`;
      const replied = client.execute({ code, module: true, typescript: true, stream: true, usage: true });
      // The module waits at its gate until the test has its first line.
      await until(() => lines(client).length === 1, 'the line printed before the top-level await');
      gates.release('typescript');
      const reply = await replied;
      assert.equal(reply.payload?.value, 42);
      assert.deepEqual(lines(client), ['first', 'second']);
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
