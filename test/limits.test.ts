// Scheduling and bounds: fairness across connections, the queue bound, the
// per-connection in-flight bound, console and result caps.
import assert from 'node:assert/strict';
import { type Reply, TestClient } from './helpers/client.js';
import { executionCounts, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { until } from './helpers/poll.js';

const SLOW = { code: 'function h(cb) { const end = Date.now() + 150; while (Date.now() < end) {} cb("slow"); }', call: 'h' };

/**
 * Holds the one execution `daemon` runs at once (MAX_CONCURRENT 1) with a busy
 * loop sent by `client`, until `release` cancels it: what is sent meanwhile
 * queues, and stays queued however long the test takes to look.
 */
async function block(daemon: RunningDaemon, client: TestClient): Promise<{ release(): Promise<void> }> {
  const stopped = client.replyTo('blocker');
  client.send({ type: 'req', method: 'runtime.execute', id: 'blocker', payload: { code: 'function h(cb) { for (;;) {} }', call: 'h' } });
  await until(async () => (await executionCounts(daemon)).running === 1, 'the blocker running');
  return {
    async release() {
      client.send({ type: 'req', method: 'runtime.cancel', id: 'unblock', payload: { id: 'blocker' } });
      assert.equal((await stopped).error?.code, 1007);
    },
  };
}

describe('limits and scheduling', () => {
  describe('fairness', () => {
    const daemon = useDaemon({ POOL_SIZE: '1', MAX_CONCURRENT: '1' });

    it('answers a light call on a second connection while the first floods', async () => {
      const flooder = await TestClient.connect(daemon.url);
      const light = await TestClient.connect(daemon.url);
      const order: string[] = [];
      const blocker = await block(daemon, flooder);
      const flood = Array.from({ length: 15 }, () => flooder.execute(SLOW).then(() => order.push('flood')));
      // The flood reaches the queue first.
      await until(async () => (await executionCounts(daemon)).queued === 15, 'the flood queued');
      const answered = light.execute({ code: '"light"' });
      await blocker.release();
      const reply = await answered;
      order.push('light');
      assert.equal(reply.payload?.value, 'light');
      // Behind at most the one the sandbox had taken and the next: not behind the flood's queue.
      const before = order.indexOf('light');
      assert.ok(before <= 2, `the light call waited behind ${before} flood calls: ${order.join(',')}`);
      await Promise.all(flood);
      await Promise.all([flooder.close(), light.close()]);
    });
  });

  describe('sharing the queue', () => {
    const daemon = useDaemon({ POOL_SIZE: '1', MAX_CONCURRENT: '1', QUEUE_LIMIT: '10', QUEUE_BYTES: '200000' });

    it('admits a light client while one client holds the whole queue over several connections', async () => {
      const hog = await Promise.all([1, 2, 3].map(() => TestClient.connect(daemon.url)));
      const light = await TestClient.connect(daemon.url);
      const blocker = await block(daemon, hog[0]);
      const floodReplies: Reply[] = [];
      const flood = hog.flatMap((connection) =>
        Array.from({ length: 6 }, () => connection.execute(SLOW).then((reply) => floodReplies.push(reply))),
      );
      const evicted = () =>
        floodReplies.filter((r) => r.error?.data?.reason === 'the execution queue is full and this connection held more of it than others');
      // 10 queued (QUEUE_LIMIT), the other 8 refused or evicted by one another's connections.
      await until(
        async () => floodReplies.length === 8 && (await executionCounts(daemon)).queued === 10,
        'the queue full, the rest of the flood answered',
      );
      const evictedBefore = evicted().length;
      const answered = light.execute({ code: '"light"' });
      // The light call took the place of a flooding one, while the queue was full.
      await until(() => evicted().length === evictedBefore + 1, "a flooding request evicted for the light one's place");
      await blocker.release();
      const reply = await answered;
      assert.equal(reply.payload?.value, 'light');
      await Promise.all(flood);
      assert.ok(floodReplies.every((r) => r.payload?.value === 'slow' || r.error?.code === 1004));
      await Promise.all([...hog, light].map((c) => c.close()));
    });

    it('bounds the queue in bytes (QUEUE_BYTES), counting requests as their frames', async () => {
      const client = await TestClient.connect(daemon.url);
      const padded = (n: number) => ({ ...SLOW, code: `${SLOW.code}/*${'p'.repeat(n)}*/` });
      // One runs at a time; then three 60 KB requests fit in 200 KB of queue, the fourth does not.
      const replies = await Promise.all([client.execute(SLOW), ...Array.from({ length: 4 }, () => client.execute(padded(60000)))]);
      const busy = replies.filter((r) => r.error?.code === 1004);
      assert.equal(busy.length, 1);
      assert.equal(busy[0].error?.data?.reason, 'the execution queue is full (QUEUE_BYTES)');
      await client.close();
    });
  });

  describe('bounds', () => {
    const daemon = useDaemon({
      POOL_SIZE: '1',
      MAX_CONCURRENT: '1',
      QUEUE_LIMIT: '2',
      MAX_IN_FLIGHT: '3',
      CONSOLE_LIMIT: '100',
      RESULT_LIMIT: '1000',
    });

    it('answers 1004 Busy past the queue bound instead of hanging', async () => {
      const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(daemon.url)));
      const replies: Reply[] = await Promise.all([...clients.map((c) => c.execute(SLOW)), ...clients.map((c) => c.execute(SLOW))]);
      const busy = replies.filter((r) => r.error?.code === 1004);
      const served = replies.filter((r) => r.payload?.value === 'slow');
      assert.equal(busy.length + served.length, 6);
      assert.equal(served.length, 3, 'the one running and two queued are served');
      assert.equal(busy[0].error?.message, 'Busy');
      // Refused, or evicted by a connection holding less of the queue: which one depends on the order they arrive in.
      for (const reply of busy) assert.match(String(reply.error?.data?.reason), /^the execution queue is full/);
      await Promise.all(clients.map((c) => c.close()));
    });

    it('answers 1004 past the per-connection in-flight bound', async () => {
      const client = await TestClient.connect(daemon.url);
      const replies = await Promise.all(
        Array.from({ length: 4 }, () => client.execute({ code: 'function h(cb) { setTimeout(() => cb(1), 50) }', call: 'h' })),
      );
      const busy = replies.filter((r) => r.error?.code === 1004);
      assert.equal(busy.length, 1);
      assert.match(String(busy[0].error?.data?.reason), /more than 3 requests in flight on this connection/);
      assert.equal((await client.execute({ code: '"after"' })).payload?.value, 'after');
      await client.close();
    });

    it('keeps console output to CONSOLE_LIMIT bytes and says how much was dropped', async () => {
      const client = await TestClient.connect(daemon.url);
      const reply = await client.execute({ code: 'for (let i = 0; i < 1000; i++) console.log("line " + i); 1' });
      const lines = reply.payload?.console ?? [];
      assert.equal(reply.payload?.value, 1);
      assert.equal(lines.slice(0, -1).join('').length <= 100, true);
      assert.match(lines[lines.length - 1], /^\[javascriptd: \d+ more console lines \(\d+ bytes\) dropped past CONSOLE_LIMIT\]$/);
      // A line over the limit is not kept in part: it is counted as dropped, whole.
      const huge = await client.execute({ code: 'console.log("x".repeat(1e6)); 2' });
      assert.equal(huge.payload?.value, 2);
      assert.deepEqual(huge.payload?.console, ['[javascriptd: 1 more console lines (1000000 bytes) dropped past CONSOLE_LIMIT]']);
      await client.close();
    });

    it('answers 1005 for a result over RESULT_LIMIT, with its size', async () => {
      const client = await TestClient.connect(daemon.url);
      const err = (await client.execute({ code: 'console.log("kept"); "y".repeat(5000)' })).error;
      assert.equal(err?.code, 1005);
      assert.equal(err?.message, 'Result too large');
      assert.deepEqual(err?.data, { size: 5002, limit: 1000, console: ['kept'] });
      await client.close();
    });

    it('applies CONSOLE_LIMIT inside the isolate: a console flood costs nothing past it', async () => {
      const client = await TestClient.connect(daemon.url);
      const reply = await client.execute({ code: 'console.log("kept"); for (;;) console.log("x".repeat(1000))', timeout: 500 });
      assert.equal(reply.error?.code, 1002);
      const lines = reply.error?.data?.console as string[];
      assert.equal(lines[0], 'kept');
      const [, dropped, bytes] =
        /^\[javascriptd: (\d+) more console lines \((\d+) bytes\) dropped past CONSOLE_LIMIT\]$/.exec(lines[1]) ?? [];
      assert.ok(Number(dropped) > 100, `${dropped} lines dropped`);
      assert.equal(Number(bytes), Number(dropped) * 1000);
      await client.close();
    });

    it('answers 1005 for the longest string V8 allows without making its JSON (it could not be made: main answered 1000)', async () => {
      const client = await TestClient.connect(daemon.url);
      const err = (await client.execute({ code: '"x".repeat(2 ** 29 - 24)' })).error;
      assert.deepEqual(err, { code: 1005, message: 'Result too large', data: { size: 536870890, limit: 1000, console: [] } });
      const nested = (await client.execute({ code: '({ list: Array.from({ length: 100 }, (_, i) => ({ i, text: "é".repeat(10) })) })' }))
        .error;
      assert.equal(nested?.code, 1005);
      assert.ok((nested?.data?.size as number) > 1000);
      await client.close();
    });

    it('cuts the message and stack of every error reply, however the script threw', async () => {
      const client = await TestClient.connect(daemon.url);
      const huge = '"x".repeat(8 * 1024 * 1024)';
      for (const code of [
        `throw new Error(${huge})`,
        `throw ${huge}`,
        `function h() { return Promise.reject(new TypeError(${huge})); }`,
        `function h(cb) { setTimeout(() => { throw new RangeError(${huge}); }, 1); }`,
      ]) {
        const frame = await new Promise<string>((resolve) => {
          client.ws.once('message', (data) => resolve(data.toString()));
          client.execute({ code, call: code.startsWith('function') ? 'h' : undefined });
        });
        const err = (JSON.parse(frame) as Reply).error;
        assert.equal(err?.code, 1000, frame.slice(0, 200));
        assert.match(err?.message ?? '', /xxxx… \[\d+ more characters\]$/);
        assert.ok(frame.length < 4096 + 12288 + 1000, `a ${frame.length}-byte reply to ${code}`);
      }
      await client.close();
    });

    it('refuses a script timeout above MAX_TIMEOUT with -32602', async () => {
      const client = await TestClient.connect(daemon.url);
      const err = (await client.execute({ code: '1', timeout: 10 ** 9 })).error;
      assert.equal(err?.code, -32602);
      await client.close();
    });
  });
});
