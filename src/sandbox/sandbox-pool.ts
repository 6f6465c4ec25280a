// The Sandbox the daemon uses for one key: POOL_SIZE sandboxes (processes or
// containers, see link.ts), each hosting one isolated-vm isolate in which many
// executions live side by side; together at most MAX_CONCURRENT. Waiting
// executions cost a sandbox nothing but memory; starting ones keep its thread
// busy, so a sandbox takes one at a time (the queue's fair order decides who
// is next), and only with memory to spare. A new execution goes to
// the sandbox starting the fewest, then running the fewest.
import type { ExecutionRequest, ExecutionResult, ExecutionWatch, Sandbox } from './sandbox.js';
import { SandboxHost, type SandboxHostOptions } from './sandbox-host.js';

/**
 * Executions a sandbox takes at once before the one it runs has answered or
 * waits. One: a second would wait behind the first on the sandbox's thread,
 * its time running, where in the queue it waits for free and may go to
 * another sandbox.
 */
const STARTING = 1;

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

  private constructor(readonly capacity: number) {}

  static async create(options: SandboxPoolOptions): Promise<SandboxPool> {
    const pool = new SandboxPool(options.capacity);
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
      if (host.starting >= STARTING || !host.hasRoom()) continue;
      if (chosen === undefined || host.starting < chosen.starting || (host.starting === chosen.starting && host.load < chosen.load))
        chosen = host;
    }
    return chosen?.run(request, watch);
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.close()));
  }
}
