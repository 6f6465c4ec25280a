// The daemon's Prometheus metrics (prom-client), served at GET /metrics. Every
// layer records into this one registry; gauges of queues and pools are read
// when scraped.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RecycleReason, Usage } from './shared/contract.js';

export interface PoolState {
  key: string;
  queued: number;
  running: number;
  /** MAX_CONCURRENT. */
  capacity: number;
  /** POOL_SIZE. */
  sandboxes: number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly executions: Counter<'key' | 'outcome' | 'code'>;
  private readonly duration: Histogram<'key'>;
  private readonly queueWait: Histogram<'key'>;
  private readonly recycled: Counter<'key' | 'reason'>;
  private readonly connections: Gauge;
  private readonly bytes: Counter<'direction'>;
  private readonly cost: { [K in 'cpu' | 'heap' | 'fetches' | 'fetchBytes' | 'console']: Histogram<'key'> };

  constructor(pools: () => PoolState[]) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'javascriptd_' });
    this.executions = new Counter({
      name: 'javascriptd_executions_total',
      help: 'executions by outcome and error code',
      labelNames: ['key', 'outcome', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'javascriptd_execution_duration_seconds',
      help: 'time from request to reply, queueing included',
      labelNames: ['key'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'javascriptd_queue_wait_seconds',
      help: 'time an execution waited for a sandbox',
      labelNames: ['key'],
      buckets: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.recycled = new Counter({
      name: 'javascriptd_isolates_recycled_total',
      help: 'isolates replaced: with their sandbox (sandbox-lost; sandbox-memory: over SANDBOX_MEMORY), after hitting MEMORY_LIMIT (memory-limit), or still running past the outcome (still-running)',
      labelNames: ['key', 'reason'],
      registers,
    });
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, labelNames: ['key'], buckets, registers });
    const bytes = [1024, 16384, 262144, 1048576, 16777216, 134217728];
    this.cost = {
      cpu: histogram(
        'javascriptd_execution_cpu_seconds',
        "CPU time of an execution's calls into its isolate",
        [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      ),
      heap: histogram('javascriptd_execution_heap_bytes', 'how far the isolate heap grew during an execution', bytes),
      fetches: histogram('javascriptd_execution_fetch_requests', 'requests an execution handed to the daemon', [0, 1, 2, 5, 10, 20, 50]),
      fetchBytes: histogram('javascriptd_execution_fetch_bytes', 'bytes of request and response bodies of an execution', [0, ...bytes]),
      console: histogram('javascriptd_execution_console_bytes', 'bytes an execution printed', [0, ...bytes]),
    };
    this.connections = new Gauge({ name: 'javascriptd_connections', help: 'open WebSocket connections', registers });
    this.bytes = new Counter({
      name: 'javascriptd_websocket_bytes_total',
      help: 'WebSocket message bytes',
      labelNames: ['direction'],
      registers,
    });
    const gauge = (name: string, help: string, read: (p: PoolState) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['key'],
        registers,
        collect() {
          for (const pool of pools()) this.set({ key: pool.key }, read(pool));
        },
      });
    gauge('javascriptd_queue_depth', 'executions waiting in the queue to start', (p) => p.queued);
    gauge('javascriptd_executions_running', 'executions running, waiting ones included', (p) => p.running);
    gauge('javascriptd_executions_max', 'executions that may run at once (MAX_CONCURRENT)', (p) => p.capacity);
    gauge('javascriptd_pool_size', 'sandboxes (POOL_SIZE)', (p) => p.sandboxes);
  }

  /** One finished execution: `code` undefined means it succeeded. */
  execution(key: string, code: number | undefined, seconds: number): void {
    this.executions.inc({ key, outcome: code === undefined ? 'ok' : 'error', code: code === undefined ? '' : String(code) });
    this.duration.observe({ key }, seconds);
  }

  /** What one execution cost (whether or not its caller asked). */
  usage(key: string, usage: Usage): void {
    this.cost.cpu.observe({ key }, usage.cpuMs / 1000);
    this.cost.heap.observe({ key }, usage.heapBytes);
    this.cost.fetches.observe({ key }, usage.fetchRequests);
    this.cost.fetchBytes.observe({ key }, usage.fetchBytesOut + usage.fetchBytesIn);
    this.cost.console.observe({ key }, usage.consoleBytes);
  }

  waited(key: string, seconds: number): void {
    this.queueWait.observe({ key }, seconds);
  }

  isolateRecycled(key: string, reason: RecycleReason): void {
    this.recycled.inc({ key, reason });
  }

  connectionOpened(): void {
    this.connections.inc();
  }

  connectionClosed(): void {
    this.connections.dec();
  }

  transferred(direction: 'in' | 'out', bytes: number): void {
    this.bytes.inc({ direction }, bytes);
  }
}
