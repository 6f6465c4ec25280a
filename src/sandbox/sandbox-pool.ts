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

import { type ComputeSlots, computeSlots } from '../compute-slots.js';
import type { ExecutionRequest, ExecutionResult } from '../shared/contract.js';
import type { ExecutionWatch, Sandbox } from './sandbox.js';
import { SandboxHost, type SandboxHostOptions } from './sandbox-host.js';

export interface SandboxPoolOptions {
  /** POOL_SIZE. */
  size: number;
  /** MAX_CONCURRENT. */
  capacity: number;
  host: Omit<SandboxHostOptions, 'onAvailable' | 'onWedged'>;
}

export class SandboxPool implements Sandbox {
  private hosts: SandboxHost[] = [];
  /** Wedged sandboxes whose replacement is on its way. */
  private readonly replacing = new Set<SandboxHost>();
  /** Replaced sandboxes: they finish what they run, then close. */
  private readonly retiring = new Set<Promise<void>>();
  private available: () => void = () => {};

  private constructor(
    private readonly options: SandboxPoolOptions,
    private readonly slots: ComputeSlots,
  ) {}

  get capacity(): number {
    return this.options.capacity;
  }

  static async create(options: SandboxPoolOptions): Promise<SandboxPool> {
    const pool = new SandboxPool(options, computeSlots(options.size));
    pool.hosts = await Promise.all(Array.from({ length: options.size }, () => pool.startHost()));
    return pool;
  }

  private startHost(): Promise<SandboxHost> {
    const host: Promise<SandboxHost> = SandboxHost.start({
      ...this.options.host,
      onAvailable: () => this.available(),
      onWedged: () => void host.then((wedged) => this.replace(wedged)),
    });
    return host;
  }

  /**
   * Replaces a sandbox with a thread it cannot stop (it holds a core): once a
   * new one is up, it takes the old one's place, while the old one finishes
   * the executions it runs — they keep their answers — and then closes.
   */
  private async replace(wedged: SandboxHost): Promise<void> {
    if (this.replacing.has(wedged)) return;
    this.replacing.add(wedged);
    this.options.host.log.warn('a sandbox has a thread it cannot stop; replacing it, once its executions are over');
    let fresh: SandboxHost;
    try {
      fresh = await this.startHost();
    } catch (err) {
      // Without a replacement, the wedged one serves on rather than leave the key a sandbox short.
      this.options.host.log.error({ err }, 'could not start a sandbox to replace a wedged one');
      this.replacing.delete(wedged);
      return;
    }
    const index = this.hosts.indexOf(wedged);
    if (index === -1) {
      await fresh.close();
      return;
    }
    this.hosts[index] = fresh;
    const retired = wedged
      .retire()
      .catch((err: unknown) => this.options.host.log.error({ err }, 'could not close a wedged sandbox'))
      .finally(() => {
        this.retiring.delete(retired);
        this.replacing.delete(wedged);
      });
    this.retiring.add(retired);
    this.available();
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
    await Promise.all([...this.hosts.map((host) => host.close()), ...this.retiring]);
  }
}
