// JSON-RPC 2.0 over HTTP POST, with the real curl (as a CI job calls it) and,
// where curl is awkward, Node's own HTTP: one request or a batch per body,
// notifications unanswered, the WebSocket's admission (secret, Host, Origin),
// the body bounded while it is read, and a client that leaves cancelling its
// executions.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curl, JSON_HEADER } from './helpers/curl.js';
import { executionCounts, executionLines, httpBase, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { curlMissing, describeWithEngine } from './helpers/engines.js';
import { until } from './helpers/poll.js';

const SECRET = 'http-rpc-secret';
/** 1 MiB: small enough that a body far past it is quick to make. */
const MAX_FRAME = 1 << 20;
const LISTED_ORIGIN = 'http://app.example';

interface Reply {
  id: unknown;
  result?: { value: unknown; console: string[]; cancelled?: boolean };
  error?: { code: number };
}

/** A runtime.execute request, `id` left out for a notification. */
const execute = (code: string, id?: number | string) => ({
  jsonrpc: '2.0',
  method: 'runtime.execute',
  params: { code },
  ...(id === undefined ? {} : { id }),
});
/** A script no other test sends (its execution lines are its own), whose value is 42. */
const unique = (what: string) => `6 * 7 // ${what} ${Math.random()}`;
const ran = (daemon: RunningDaemon, code: string) => executionLines(daemon, code).length;
const post = (daemon: RunningDaemon, body: unknown, args: string[] = []) =>
  curl([...JSON_HEADER, '--data-binary', JSON.stringify(body), ...args, httpBase(daemon)]);

/**
 * Runs a script and waits for its log line: the daemon logs an execution before
 * it answers, so every execution of a request answered before is logged by then.
 */
async function logCaughtUp(daemon: RunningDaemon, args: string[] = []): Promise<void> {
  const code = unique('control');
  assert.equal((await post(daemon, execute(code, 'control'), args)).status, 200);
  await until(() => ran(daemon, code) === 1, 'the control execution logged');
}

describeWithEngine('JSON-RPC over HTTP, with curl', curlMissing, function () {
  this.timeout(30000);
  const daemon = useDaemon({ POOL_SIZE: '1', MAX_FRAME: String(MAX_FRAME), MAX_IN_FLIGHT: '4' });
  const guarded = useDaemon({ POOL_SIZE: '1', SECRET, ALLOWED_ORIGINS: LISTED_ORIGIN });

  it('runs one request: 200 with its JSON-RPC reply', async () => {
    const code = `console.log('hi'); ${unique('one')}`;
    const answer = await post(daemon, execute(code, 7));
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'application/json');
    const reply = JSON.parse(answer.body);
    assert.deepEqual(
      { ...reply, result: { ...reply.result, time: 0 } },
      {
        jsonrpc: '2.0',
        id: 7,
        result: { value: 42, console: ['hi'], time: 0 },
      },
    );
    await until(() => ran(daemon, code) === 1, 'the execution logged');
  });

  it('answers a batch with one array, a reply for each member with an id; its notification runs unanswered', async () => {
    const notification = unique('batch notification');
    const answer = await post(daemon, [
      execute('6 * 7', 1),
      execute(notification),
      { jsonrpc: '2.0', id: 'x', method: 'no.such' },
      { jsonrpc: '2.0', id: 2, method: 'runtime.execute', params: { code: 1 } },
    ]);
    assert.equal(answer.status, 200);
    const replies = new Map((JSON.parse(answer.body) as Reply[]).map((reply) => [reply.id, reply]));
    assert.deepEqual([...replies.keys()].sort(), [1, 2, 'x']);
    assert.equal(replies.get(1)?.result?.value, 42);
    assert.equal(replies.get('x')?.error?.code, -32601);
    assert.equal(replies.get(2)?.error?.code, -32602);
    await until(() => ran(daemon, notification) === 1, 'the notification run');
  });

  it('answers a body of notifications only with 204 and no body; they run', async () => {
    const codes = [unique('notification a'), unique('notification b')];
    const answer = await post(
      daemon,
      codes.map((code) => execute(code)),
    );
    assert.equal(answer.status, 204);
    assert.equal(answer.body, '');
    await until(() => codes.every((code) => ran(daemon, code) === 1), 'both notifications run');
    const single = unique('single notification');
    assert.equal((await post(daemon, execute(single))).status, 204);
    await until(() => ran(daemon, single) === 1, 'the notification run');
  });

  it('refuses a missing or wrong secret with 401 and runs nothing; the right one as Bearer or x-runtime-secret runs', async () => {
    const refused = [
      [],
      ['-H', 'authorization: Bearer wrong'],
      ['-H', 'x-runtime-secret: wrong'],
      ['-H', `x-runtime-secret: ${SECRET}`, '-H', 'authorization: Bearer other'],
    ];
    const codes = refused.map((_, i) => unique(`refused ${i}`));
    for (const [i, args] of refused.entries()) {
      const answer = await post(guarded, execute(codes[i], 1), args);
      assert.equal(answer.status, 401, args.join(' '));
      assert.equal(answer.headers['www-authenticate'], 'Bearer');
    }
    const accepted = [unique('bearer'), unique('header')];
    assert.equal((await post(guarded, execute(accepted[0], 1), ['-H', `authorization: Bearer ${SECRET}`])).status, 200);
    assert.equal((await post(guarded, execute(accepted[1], 1), ['-H', `x-runtime-secret: ${SECRET}`])).status, 200);
    await until(() => accepted.every((code) => ran(guarded, code) === 1), 'the accepted requests logged');
    assert.deepEqual(
      codes.map((code) => ran(guarded, code)),
      [0, 0, 0, 0],
    );
  });

  it('refuses a body over MAX_FRAME with 413, by its Content-Length or as it is read, and runs nothing', async () => {
    const code = `'${'x'.repeat(MAX_FRAME)}'.length`;
    const file = join(tmpdir(), `javascriptd-large-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(execute(code, 1)));
    const declared = await curl([...JSON_HEADER, '--data-binary', `@${file}`, httpBase(daemon)]);
    assert.equal(declared.status, 413);
    assert.equal(declared.body, `a body larger than ${MAX_FRAME} bytes (MAX_FRAME)\n`);
    const chunked = await curl([...JSON_HEADER, '-H', 'transfer-encoding: chunked', '--data-binary', `@${file}`, httpBase(daemon)]);
    assert.equal(chunked.status, 413);
    await logCaughtUp(daemon);
    assert.equal(ran(daemon, code), 0);
  });

  it('refuses any Content-Type but application/json (UTF-8) with 415, so a browser cannot send one without asking first', async () => {
    const code = unique('content type');
    const body = JSON.stringify(execute(code, 1));
    for (const type of [
      undefined,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
    ]) {
      const args = type === undefined ? ['-H', 'content-type:'] : ['-H', `content-type: ${type}`];
      assert.equal((await curl([...args, '--data-binary', body, httpBase(daemon)])).status, 415, String(type));
    }
    await logCaughtUp(daemon);
    assert.equal(ran(daemon, code), 0);
    const utf8 = await curl(['-H', 'content-type: application/json; charset=UTF-8', '--data-binary', body, httpBase(daemon)]);
    assert.equal(utf8.status, 200);
  });

  it('answers GET, PUT and HEAD on / with 405 and Allow: POST, OPTIONS', async () => {
    for (const args of [[], ['-X', 'PUT'], ['-I']]) {
      const answer = await curl([...args, httpBase(daemon)]);
      assert.equal(answer.status, 405, args.join(' '));
      assert.equal(answer.headers.allow, 'POST, OPTIONS');
    }
  });

  it('refuses a POST for a host name re-pointed at loopback (DNS rebinding) with 403, and runs nothing', async () => {
    const code = unique('rebinding');
    const { port } = daemon;
    const rebound = await curl([
      ...JSON_HEADER,
      '--data-binary',
      JSON.stringify(execute(code, 1)),
      '--resolve',
      `rebound.example:${port}:127.0.0.1`,
      `http://rebound.example:${port}/`,
    ]);
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /^Host not allowed/);
    assert.equal((await post(daemon, execute(code, 1), ['-H', `host: evil.example:${port}`])).status, 403);
    await logCaughtUp(daemon, ['-H', `host: localhost:${port}`]);
    assert.equal(ran(daemon, code), 0);
  });

  it('refuses a POST from a page on another origin with 403, secret or not, and runs nothing; its own origin and a listed one run', async () => {
    const code = unique('origin');
    const bearer = ['-H', `authorization: Bearer ${SECRET}`];
    assert.equal((await post(daemon, execute(code, 1), ['-H', 'origin: http://evil.example'])).status, 403);
    assert.equal((await post(guarded, execute(code, 1), [...bearer, '-H', 'origin: http://evil.example'])).status, 403);
    assert.equal((await post(daemon, execute('1', 1), ['-H', `origin: ${new URL(httpBase(daemon)).origin}`])).status, 200);
    const listed = await post(guarded, execute('1', 1), [...bearer, '-H', `origin: ${LISTED_ORIGIN}`]);
    assert.equal(listed.status, 200);
    assert.equal(listed.headers['access-control-allow-origin'], LISTED_ORIGIN);
    await logCaughtUp(daemon);
    await logCaughtUp(guarded, bearer);
    assert.equal(ran(daemon, code) + ran(guarded, code), 0);
  });

  it('answers a CORS preflight only for an allowed origin: 204 allowing the secret headers; 403 for any other', async () => {
    const preflight = (target: RunningDaemon, origin: string) =>
      curl([
        '-X',
        'OPTIONS',
        '-H',
        `origin: ${origin}`,
        '-H',
        'access-control-request-method: POST',
        '-H',
        'access-control-request-headers: content-type',
        httpBase(target),
      ]);
    const listed = await preflight(guarded, LISTED_ORIGIN);
    assert.equal(listed.status, 204);
    assert.equal(listed.headers['access-control-allow-origin'], LISTED_ORIGIN);
    assert.equal(listed.headers['access-control-allow-methods'], 'POST');
    assert.equal(listed.headers['access-control-allow-headers'], 'content-type, authorization, x-runtime-secret');
    for (const [target, origin] of [
      [guarded, 'http://evil.example'],
      [daemon, LISTED_ORIGIN],
    ] as const) {
      const refused = await preflight(target, origin);
      assert.equal(refused.status, 403, origin);
      assert.equal(refused.headers['access-control-allow-origin'], undefined);
    }
  });

  it('stops the executions of a client that disconnects before its answer (1007), as runtime.cancel would', async () => {
    const code = `function wait(cb) { setTimeout(() => cb('too late'), 25000); } // ${Math.random()}`;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'runtime.execute', params: { code, call: 'wait', timeout: 30000 } });
    const client = spawn('curl', ['-sS', ...JSON_HEADER, '--data-binary', body, httpBase(daemon)], { stdio: 'ignore' });
    const exited = once(client, 'exit');
    await until(async () => (await executionCounts(daemon)).running === 1, 'the execution running');
    client.kill('SIGTERM');
    await exited;
    await until(() => ran(daemon, code) === 1, 'the execution ended');
    assert.equal(executionLines(daemon, code)[0].code, 1007);
  });
});

describe('JSON-RPC over HTTP, from Node', function () {
  this.timeout(30000);
  const daemon = useDaemon({ POOL_SIZE: '1', MAX_FRAME: String(MAX_FRAME), MAX_IN_FLIGHT: '4', MAX_DEPTH: '16' });
  const fetchJson = async (body: string) => {
    const answer = await fetch(httpBase(daemon), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(answer.status, 200);
    return answer.json() as Promise<Reply & Reply[]>;
  };

  it('stops reading a body at MAX_FRAME: a client streaming 64 MiB gets its 413 having sent a small part of it', async () => {
    const req = request(httpBase(daemon), { method: 'POST', headers: { 'content-type': 'application/json' } });
    const chunk = Buffer.alloc(64 * 1024, ' ');
    let written = 0;
    const answered = new Promise<{ status: number; at: number }>((resolve) => {
      req.once('response', (res) => resolve({ status: res.statusCode ?? 0, at: written }));
      // After the answer, writing on is refused (EPIPE); before it, no answer came.
      req.on('error', () => resolve({ status: 0, at: written }));
    });
    const pump = () => {
      while (written < 64 * 1024 * 1024 && !req.destroyed) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
    const { status, at } = await answered;
    req.destroy();
    assert.equal(status, 413);
    // What the daemon read, and what the two sockets' buffers hold: never the whole body.
    assert.ok(at < 16 * 1024 * 1024, `answered after ${at} bytes of 64 MiB`);
  });

  it('answers a JSON-RPC body that is not one as the WebSocket does: -32700, -32600 (empty batch, too deep), 1004 past MAX_IN_FLIGHT', async () => {
    assert.equal((await fetchJson('{"jsonrpc":')).error?.code, -32700);
    assert.equal((await fetchJson('[]')).error?.code, -32600);
    const deep = await fetchJson(
      JSON.stringify({ ...execute('1', 3), params: { code: '1', globals: JSON.parse(`${'['.repeat(20)}${']'.repeat(20)}`) } }),
    );
    assert.deepEqual(deep, {
      jsonrpc: '2.0',
      id: 3,
      error: { code: -32600, message: 'Invalid request', data: { detail: 'nested deeper than 16 levels (MAX_DEPTH)' } },
    });
    const replies = await fetchJson(JSON.stringify([1, 2, 3, 4, 5, 6].map((id) => execute('1', id))));
    assert.deepEqual(replies.map((reply) => reply.error?.code).sort(), [1004, 1004, undefined, undefined, undefined, undefined]);
  });

  it('does not stream over HTTP: a request with stream: true gets one reply, with every console line in it', async () => {
    const code = 'function run(cb) { console.log(1); setTimeout(() => { console.log(2); cb(3); }, 50); }';
    const reply = await fetchJson(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'runtime.execute', params: { code, call: 'run', stream: true } }),
    );
    assert.deepEqual([reply.result?.value, reply.result?.console], [3, ['1', '2']]);
  });

  it('lets runtime.cancel reach a request of the same body', async () => {
    const code = "function wait(cb) { setTimeout(() => cb('late'), 20000); }";
    const replies = await fetchJson(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'slow', method: 'runtime.execute', params: { code, call: 'wait', timeout: 25000 } },
        { jsonrpc: '2.0', id: 'stop', method: 'runtime.cancel', params: { id: 'slow' } },
      ]),
    );
    const byId = new Map(replies.map((reply) => [reply.id, reply]));
    assert.equal(byId.get('slow')?.error?.code, 1007);
    assert.deepEqual(byId.get('stop')?.result, { cancelled: true });
  });
});
