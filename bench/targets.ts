// The per-feature targets, measured in the same run as the throughput
// table: one-connection latency, the compiled-script cache, the cost of
// `require`, idle connections' memory and POOL_SIZE scaling.
import type WebSocket from 'ws';
import { openConnection, percentile, runLoad } from './load.js';

export interface TargetRow {
  target: string;
  measured: string;
  met: boolean;
}

const HELLO = { code: 'function run(cb) { cb("hello world"); }', call: 'run' };
const LODASH = { code: 'function run(cb) { cb(require("lodash").chunk([1, 2, 3], 2)); }', call: 'run' };
const FIFTY_KB_BODY = Array.from({ length: 900 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i % 7}; }`).join('\n');

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const ms = (value: number) => `${value.toFixed(2)} ms`;

/** Sends scripts one after another on one connection; round-trip and execution `time` of each. */
async function sequential(ws: WebSocket, scripts: unknown[]): Promise<{ roundTrip: number[]; time: number[] }> {
  const roundTrip: number[] = [];
  const time: number[] = [];
  let id = 0;
  for (const script of scripts) {
    const sent = performance.now();
    const reply = await new Promise<{ payload?: { time: number }; error?: { message: string } }>((resolve) => {
      ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString())));
      ws.send(JSON.stringify({ type: 'req', method: 'runtime.execute', id: ++id, payload: script }));
    });
    if (reply.payload === undefined) throw new Error(`bench script failed: ${reply.error?.message}`);
    roundTrip.push(performance.now() - sent);
    time.push(reply.payload.time);
  }
  return { roundTrip, time };
}

async function oneConnectionP50(url: string, script: unknown, durationMs: number): Promise<number> {
  return (await runLoad({ url, connections: 1, inFlight: 1, durationMs, script: () => script })).p50;
}

export async function latencyTargets(url: string, baselineUrl: string, ceilingUrl: string, durationMs: number): Promise<TargetRow[]> {
  const hello = await oneConnectionP50(url, HELLO, durationMs);
  const helloVm = await oneConnectionP50(baselineUrl, HELLO, durationMs);
  const helloCeiling = await oneConnectionP50(ceilingUrl, HELLO, durationMs);
  const lodash = await oneConnectionP50(url, LODASH, durationMs);

  // 40 different 50 KB scripts, each sent twice in a row: the second finds it compiled.
  const ws = await openConnection(url);
  const first: number[] = [];
  const again: number[] = [];
  const firstTrip: number[] = [];
  const againTrip: number[] = [];
  for (let i = 0; i < 40; i++) {
    const script = { code: `${FIFTY_KB_BODY}\nfunction run(cb) { cb(f899(${i})); }`, call: 'run' };
    const { roundTrip, time } = await sequential(ws, [script, script]);
    first.push(time[0]);
    again.push(time[1]);
    firstTrip.push(roundTrip[0]);
    againTrip.push(roundTrip[1]);
  }
  ws.close();
  const cacheRatio = median(first) / median(again);

  return [
    {
      target: 'hello world, one connection: p50 ≤ 1 ms',
      measured: `${ms(hello)} (node:vm baseline ${ms(helloVm)}, protocol ceiling ${ms(helloCeiling)})`,
      met: hello <= 1,
    },
    {
      target: 'repeated 50 KB script ≥ 5× faster than its first run',
      measured: `execution time ${ms(median(first))} → ${ms(median(again))} (${cacheRatio.toFixed(1)}×); round trip ${ms(median(firstTrip))} → ${ms(median(againTrip))} (${(median(firstTrip) / median(againTrip)).toFixed(1)}×)`,
      met: cacheRatio >= 5,
    },
    {
      target: "require('lodash') adds ≤ 1 ms at p50",
      measured: `${ms(lodash)} − ${ms(hello)} = ${ms(lodash - hello)}`,
      met: lodash - hello <= 1,
    },
  ];
}

/** RSS growth of the daemon (in MB, from `rss`) with 1000 open, handshaken, idle connections. */
export async function idleConnectionsTarget(url: string, rss: () => number): Promise<TargetRow> {
  const before = rss();
  const sockets: WebSocket[] = [];
  for (let i = 0; i < 1000; i++) sockets.push(await openConnection(url));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = rss();
  for (const ws of sockets) ws.close();
  return { target: '1000 idle connections add ≤ 100 MB RSS', measured: `${before.toFixed(0)} → ${after.toFixed(0)} MB (+${(after - before).toFixed(0)} MB)`, met: after - before <= 100 };
}

/** Hello world at 16 connections on daemons with POOL_SIZE 1 and 2, alternated over rounds. */
export async function poolScalingTarget(urls: { one: string; two: string }, durationMs: number, rounds: number): Promise<TargetRow> {
  const one: number[] = [];
  const two: number[] = [];
  for (let round = 0; round < rounds; round++) {
    one.push((await runLoad({ url: urls.one, connections: 16, inFlight: 2, durationMs, script: () => HELLO })).perSecond);
    two.push((await runLoad({ url: urls.two, connections: 16, inFlight: 2, durationMs, script: () => HELLO })).perSecond);
  }
  const ratio = median(two) / median(one);
  return {
    target: 'POOL_SIZE=2 ≥ 1.6× the throughput of POOL_SIZE=1',
    measured: `${median(one).toFixed(0)}/s → ${median(two).toFixed(0)}/s (${ratio.toFixed(2)}×)`,
    met: ratio >= 1.6,
  };
}
