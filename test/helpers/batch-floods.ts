// Floods of JSON-RPC batches, and the same work sent as single requests, each
// against a fresh daemon with the default settings (RSS freed by an earlier
// flood is kept by the process and would hide growth) while the resident
// memory of the daemon and its sandbox processes is read every 25 ms. Used by
// test/batch-floods.test.ts and bench/batch-floods.ts.
import { setTimeout as delay } from 'node:timers/promises';
import { TestClient, within } from './client.js';
import { metricSample, metricsText, type RunningDaemon, startDaemon } from './daemon.js';
import { RssSampler } from './rss.js';

export interface Growth {
  /** Daemon + sandboxes: peak RSS past idle, bytes. */
  total: number;
  /** The daemon process alone: peak RSS past idle, bytes. */
  daemon: number;
  /** Daemon + sandboxes when idle, bytes. */
  idle: number;
}

export interface FloodResult {
  growth: Growth;
  /** Each reply's outcome: "value", or an error's code and reason. */
  outcomes: string[];
}

type Flood = (daemon: RunningDaemon) => Promise<string[]>;

/** Runs `flood` against a fresh daemon, warmed up first; measures how far its RSS grew past idle. */
export async function measure(flood: Flood): Promise<FloodResult> {
  const daemon = await startDaemon({});
  const { pid } = daemon.process;
  if (pid === undefined) throw new Error('the daemon has no pid');
  try {
    // Both sandboxes warmed up before the baseline is read.
    const client = await TestClient.connect(daemon.url);
    await Promise.all(Array.from({ length: 8 }, () => client.execute({ code: '"x".repeat(1000)' })));
    await client.close();
    const rss = new RssSampler(pid, 25);
    const outcomes = await flood(daemon);
    rss.stop();
    const [idle] = rss.samples;
    const peakDaemon = Math.max(...rss.samples.map((s) => s.root));
    return { growth: { total: (rss.peak()?.total ?? 0) - idle.total, daemon: peakDaemon - idle.root, idle: idle.total }, outcomes };
  } finally {
    await daemon.stop('SIGKILL');
  }
}

const BIG = {
  code: `function f(cb) { setTimeout(() => cb("big"), 500); } /*${'p'.repeat(3_800_000)}*/`,
  call: 'f',
};
const MB_RESULT = { code: '"x".repeat(1000000)' };
const request = (id: number, params: unknown) => JSON.stringify({ jsonrpc: '2.0', method: 'runtime.execute', params, id });
const notification = JSON.stringify({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: '1' } });

interface RpcReply {
  error?: { code: number; data?: Record<string, unknown> };
}

const outcome = (reply: RpcReply) =>
  reply.error === undefined ? 'value' : `${reply.error.code} ${String(reply.error.data?.reason ?? '')}`.trim();

/** 30 batches of a 3.8 MB script (a request) and 99 notifications from each of two connections, sent at once. */
export const bigScriptBatches: Flood = async (daemon) => {
  const batch = (id: number) => `[${request(id, BIG)},${Array(99).fill(notification).join(',')}]`;
  const clients = await Promise.all([1, 2].map(() => TestClient.connect(daemon.url, { handshake: false })));
  const replies = await Promise.all(
    clients.map(async (client, c) => {
      for (let id = 0; id < 30; id++) client.send(batch(id));
      // Each batch is answered with an array holding the big script's reply.
      const frames: string[] = [];
      while (frames.length < 30) frames.push(await within(client.next(90000), 90000, `the replies of connection ${c}`));
      return frames.flatMap((frame) => JSON.parse(frame) as RpcReply[]);
    }),
  );
  await Promise.all(clients.map((client) => client.close()));
  return replies.flat().map(outcome);
};

/** The same 60 scripts as single requests, 30 from each of two connections. */
export const bigScriptRequests: Flood = async (daemon) => {
  const clients = await Promise.all([1, 2].map(() => TestClient.connect(daemon.url)));
  const replies = await Promise.all(clients.flatMap((client) => Array.from({ length: 30 }, () => client.execute(BIG))));
  await Promise.all(clients.map((client) => client.close()));
  return replies.map(outcome);
};

/**
 * Three clients that do not read, each sending one batch of 60 requests for 1
 * MB results; done once every execution is logged (run, or cancelled with its
 * connection) and each batch's reply frame is made and sent (as far as the
 * socket takes it), or its connection closed. No reply is read: no outcomes.
 */
export const unreadMbBatches: Flood = async (daemon) => {
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(daemon.url, { handshake: false })));
  const logged = (msg: string) => daemon.logs().filter((line) => line.msg === msg).length;
  const sent = async () => metricSample(await metricsText(daemon), 'javascriptd_websocket_bytes_total{direction="out"}');
  const [ranBefore, closedBefore, sentBefore] = [logged('execution'), logged('connection closed'), await sent()];
  for (const client of clients) {
    client.ws.pause();
    client.send(`[${Array.from({ length: 60 }, (_, id) => request(id, MB_RESULT)).join(',')}]`);
  }
  const framesOut = async () => (await sent()) - sentBefore >= 3 * 3_000_000 || logged('connection closed') - closedBefore === 3;
  while (logged('execution') - ranBefore < 180 || !(await framesOut())) await delay(50);
  for (const client of clients) client.ws.terminate();
  return [];
};

/** The same 180 executions as single requests, from three clients that read their replies. */
export const readMbRequests: Flood = async (daemon) => {
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(daemon.url)));
  const replies = await Promise.all(clients.flatMap((client) => Array.from({ length: 60 }, () => client.execute(MB_RESULT))));
  await Promise.all(clients.map((client) => client.close()));
  return replies.map(outcome);
};
