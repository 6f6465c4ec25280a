// The Sandbox the daemon uses for one key: POOL_SIZE sandboxes (processes or
// containers, see link.ts), each running many executions side by side, each
// execution in an isolate of its own; together at most MAX_CONCURRENT.
// Waiting executions cost a sandbox nothing but memory. Computing ones each
// take a thread, which the OS time-slices over the cores: a sandbox starts a
// few at a time (the queue's fair order decides who is next), and one that
// computes past its first slice makes room for the next to start beside it,
// up to a bound on those computing at once (compute-slots.ts) — so a light
// call never waits for a busy loop, and overload costs latency, not answers.
// A new execution goes to the sandbox computing the fewest, then running the
// fewest, and only to one with memory to spare.
import type { ExecutionRequest, ExecutionResult } from '../shared/contract.js';
import { type ComputeSlots, computeSlots } from './compute-slots.js';
import type { ExecutionWatch, Sandbox } from './sandbox.js';
import { SandboxHost, type SandboxHostOptions } from './sandbox-host.js';

export interface SandboxPoolOptions {
  /** POOL_SIZE. */
  size: number;
  /** MAX_CONCURRENT. */
  capacity: number;
  host: Omit<SandboxHostOptions, 'onAvailable'>;
}

export class SandboxPool implements Sandbox {
  private hosts: SandboxHost[] = [];
  private available: () => void = () => {};

  private constructor(
    readonly capacity: number,
    private readonly slots: ComputeSlots,
  ) {}

  static async create(options: SandboxPoolOptions): Promise<SandboxPool> {
    const pool = new SandboxPool(options.capacity, computeSlots(options.size));
    pool.hosts = await Promise.all(
      Array.from({ length: options.size }, () => SandboxHost.start({ ...options.host, onAvailable: () => pool.available() })),
    );
    return pool;
  }

  onAvailable(listener: () => void): void {
    this.available = listener;
  }

  start(request: ExecutionRequest, watch: ExecutionWatch): Promise<ExecutionResult> | undefined {
    let chosen: SandboxHost | undefined;
    for (const host of this.hosts) {
      if (host.starting >= this.slots.starting || host.computing >= this.slots.computing || !host.hasRoom()) continue;
      if (chosen === undefined || host.computing < chosen.computing || (host.computing === chosen.computing && host.load < chosen.load))
        chosen = host;
    }
    return chosen?.run(request, watch);
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.close()));
  }
}
