// The Sandbox the daemon uses: POOL_SIZE sandbox processes, each hosting one
// isolated-vm isolate (see executor.ts), so executions run in parallel and off
// the daemon's event loop.
import type { Logger } from '../log.js';
import type { Outbound } from '../outbound/outbound.js';
import { ExecutorProcess } from './executor-process.js';
import type { ExecutorOptions } from './ipc.js';
import type { ExecutionRequest, Running, Sandbox } from './sandbox.js';
import * as errors from '../errors.js';

export class ProcessPool implements Sandbox {
  private readonly idle: ExecutorProcess[];

  private constructor(private readonly executors: ExecutorProcess[]) {
    this.idle = [...executors];
  }

  get capacity(): number {
    return this.executors.length;
  }

  static async create(size: number, options: ExecutorOptions, outbound: Outbound, log: Logger): Promise<ProcessPool> {
    const executors = await Promise.all(Array.from({ length: size }, () => ExecutorProcess.spawn(options, outbound, log)));
    return new ProcessPool(executors);
  }

  start(request: ExecutionRequest): Running {
    const executor = this.idle.pop();
    if (executor === undefined) {
      // The scheduler never starts more than `capacity`; reaching this is a bug, not load.
      return { result: Promise.reject(errors.internal()), done: Promise.resolve() };
    }
    const running = executor.run(request);
    return { result: running.result, done: running.done.finally(() => this.idle.push(executor)) };
  }

  async close(): Promise<void> {
    await Promise.all(this.executors.map((executor) => executor.close()));
  }
}
