// The wire protocol: Duplex SIMPLEX/1.0 framing, JSON-RPC 2.0, malformed frames.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { JSONRPCClient, type JSONRPCResponse } from 'json-rpc-2.0';
import WebSocket from 'ws';
import { TestClient } from './helpers/client.js';
import { executionCounts, executionLines, type RunningDaemon, startDaemon } from './helpers/daemon.js';
import { until } from './helpers/poll.js';

describe('wire protocol', () => {
  let daemon: RunningDaemon;

  before(async () => {
    daemon = await startDaemon({ MAX_FRAME: '65536' });
  });
  after(async () => {
    await daemon?.stop();
  });

  describe('Duplex', () => {
    let client: TestClient;
    beforeEach(async () => {
      client = await TestClient.connect(daemon.url);
    });
    afterEach(async () => {
      await client.close();
    });

    it('answers the handshake with +OK and a request with the exact reply shape', async () => {
      client.send(
        '{"type":"req","method":"runtime.execute","id":7,"payload":{"code":"function run(cb) { console.log(\\"hi\\"); cb(\\"done\\") }","call":"run"}}',
      );
      const frame = JSON.parse(await client.next()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(frame), ['type', 'id', 'payload']);
      assert.equal(frame.type, 'rep');
      assert.equal(frame.id, 7);
      const payload = frame.payload as Record<string, unknown>;
      assert.deepEqual(Object.keys(payload), ['value', 'console', 'time']);
      assert.equal(payload.value, 'done');
      assert.deepEqual(payload.console, ['hi']);
      assert.equal(typeof payload.time, 'number');
    });

    it('sends errors as {type, id, error: {code, message, data}}', async () => {
      client.send({ type: 'req', method: 'runtime.execute', id: 'abc', payload: { code: 'throw new Error("x")' } });
      const frame = JSON.parse(await client.next()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(frame), ['type', 'id', 'error']);
      assert.equal(frame.id, 'abc');
      assert.deepEqual(Object.keys(frame.error as object), ['code', 'message', 'data']);
    });

    it('tolerates more and ext, and sends ext back', async () => {
      const reply = await client.execute({ code: '1' }, { more: false, ext: { trace: 'abc' } });
      assert.equal(reply.payload?.value, 1);
      assert.deepEqual(reply.ext, { trace: 'abc' });
    });

    it('sends no reply to a request without id, but runs it', async () => {
      // Its own code, so that its log line cannot be an earlier test's.
      const code = `console.log("side effect ${randomUUID()}")`;
      client.send({ type: 'req', method: 'runtime.execute', payload: { code } });
      await until(() => executionLines(daemon, code).some((line) => line.outcome === 'ok'), 'the execution without id ran');
      // A reply to it would have been sent before the next request's reply, on the same socket.
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      assert.equal(await client.silentFor(0), true, 'a frame came for the request without id');
    });

    it('answers 40 requests in flight on one connection, matched by id, in any order', async () => {
      const replies = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          client.execute({ code: `function h(cb) { setTimeout(() => cb(${i}), ${(40 - i) % 7}); }`, call: 'h' }),
        ),
      );
      assert.deepEqual(
        replies.map((r) => r.payload?.value),
        Array.from({ length: 40 }, (_, i) => i),
      );
    });

    it('answers -32601 for an unknown method', async () => {
      client.send({ type: 'req', method: 'runtime.nope', id: 1, payload: {} });
      const frame = JSON.parse(await client.next()) as { id: number; error: { code: number; data: unknown } };
      assert.equal(frame.id, 1);
      assert.equal(frame.error.code, -32601);
      assert.deepEqual(frame.error.data, { method: 'runtime.nope' });
    });

    it('answers -32602 with ajv findings for an invalid script', async () => {
      client.send({ type: 'req', method: 'runtime.execute', id: 2, payload: { code: 42, timeout: -1 } });
      const frame = JSON.parse(await client.next()) as { error: { code: number; data: { errors: { instancePath: string }[] } } };
      assert.equal(frame.error.code, -32602);
      const paths = frame.error.data.errors.map((e) => e.instancePath).sort();
      assert.deepEqual(paths, ['/code', '/timeout']);
    });

    it('accepts the null and empty fields old Go clients send', async () => {
      const reply = await client.execute({ code: '"go"', globals: null, call: '', caller: '', timeout: null });
      assert.equal(reply.payload?.value, 'go');
    });

    it('answers -32600 for a message that is not a request', async () => {
      client.send({ type: 'bogus', id: 3 });
      const frame = JSON.parse(await client.next()) as { id: number; error: { code: number } };
      assert.equal(frame.id, 3);
      assert.equal(frame.error.code, -32600);
    });

    it('drops unanswerable frames with a warning and keeps the connection', async () => {
      for (const frame of [
        'not json',
        '[1,2]',
        '{"type":"req","method":"runtime.execute","id":{"x":1}}',
        '{"type":"rep","id":1,"payload":1}',
        '',
      ]) {
        client.send(frame);
      }
      assert.equal(await client.silentFor(300), true);
      assert.equal((await client.execute({ code: '"still here"' })).payload?.value, 'still here');
      await until(() => daemon.logs().some((line) => line.msg === 'dropped a frame that cannot be answered'), 'the dropped frame logged');
    });

    it('closes only the connection that sends a frame over MAX_FRAME', async () => {
      const other = await TestClient.connect(daemon.url);
      client.send({ type: 'req', method: 'runtime.execute', id: 1, payload: { code: `"${'x'.repeat(70000)}"` } });
      const { code } = await client.closed;
      assert.equal(code, 1009);
      assert.equal((await other.execute({ code: '"unaffected"' })).payload?.value, 'unaffected');
      await other.close();
    });
  });

  describe('handshake', () => {
    it('closes with a clear reason when the first frame is neither handshake nor JSON-RPC', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: 'hello' });
      const { code, reason } = await client.closed;
      assert.equal(code, 1002);
      assert.equal(reason, 'expected the handshake SIMPLEX/1.0;json or a JSON-RPC 2.0 request');
    });

    it('closes with a clear reason for another codec or version', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: 'SIMPLEX/1.0;msgpack' });
      const { code, reason } = await client.closed;
      assert.equal(code, 1002);
      assert.equal(reason, 'unsupported handshake; this server speaks SIMPLEX/1.0;json');
    });
  });

  describe('JSON-RPC 2.0', () => {
    let client: TestClient;
    beforeEach(async () => {
      client = await TestClient.connect(daemon.url, { handshake: false });
    });
    afterEach(async () => {
      await client.close();
    });

    it('speaks JSON-RPC when the first frame is a JSON-RPC request', async () => {
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: 'function h(cb) { cb(6 * 7) }', call: 'h' }, id: 1 });
      const frame = JSON.parse(await client.next()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(frame), ['jsonrpc', 'id', 'result']);
      assert.equal(frame.id, 1);
      assert.equal((frame.result as { value: number }).value, 42);
    });

    it('accepts positional params and answers errors with the same codes', async () => {
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: [{ code: '1', call: 'missing' }], id: 'a' });
      const frame = JSON.parse(await client.next()) as { id: string; error: { code: number } };
      assert.equal(frame.id, 'a');
      assert.equal(frame.error.code, 1001);
    });

    it('does not answer notifications', async () => {
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: '1' } });
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: 'throw 1' } });
      assert.equal(await client.silentFor(400), true);
    });

    it('refuses unparsable frames, invalid requests and an empty batch with id null', async () => {
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: '1' }, id: 0 });
      await client.next();
      client.send('[]');
      client.send('{oops');
      client.send({ jsonrpc: '1.0', method: 'runtime.execute', id: 5 });
      const frames = [await client.next(), await client.next(), await client.next()].map(
        (f) => JSON.parse(f) as { id: unknown; error: { code: number; data: { detail: string } } },
      );
      assert.deepEqual(
        frames.map((f) => [f.id, f.error.code]),
        [
          [null, -32600],
          [null, -32700],
          [5, -32600],
        ],
      );
      assert.equal(frames[0].error.data.detail, 'an empty batch');
    });

    it('answers -32601 and -32602 like Duplex', async () => {
      client.send({ jsonrpc: '2.0', method: 'other', id: 1 });
      client.send({ jsonrpc: '2.0', method: 'runtime.execute', params: { nocode: true }, id: 2 });
      const codes = [await client.next(), await client.next()]
        .map((f) => (JSON.parse(f) as { error: { code: number } }).error.code)
        .sort((a, b) => a - b);
      assert.deepEqual(codes, [-32602, -32601]);
    });

    it('answers a batch from the json-rpc-2.0 client (npm) with one array of replies, as the specification says', async () => {
      const ws = new WebSocket(daemon.url);
      await once(ws, 'open');
      const rpc = new JSONRPCClient((payload) => ws.send(JSON.stringify(payload)));
      ws.on('message', (data) => rpc.receive(JSON.parse(data.toString()) as JSONRPCResponse[]));
      const replies = await rpc.requestAdvanced([
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'runtime.execute',
          params: { code: 'function h(cb) { setTimeout(() => cb(6 * 7), 20); }', call: 'h' },
        },
        { jsonrpc: '2.0', id: 2, method: 'runtime.execute', params: [{ code: 'null.x' }] },
        { jsonrpc: '2.0', id: 3, method: 'runtime.nope' },
      ]);
      const byId = new Map(replies.map((reply) => [reply.id, reply]));
      assert.equal((byId.get(1)?.result as { value: number } | undefined)?.value, 42);
      assert.equal(byId.get(2)?.error?.code, 1000);
      assert.equal(byId.get(3)?.error?.code, -32601);
      ws.close();
    });

    it('leaves notifications in a batch unanswered, answers invalid members each, and sends nothing for a batch of notifications', async () => {
      const batch = await TestClient.connect(daemon.url, { handshake: false });
      batch.send([
        { jsonrpc: '2.0', method: 'runtime.execute', params: { code: '1' } },
        { jsonrpc: '2.0', method: 'runtime.execute', params: { code: '2' }, id: 'two' },
        1,
        { jsonrpc: '2.0', id: 4 },
      ]);
      const replies = JSON.parse(await batch.next()) as { id: unknown; result?: { value: number }; error?: { code: number } }[];
      assert.deepEqual(
        replies.map((r) => [r.id, r.result?.value ?? r.error?.code]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        [
          [4, -32600],
          [null, -32600],
          ['two', 2],
        ],
      );
      batch.send([{ jsonrpc: '2.0', method: 'runtime.execute', params: { code: '1' } }]);
      assert.equal(await batch.silentFor(500), true);
      await batch.close();
    });

    it('counts each request of a batch against MAX_IN_FLIGHT', async () => {
      const batch = await TestClient.connect(daemon.url, { handshake: false });
      const wait = { code: 'function h(cb) { setTimeout(() => cb(1), 100); }', call: 'h' };
      batch.send(Array.from({ length: 105 }, (_, id) => ({ jsonrpc: '2.0', method: 'runtime.execute', params: wait, id })));
      const replies = JSON.parse(await batch.next()) as { result?: unknown; error?: { code: number } }[];
      assert.equal(replies.length, 105);
      assert.equal(replies.filter((r) => r.error?.code === 1004).length, 5);
      await batch.close();
    });
  });

  describe('hostile frames', () => {
    const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const TOO_DEEP = { code: -32600, message: 'Invalid request', data: { detail: 'nested deeper than 128 levels (MAX_DEPTH)' } };

    it('answers a frame nested deeper than MAX_DEPTH with -32600 by id, and serves on (two such requests took main down)', async () => {
      const client = await TestClient.connect(daemon.url);
      const replies = [1, 2, 3].map((id) => client.replyTo(id));
      client.send(`{"type":"req","method":"runtime.execute","id":1,"payload":{"code":"1","globals":{"a":${deep(6000)}}}}`);
      client.send(`{"type":"nope","id":2,"ext":${deep(5000)}}`);
      client.send(`{"type":"req","method":"runtime.execute","id":3,"payload":{"code":"1"},"ext":${deep(5000)}}`);
      for (const reply of await Promise.all(replies)) {
        assert.deepEqual(reply.error, TOO_DEEP);
        assert.equal(reply.ext, undefined, 'a deep ext is not echoed');
      }
      assert.equal((await client.execute({ code: 'function f(cb) { for (;;) {} }', call: 'f', timeout: 300 })).error?.code, 1002);
      assert.equal((await client.execute({ code: '6 * 7' })).payload?.value, 42);
      await client.close();
      assert.equal(daemon.process.exitCode, null);
      assert.deepEqual(
        daemon.logs().filter((line) => (line.level ?? 0) >= 50),
        [],
      );
    });

    it('answers a deep JSON-RPC request by id too', async () => {
      const client = await TestClient.connect(daemon.url, { handshake: false });
      const reply = client.replyTo(9);
      client.send(`{"jsonrpc":"2.0","method":"runtime.execute","id":9,"params":{"code":"1","globals":{"a":${deep(6000)}}}}`);
      assert.deepEqual((await reply).error, TOO_DEEP);
      await client.close();
    });

    it("returns a result up to MAX_DEPTH deep, and refuses a deeper one with 1000 (10,000 levels crashed main's sandbox, unanswered)", async () => {
      const client = await TestClient.connect(daemon.url);
      const nested = (depth: number) => ({ code: `let a = []; for (let i = 1; i < ${depth}; i++) a = [a]; a` });
      const reply = await client.execute(nested(128));
      let depth = 0;
      for (let value = reply.payload?.value; Array.isArray(value); value = value[0]) depth++;
      assert.equal(depth, 128);
      for (const tooDeep of [129, 10000]) {
        const error = (await client.execute(nested(tooDeep))).error;
        assert.equal(error?.code, 1000);
        assert.equal(error?.message, 'RangeError: result could not be serialized to JSON: nested deeper than 128 levels (MAX_DEPTH)');
      }
      await client.close();
    });

    it('logs at most 200 characters of a string the client chose', async () => {
      const client = await TestClient.connect(daemon.url);
      const call = 'x'.repeat(60000);
      await client.execute({ code: '1', call });
      const logged = () => daemon.output.find((l) => l.includes('"msg":"execution"') && l.includes('xxxxxxxxxx'));
      await until(() => logged() !== undefined, 'the execution logged');
      const line = logged();
      assert.ok(line !== undefined && line.length < 1000, `logged ${line?.length} characters`);
      assert.match(line, /… \[59800 more characters\]/);
      await client.close();
    });
  });

  describe('HTTP', () => {
    it('answers GET /healthz with 200, GET / with 405 (it takes POSTs and WebSockets), and other paths with 404', async () => {
      const base = daemon.url.replace('ws://', 'http://');
      const health = await fetch(new URL('/healthz', base));
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const root = await fetch(base);
      assert.equal(root.status, 405);
      assert.equal(root.headers.get('allow'), 'POST, OPTIONS');
      assert.equal((await fetch(new URL('/elsewhere', base))).status, 404);
    });

    it('accepts a plain ws client that never handshakes until it sends', async () => {
      const ws = new WebSocket(daemon.url);
      await new Promise((resolve) => ws.once('open', resolve));
      ws.close();
    });
  });
});

describe('connection bounds', () => {
  let daemon: RunningDaemon;
  const BIG = { code: 'function h(cb) { cb("x".repeat(90000)); }', call: 'h' };

  before(async () => {
    daemon = await startDaemon({
      POOL_SIZE: '1',
      // A connection runs one execution at a time (a quarter of 4): no more than one reply is on its way when its queue is held.
      MAX_CONCURRENT: '4',
      HANDSHAKE_TIMEOUT: '300',
      MAX_FRAME: '65536',
      RESULT_LIMIT: '100000',
      CONSOLE_LIMIT: '1000',
      MAX_UNSENT: '100000',
      UNSENT_TIMEOUT: '1000',
    });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('closes a WebSocket that sends no first frame within HANDSHAKE_TIMEOUT', async () => {
    const ws = new WebSocket(daemon.url);
    const opened = performance.now();
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    assert.equal(code, 1008);
    assert.equal(reason.toString(), 'no handshake within 300 ms');
    assert.ok(performance.now() - opened < 5000);
  });

  it('stops taking the work of a client that does not read its replies, and closes it after UNSENT_TIMEOUT', async () => {
    const opened = () => daemon.logs().filter((line) => line.msg === 'connection opened');
    const before = opened().length;
    const client = await TestClient.connect(daemon.url);
    // The daemon's id for this connection, once its log line is out.
    await until(() => opened().length > before, 'the connection logged');
    const connection = opened().at(-1)?.connection;
    // Executions that ran: those still queued when the connection closes are logged as cancelled (1007).
    const executions = () =>
      daemon.logs().filter((line) => line.msg === 'execution' && line.client === connection && line.code !== 1007).length;
    client.ws.pause();
    for (let id = 1; id <= 100; id++) client.send({ type: 'req', method: 'runtime.execute', id, payload: BIG });
    const closing = () => daemon.logs().find((line) => line.msg === 'closing a connection' && line.connection === connection);
    await until(() => closing() !== undefined, 'the daemon closing the connection');
    assert.equal(closing()?.reason, 'replies unread for 1000 ms');
    // 100 replies of 90 KB: what the socket buffers took, then nothing more ran.
    assert.ok(executions() < 60, `${executions()} of 100 executions ran for a client reading nothing`);
    client.ws.resume();
    await client.closed;
  });

  it('lets a client that reads slowly catch up, and answers all its requests', async () => {
    const client = await TestClient.connect(daemon.url);
    client.ws.pause();
    const replies = Array.from({ length: 60 }, () => client.execute(BIG));
    // Nothing runs while executions wait in the queue: the daemon holds this client's (its replies went unread).
    await until(async () => {
      const { queued, running } = await executionCounts(daemon);
      return running === 0 && queued > 0;
    }, "the daemon holding the client's executions");
    client.ws.resume();
    const values = (await Promise.all(replies)).map((reply) => (reply.payload?.value as string | undefined)?.length);
    assert.deepEqual(values, Array(60).fill(90000));
    await client.close();
  });
});
