// A WebSocket load generator speaking Duplex: N connections, a fixed number of
// requests in flight on each, for a duration; reports executions per second,
// latency percentiles and errors.
import { once } from 'node:events';
import WebSocket from 'ws';

export interface LoadOptions {
  url: string;
  connections: number;
  inFlight: number;
  durationMs: number;
  /** The script for the n-th request. */
  script: (n: number) => unknown;
}

export interface LoadResult {
  executions: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: Record<string, number>;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function openConnection(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  ws.send('SIMPLEX/1.0;json');
  const [answer] = (await once(ws, 'message')) as [Buffer];
  if (answer.toString() !== '+OK') throw new Error(`handshake answered ${answer.toString()}`);
  return ws;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const sockets = await Promise.all(Array.from({ length: options.connections }, () => openConnection(options.url)));
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let sent = 0;
  const endsAt = performance.now() + options.durationMs;
  const started = performance.now();
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const sentAt = new Map<number, number>();
          let lastId = 0;
          const send = () => {
            const id = ++lastId;
            sentAt.set(id, performance.now());
            ws.send(JSON.stringify({ type: 'req', method: 'runtime.execute', id, payload: options.script(sent++) }));
          };
          ws.on('message', (data: Buffer) => {
            const reply = JSON.parse(data.toString()) as { id: number; error?: { code: number } };
            latencies.push(performance.now() - (sentAt.get(reply.id) ?? 0));
            sentAt.delete(reply.id);
            if (reply.error) errors[reply.error.code] = (errors[reply.error.code] ?? 0) + 1;
            if (performance.now() < endsAt) send();
            else if (sentAt.size === 0) resolve();
          });
          for (let i = 0; i < options.inFlight; i++) send();
        }),
    ),
  );
  const elapsed = performance.now() - started;
  for (const ws of sockets) ws.close();
  latencies.sort((a, b) => a - b);
  return {
    executions: latencies.length,
    perSecond: (latencies.length / elapsed) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}
