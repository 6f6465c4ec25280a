// An isolate serves one execution at a time and then the next, in a fresh
// context each: what an execution leaves on its isolate — stack-trace hooks,
// registered symbols, finalizers, weak references, a rejection nobody
// handled, a queued microtask — reaches no later one. An isolate its
// execution lost (out of memory, a loop past its limit) is not reused.
import assert from 'node:assert/strict';
import { TestClient } from './helpers/client.js';
import { isolatesUsed, useDaemon } from './helpers/daemon.js';
import { found } from './helpers/poll.js';

describe('an isolate reused by the next execution', () => {
  // One sandbox process: executions one after another take the isolate given back last (the logs name it).
  const daemon = useDaemon({ POOL_SIZE: '1', LOG_LEVEL: 'debug', MEMORY_LIMIT: '32' });
  let client: TestClient;
  before(async () => {
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
  });

  const isolates = () => isolatesUsed(daemon);
  /** The isolates of the two executions started after the first `since`, once both are logged. */
  const lastTwo = (since: number) =>
    found(() => (isolates().length >= since + 2 ? isolates().slice(since, since + 2) : undefined), 'both executions logged');

  it('runs the next execution in the same isolate, which sees nothing the last one left on it', async () => {
    const since = isolates().length;
    const leaving = await client.execute({
      code: `function h(cb) {
        Error.prepareStackTrace = () => "hooked"; Error.stackTraceLimit = 1;
        Symbol.for("left behind");
        new FinalizationRegistry(() => console.log("finalizer of the last execution")).register({}, 1);
        globalThis.held = new WeakRef(globalThis);
        cb("left");
        Promise.reject(new Error("nobody handles this"));
        queueMicrotask(() => console.log("microtask of the last execution"));
      }`,
      call: 'h',
    });
    assert.equal(leaving.payload?.value, 'left');
    const looking = await client.execute({
      code: `function h(cb) {
        const stack = new Error("mine").stack;
        setTimeout(() => cb([
          typeof stack === "string" && stack.startsWith("Error: mine"), Error.stackTraceLimit,
          Symbol.keyFor(Symbol.for("other")), typeof held,
        ]), 20);
      }`,
      call: 'h',
    });
    assert.deepEqual(looking.payload, { value: [true, 10, 'other', 'undefined'], console: [], time: looking.payload?.time });
    const [first, second] = await lastTwo(since);
    assert.equal(second, first, `the second execution ran in the isolate the first gave back: ${JSON.stringify(isolates())}`);
  });

  it('runs the execution after a memory bomb or a loop past its limit in another isolate', async () => {
    for (const code of ['const a = []; for (;;) a.push(new Array(1e6).fill(0));', 'for (;;) {}']) {
      const since = isolates().length;
      const fault = await client.execute({ code, timeout: 200 });
      assert.ok([1002, 1003].includes(fault.error?.code ?? 0), JSON.stringify(fault));
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      const [lost, next] = await lastTwo(since);
      assert.notEqual(next, lost, `the execution after ${fault.error?.code} ran in the isolate it lost`);
    }
  });
});
