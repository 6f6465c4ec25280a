// The Sandbox the daemon uses for one key: POOL_SIZE sandboxes (processes or
// containers, see link.ts), each hosting one isolated-vm isolate, so executions
// run in parallel and off the daemon's event loop.
import * as errors from '../errors.js';
import type { ExecutionRequest, Running, Sandbox } from './sandbox.js';
import { SandboxHost, type SandboxHostOptions } from './sandbox-host.js';

export class SandboxPool implements Sandbox {
  private readonly idle: SandboxHost[];

  private constructor(private readonly hosts: SandboxHost[]) {
    this.idle = [...hosts];
  }

  get capacity(): number {
    return this.hosts.length;
  }

  /** POOL_SIZE sandboxes, each made with `host`. */
  static async create(size: number, host: SandboxHostOptions): Promise<SandboxPool> {
    const hosts = await Promise.all(Array.from({ length: size }, () => SandboxHost.start(host)));
    return new SandboxPool(hosts);
  }

  start(request: ExecutionRequest): Running {
    // The longest idle: it has had the most time to make its next fresh context
    // (waiting for one costs more than compiling a script the sandbox has not seen).
    const host = this.idle.shift();
    if (host === undefined) {
      // The scheduler never starts more than `capacity`; reaching this is a bug, not load.
      return { result: Promise.reject(errors.internal()), done: Promise.resolve() };
    }
    const running = host.run(request);
    return { result: running.result, done: running.done.finally(() => this.idle.push(host)) };
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.close()));
  }
}
