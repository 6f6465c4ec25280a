// The isolated-vm implementation of Sandbox: POOL_SIZE workers, each one isolate.
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import { IsolateWorker } from './isolate-worker.js';
import { loadPrelude } from './prelude-source.js';
import type { ExecutionRequest, Running, Sandbox, SandboxLimits } from './sandbox.js';

export class IsolatePool implements Sandbox {
  private readonly idle: IsolateWorker[] = [];
  private readonly workers: IsolateWorker[] = [];

  private constructor(readonly capacity: number) {}

  static async create(size: number, limits: SandboxLimits, log: Logger): Promise<IsolatePool> {
    const pool = new IsolatePool(size);
    const prelude = loadPrelude();
    for (let i = 0; i < size; i++) {
      const worker = new IsolateWorker(limits, prelude, log);
      await worker.start();
      pool.workers.push(worker);
      pool.idle.push(worker);
    }
    return pool;
  }

  start(request: ExecutionRequest): Running {
    const worker = this.idle.pop();
    if (worker === undefined) {
      // The scheduler never starts more than `capacity`; reaching this is a bug, not load.
      return { result: Promise.reject(errors.internal()), done: Promise.resolve() };
    }
    const running = worker.run(request);
    return { result: running.result, done: running.done.finally(() => this.idle.push(worker)) };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
  }
}
