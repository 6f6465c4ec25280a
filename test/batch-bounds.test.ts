// A JSON-RPC batch is bounded like the requests in it: each member is charged
// its own bytes against QUEUE_BYTES, its reply counts against MAX_UNSENT from
// when it is made, and the batch's reply frame stays within MAX_FRAME.
import assert from 'node:assert/strict';
import { TestClient } from './helpers/client.js';
import { type LogLine, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { found, until } from './helpers/poll.js';

const SLOW = { code: 'function h(cb) { const end = Date.now() + 300; while (Date.now() < end) {} cb("slow"); }', call: 'h' };
const request = (id: unknown, params: unknown) => ({ jsonrpc: '2.0', method: 'runtime.execute', params, id });
const notification = (params: unknown) => ({ jsonrpc: '2.0', method: 'runtime.execute', params });
/** A script whose result's JSON is `length` + 2 bytes. */
const string = (length: number) => ({ code: `"x".repeat(${length})` });

interface RpcReply {
  id: unknown;
  result?: { value: unknown };
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

describe('JSON-RPC batches bounded like their requests', () => {
  describe('QUEUE_BYTES', () => {
    // One execution at a time: the batch's other members wait in the queue.
    const daemon = useDaemon({ POOL_SIZE: '1', MAX_CONCURRENT: '1', QUEUE_BYTES: '65536' });

    it('charges a member its own bytes: a 100 KB script with 60 notifications beside it is over a 64 KiB queue (1004), not a 1/62 share of the frame', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      const big = { code: `"big" /*${'p'.repeat(100000)}*/` };
      client.send([request(1, SLOW), request(2, big), ...Array.from({ length: 60 }, () => notification({ code: '1' }))]);
      const replies = JSON.parse(await client.next(20000)) as RpcReply[];
      const byId = new Map(replies.map((reply) => [reply.id, reply]));
      assert.equal(byId.get(1)?.result?.value, 'slow');
      assert.equal(byId.get(2)?.error?.code, 1004, `the 100 KB member got ${JSON.stringify(byId.get(2)).slice(0, 300)}`);
      assert.equal(byId.get(2)?.error?.data?.reason, 'the request is larger than the whole execution queue');
      await client.close();
    });
  });

  describe('MAX_UNSENT', () => {
    // One execution at a time; a batch frame (MAX_FRAME) may be larger than MAX_UNSENT.
    const daemon = useDaemon({
      POOL_SIZE: '1',
      MAX_CONCURRENT: '1',
      MAX_UNSENT: '65536',
      MAX_FRAME: '100000',
      RESULT_LIMIT: '20000',
      CONSOLE_LIMIT: '1000',
      UNSENT_TIMEOUT: '1000',
    });

    it("counts a batch's replies as unsent as they are made: past MAX_UNSENT its queued members wait and the connection is closed after UNSENT_TIMEOUT", async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      const connection = await newConnection(daemon);
      client.ws.pause();
      // 30 replies of 9 KB: 8 of them pass MAX_UNSENT.
      client.send(Array.from({ length: 30 }, (_, i) => request(i + 1, string(9000))));
      // Those still queued at the close are logged as cancelled (1007).
      const ran = () => linesOf(daemon, connection, 'execution').filter((line) => line.code !== 1007).length;
      // Closed, or (the replies held until the batch is done) every member run.
      await until(() => linesOf(daemon, connection, 'connection closed').length > 0 || ran() === 30, 'the connection closed or all 30 run');
      assert.ok(ran() <= 12, `${ran()} of 30 executions ran for a batch whose replies were past MAX_UNSENT`);
      const closing = linesOf(daemon, connection, 'closing a connection')[0];
      assert.equal(closing?.reason, 'replies unread for 1000 ms');
      client.ws.terminate();
    });
  });

  describe('MAX_FRAME', () => {
    const daemon = useDaemon({ MAX_FRAME: '65536', MAX_UNSENT: '200000', RESULT_LIMIT: '20000', CONSOLE_LIMIT: '1000' });

    it('keeps the reply frame of a batch within MAX_FRAME: members whose replies do not fit get 1005 naming it, the others their results', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      const ids = Array.from({ length: 20 }, (_, i) => i + 1);
      client.send([
        ...ids.map((id) => request(id, string(9000))),
        ...Array.from({ length: 5 }, () => notification(string(9000))),
        { jsonrpc: '2.0', id: 'no method' },
      ]);
      const frame = await client.next(20000);
      assert.ok(Buffer.byteLength(frame) <= 65536, `a batch reply frame of ${Buffer.byteLength(frame)} bytes`);
      const replies = JSON.parse(frame) as RpcReply[];
      assert.deepEqual(replies.map((reply) => reply.id).sort(), [...ids, 'no method'].sort());
      assert.equal(replies.find((reply) => reply.id === 'no method')?.error?.code, -32600);
      const results = replies.filter((reply) => reply.result !== undefined);
      const tooLarge = replies.filter((reply) => reply.error?.code === 1005);
      assert.equal(results.length + tooLarge.length, ids.length);
      assert.ok(results.length >= 5, `only ${results.length} results kept`);
      assert.ok(tooLarge.length >= 1, 'the replies together are larger than MAX_FRAME: some must give way');
      for (const reply of results) assert.equal(reply.result?.value, 'x'.repeat(9000));
      for (const { error } of tooLarge) {
        assert.equal(error?.message, 'Result too large');
        assert.equal(error?.data?.limit, 65536);
        assert.ok(Number(error?.data?.size) > 9000, `size ${error?.data?.size}`);
        assert.match(String(error?.data?.reason), /MAX_FRAME/);
      }
      await client.close();
    });

    it('refuses whole, with one -32600, a batch of more members than a frame of MAX_FRAME has room to answer (a request and 1,999 members of 2 bytes)', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      // Its first member makes it a JSON-RPC first frame.
      client.send(`[${JSON.stringify(request(1, { code: '1' }))},${Array(1999).fill('1').join(',')}]`);
      const frame = await client.next(20000);
      assert.deepEqual(JSON.parse(frame), {
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32600,
          message: 'Invalid request',
          data: { detail: 'a batch of 2000 members, too many for a reply to each to fit in one frame (MAX_FRAME)' },
        },
      });
      await client.close();
    });
  });
});

/** The daemon's id for the connection just opened, once its log line is out. */
async function newConnection(daemon: RunningDaemon): Promise<unknown> {
  const opened = () => daemon.logs().filter((line) => line.msg === 'connection opened');
  return (await found(() => opened().at(-1), 'a connection opened')).connection;
}

function linesOf(daemon: RunningDaemon, connection: unknown, msg: string): LogLine[] {
  return daemon.logs().filter((line) => line.msg === msg && (line.connection === connection || line.client === connection));
}
