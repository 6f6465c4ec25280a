// CPU is shared, not queued: busy executions beside each other are time-sliced
// by the OS, so a light call is answered while they all still compute, and a
// running script's limit counts the CPU time it got, so a fixed amount of work
// keeps its answer however long busy neighbours stretch its wall time.
import assert from 'node:assert/strict';
import { computeSlots } from '../src/compute-slots.js';
import { type Reply, TestClient } from './helpers/client.js';
import { executionCounts, useDaemon } from './helpers/daemon.js';
import { outcome } from './helpers/neighbours.js';
import { until } from './helpers/poll.js';

/** A top-level loop that computes for `ms` of wall time, then answers `value`. */
const busyLoop = (ms: number, value: string) => `const end = Date.now() + ${ms}; while (Date.now() < end) {} "${value}"`;

/** `count` busy loops on `client`, and how many of them have been answered so far. */
function busyLoops(client: TestClient, count: number, ms: number, timeout: number): { replies: Promise<Reply[]>; answered: () => number } {
  let answered = 0;
  const replies = Array.from({ length: count }, (_, i) =>
    client.execute({ code: busyLoop(ms, `busy ${i}`), timeout }).then((reply) => {
      answered++;
      return reply;
    }),
  );
  return { replies: Promise.all(replies), answered: () => answered };
}

describe('CPU is shared between executions, not queued', function () {
  this.timeout(60000);
  const POOL_SIZE = 1;
  const daemon = useDaemon({ POOL_SIZE: String(POOL_SIZE), MAX_CONCURRENT: '64' });

  it('answers 20 light calls, one after another from another connection, while 2 × POOL_SIZE busy loops all still compute', async () => {
    const [busy, light] = await Promise.all([TestClient.connect(daemon.url), TestClient.connect(daemon.url)]);
    const count = 2 * POOL_SIZE;
    // Each well inside its own limit, and long enough for twenty calls of milliseconds on a busy machine.
    const loops = busyLoops(busy, count, 4000, 8000);
    await until(async () => (await executionCounts(daemon)).running === count, 'every busy loop running at once');
    for (let i = 0; i < 20; i++) {
      const reply = await light.execute({ code: `${i} * 2` });
      assert.deepEqual(outcome(reply), { value: i * 2, console: [] }, `light call ${i}`);
      assert.equal(loops.answered(), 0, `a busy loop was answered before light call ${i}`);
    }
    assert.deepEqual(
      (await loops.replies).map(outcome),
      Array.from({ length: count }, (_, i) => ({ value: `busy ${i}`, console: [] })),
    );
    await Promise.all([busy.close(), light.close()]);
  });

  it('keeps the answer of a fixed amount of work whose wall time busy neighbours stretch past its timeout: its limit counts its CPU time', async () => {
    const [busy, measured] = await Promise.all([TestClient.connect(daemon.url), TestClient.connect(daemon.url)]);
    const work = 'let x = 0; for (let i = 0; i < 1e7; i++) x = (x + i * i) % 1000003; x';
    const expected = new Function(`return (() => { ${work.replace(/ x$/, ' return x;')} })()`)();
    const cpuMs = (reply: Reply) => (reply.payload as unknown as { usage: { cpuMs: number } }).usage.cpuMs;
    // As many busy loops as the sandbox computes at once, less one for the work, computing until cancelled: sharing
    // the cores with them, the work gets about 2/6 of a core (on 2 cores).
    const count = computeSlots(POOL_SIZE).computing - 1;
    const loops = busyLoops(busy, count, 20000, 30000);
    await until(async () => (await executionCounts(daemon)).running === count, 'every busy loop running at once');
    // The CPU time the work takes beside them (more than alone: threads sharing a core do less each), once with time
    // to spare; then with 1.5 times that as its limit, which its wall time goes well past, inside the wall-clock
    // backstop (4 × its timeout).
    const measuring = await measured.execute({ code: work, timeout: 20000, usage: true });
    assert.equal(measuring.payload?.value, expected, JSON.stringify(measuring));
    const timeout = Math.ceil(1.5 * cpuMs(measuring));
    const reply = await measured.execute({ code: work, timeout, usage: true });
    assert.equal(reply.payload?.value, expected, JSON.stringify(reply));
    const time = reply.payload?.time ?? 0;
    assert.ok(time > timeout, `answered in ${time} ms (${cpuMs(reply)} ms of CPU), timeout ${timeout}: the neighbours did not slow it`);
    assert.equal(loops.answered(), 0, 'every busy loop computed beside it to its end');
    for (let id = 1; id <= count; id++) busy.send({ type: 'req', method: 'runtime.cancel', id: `cancel ${id}`, payload: { id } });
    assert.deepEqual(
      (await loops.replies).map((reply) => reply.error?.code),
      Array.from({ length: count }, () => 1007),
    );
    await Promise.all([busy.close(), measured.close()]);
  });
});
