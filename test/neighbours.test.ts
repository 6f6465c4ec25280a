// An execution's answer never depends on its neighbours: a memory bomb, a
// hostile thrown value, a cancel, a long computation beside a wedge, or a
// leftover rejection costs only its own execution. The neighbours share the
// faulty one's sandbox process (POOL_SIZE=1) and had fetched before the fault,
// so a re-run would show as a second request at their gates. 1008 is left for a
// sandbox process that dies: what it held that fetched or streamed gets it, and
// the rest runs again once.
import assert from 'node:assert/strict';
import { TestClient } from './helpers/client.js';
import { executionCounts, useDaemon } from './helpers/daemon.js';
import { Gates, startHttpServer, type TestServer } from './helpers/http-server.js';
import { fetchedNeighbours, outcome } from './helpers/neighbours.js';
import { until } from './helpers/poll.js';
import { sandboxPids } from './helpers/sandbox-process.js';

describe("an execution's answer never depends on its neighbours", function () {
  this.timeout(60000);

  describe('a fault costs only its own execution', () => {
    let server: TestServer;
    let faulty: TestClient;
    let neighbours: TestClient;
    const gates = new Gates();
    before(async () => {
      server = await startHttpServer({ '/gate/*': gates.route });
    });
    const daemon = useDaemon(() => ({
      POOL_SIZE: '1',
      MAX_CONCURRENT: '64',
      MEMORY_LIMIT: '64',
      // Room for a bomb's heap beside the neighbours: the process budget is not what these tests are about.
      SANDBOX_MEMORY: '768',
      FETCH_ALLOW: `GET ${server.origin}/gate/*`,
    }));
    beforeEach(async () => {
      [faulty, neighbours] = await Promise.all([TestClient.connect(daemon.url), TestClient.connect(daemon.url)]);
    });
    afterEach(async () => {
      await Promise.all([faulty?.close(), neighbours?.close()]);
    });
    after(async () => {
      await server?.close();
    });

    it('a memory bomb of the same key gets 1003; eight neighbours that had fetched get their own value and console', async () => {
      const waiting = await fetchedNeighbours(neighbours, server, gates, 'bomb', 8);
      const bomb = await faulty.execute({ code: 'const a = []; for (;;) a.push(new Array(1e6).fill(0));', timeout: 10000 });
      assert.equal(bomb.error?.code, 1003, JSON.stringify(bomb));
      await waiting.answer();
    });

    it('a thrown value whose getters never return gets its own 1002; six neighbours that had fetched are answered right', async () => {
      const waiting = await fetchedNeighbours(neighbours, server, gates, 'getter', 6);
      const thrown = await faulty.execute({
        // Thrown at the top level: copying it out of the isolate is what never returns.
        code: 'throw { get message() { for (;;) {} }, get stack() { for (;;) {} }, get name() { for (;;) {} } }',
        timeout: 1000,
      });
      assert.equal(thrown.error?.code, 1002, JSON.stringify(thrown));
      await waiting.answer();
    });

    it('a cancelled top-level busy loop gets 1007; six neighbours that had fetched are answered right', async () => {
      const waiting = await fetchedNeighbours(neighbours, server, gates, 'cancel', 6);
      const looping = faulty.execute({ code: 'for (;;) {}', timeout: 20000 });
      // A top-level loop streams nothing: the daemon's count shows it handed to the sandbox process beside the six.
      await until(async () => (await executionCounts(daemon)).running === 7, 'the loop running beside the neighbours');
      const cancelled = faulty.replyTo('cancel');
      faulty.send({ type: 'req', method: 'runtime.cancel', id: 'cancel', payload: { id: 1 } });
      assert.deepEqual((await cancelled).payload, { cancelled: true });
      assert.equal((await looping).error?.code, 1007, JSON.stringify(await looping));
      await waiting.answer();
    });

    it('a script computing 2.5 s after its fetch gets its value beside a wedge and a loop at their 1 s limits, which keep their own outcomes', async () => {
      const waiting = await fetchedNeighbours(neighbours, server, gates, 'compute', 6);
      const computing = faulty.execute({
        code: `async function h() {
          await (await fetch("${server.origin}/gate/compute")).text();
          const end = Date.now() + 2500; let turns = 0; while (Date.now() < end) turns++;
          return "computed";
        }`,
        call: 'h',
        timeout: 8000,
      });
      await until(() => server.seen.some((s) => s.url === '/gate/compute'), 'the computing script waiting at its gate');
      gates.release('compute');
      const wedge = faulty.execute({ code: 'function h(cb) { cb("answered"); for (;;) {} }', call: 'h', timeout: 1000 });
      const loop = faulty.execute({ code: 'for (;;) {}', timeout: 1000 });
      assert.deepEqual(outcome(await computing), { value: 'computed', console: [] });
      assert.equal((await wedge).payload?.value, 'answered', JSON.stringify(await wedge));
      assert.equal((await loop).error?.code, 1002, JSON.stringify(await loop));
      await waiting.answer();
    });

    it('a leftover unhandled rejection with hostile traps and a wedge after its answer cost six neighbours that had fetched nothing', async () => {
      const waiting = await fetchedNeighbours(neighbours, server, gates, 'leftover', 6);
      const leaving = faulty.execute({
        code: 'function h(cb) { cb("answered"); Promise.reject(new Proxy({}, { get() { for (;;) {} }, getPrototypeOf() { for (;;) {} } })); }',
        call: 'h',
        timeout: 1000,
      });
      const wedge = faulty.execute({ code: 'function h(cb) { cb("answered"); for (;;) {} }', call: 'h', timeout: 1000 });
      const left = await leaving;
      // Its own outcome: the answer it gave, or an error its rejection earned; never the loss of its process.
      assert.ok(left.payload?.value === 'answered' || [1000, 1002].includes(left.error?.code ?? 0), JSON.stringify(left));
      assert.equal((await wedge).payload?.value, 'answered', JSON.stringify(await wedge));
      await waiting.answer();
    });
  });

  describe('a sandbox process that dies', () => {
    const daemon = useDaemon({ POOL_SIZE: '1', MAX_CONCURRENT: '64' });

    it('a streamed console never repeats a line: the execution that streamed gets 1008, one that neither fetched nor streamed runs again', async () => {
      const client = await TestClient.connect(daemon.url);
      const silent = client.execute({
        code: 'function h(cb) { console.log("silent"); setTimeout(() => cb("slept"), 3000); }',
        call: 'h',
        timeout: 20000,
      });
      let silentAnswered = false;
      silent.then(() => (silentAnswered = true));
      const streaming = client.execute({
        code: 'function h(cb) { console.log("line 1"); console.log("line 2"); setTimeout(() => cb("streamed"), 3000); }',
        call: 'h',
        stream: true,
        timeout: 20000,
      });
      const lines = () => client.streamed.flatMap((s) => s.lines);
      await until(
        async () => lines().length === 2 && (await executionCounts(daemon)).running === 2,
        'both executions in the sandbox process, the lines streamed',
      );
      const pids = sandboxPids(daemon);
      assert.equal(pids.length, 1, `sandbox processes: ${pids}`);
      assert.equal(silentAnswered, false, 'the silent execution is still in the sandbox process');
      process.kill(pids[0], 'SIGKILL');
      const [streamed, slept] = await Promise.all([streaming, silent]);
      assert.deepEqual(lines(), ['line 1', 'line 2'], 'each line streamed once');
      assert.equal(streamed.error?.code, 1008, JSON.stringify(streamed));
      assert.deepEqual(outcome(slept), { value: 'slept', console: ['silent'] });
      await client.close();
    });
  });
});
