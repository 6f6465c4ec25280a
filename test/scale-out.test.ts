// Scale-out for real: two daemons behind HAProxy on loopback. One is killed
// with SIGKILL mid-load; a client that reconnects and resends what went
// unanswered gets every call answered exactly once, by the survivor.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket from 'ws';
import { type RunningDaemon, startDaemon } from './helpers/daemon.js';
import { type RunningProxy, startHaproxy } from './helpers/haproxy.js';

const SECRET = 'scale-out-secret';
const CALLS = 600;
const LANES = 6;
const IN_FLIGHT = 4;

interface Reply {
  type: string;
  id: number;
  payload?: { value: unknown };
  error?: { code: number; message: string };
}

/** A connection through the balancer, after the Duplex handshake; rejects if it cannot be made. */
async function connect(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { 'x-runtime-secret': SECRET } });
  ws.on('error', () => {});
  await Promise.race([once(ws, 'open'), once(ws, 'close').then(() => Promise.reject(new Error('closed')))]);
  ws.send('SIMPLEX/1.0;json');
  const [answer] = (await once(ws, 'message')) as [Buffer];
  if (answer.toString() !== '+OK') throw new Error(`handshake answered ${answer.toString()}`);
  return ws;
}

/**
 * Runs `calls` on one connection at a time, IN_FLIGHT at once; when the
 * connection drops, reconnects with backoff and resends every call that has no
 * reply yet. Each reply is recorded under its call.
 */
async function lane(url: string, calls: number[], replies: Map<number, Reply[]>, onReply: () => void): Promise<void> {
  const unanswered = new Set(calls);
  let failures = 0;
  while (unanswered.size > 0) {
    let ws: WebSocket;
    try {
      ws = await connect(url);
      failures = 0;
    } catch {
      if (++failures > 50) throw new Error('could not reconnect through the balancer');
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, 20 * 2 ** failures)));
      continue;
    }
    const queue = [...unanswered];
    let inFlight = 0;
    const sendMore = () => {
      while (inFlight < IN_FLIGHT && queue.length > 0) {
        const n = queue.shift()!;
        inFlight++;
        ws.send(JSON.stringify({ type: 'req', method: 'runtime.execute', id: n, payload: { code: 'n * 2', globals: { n } } }));
      }
      if (inFlight === 0) ws.close();
    };
    ws.on('message', (data: Buffer) => {
      const reply = JSON.parse(data.toString()) as Reply;
      replies.set(reply.id, [...(replies.get(reply.id) ?? []), reply]);
      unanswered.delete(reply.id);
      inFlight--;
      onReply();
      sendMore();
    });
    const closed = once(ws, 'close');
    sendMore();
    await closed;
  }
}

function executions(daemon: RunningDaemon): number {
  return daemon.logs().filter((line) => line.msg === 'execution' && line.outcome === 'ok').length;
}

describe('scale-out behind HAProxy', function () {
  this.timeout(60000);
  let daemons: RunningDaemon[] = [];
  let proxy: RunningProxy | undefined;

  before(async () => {
    daemons = await Promise.all([startDaemon({ SECRET }), startDaemon({ SECRET })]);
    proxy = await startHaproxy(daemons.map((daemon) => daemon.port));
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all(daemons.map((daemon) => daemon.stop('SIGKILL')));
  });

  it('spreads calls over both daemons; after one is SIGKILLed mid-load, retries land every call once on the survivor', async () => {
    const [victim, survivor] = daemons;
    const replies = new Map<number, Reply[]>();
    let answered = 0;
    let killedAfter = 0;
    const kill = () => {
      if (++answered === CALLS / 4) {
        killedAfter = executions(victim);
        victim.process.kill('SIGKILL');
      }
    };
    const numbers = Array.from({ length: CALLS }, (_, i) => i + 1);
    await Promise.all(Array.from({ length: LANES }, (_, lane_) => lane(proxy!.url, numbers.filter((n) => n % LANES === lane_), replies, kill)));

    assert.equal(await victim.stop(), null, 'the victim was killed by a signal');
    assert.ok(killedAfter > 0, 'the victim served calls before it was killed');
    const servedBySurvivor = executions(survivor);
    assert.ok(servedBySurvivor > 0 && servedBySurvivor + killedAfter >= CALLS, `survivor ${servedBySurvivor}, victim ${killedAfter}`);
    for (const n of numbers) {
      const got = replies.get(n) ?? [];
      assert.equal(got.length, 1, `call ${n} got ${got.length} replies`);
      assert.deepEqual(got[0].error, undefined, `call ${n} failed: ${JSON.stringify(got[0].error)}`);
      assert.equal(got[0].payload?.value, n * 2);
    }
  });
});
