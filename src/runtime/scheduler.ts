// Admission and dispatch: executions wait in a bounded fair queue and start as
// soon as the sandbox has a free slot.
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import type { ExecutionRequest, ExecutionResult, Sandbox } from '../sandbox/sandbox.js';
import { FairQueue } from './fair-queue.js';

interface Job {
  request: ExecutionRequest;
  enqueuedAt: number;
  resolve: (result: ExecutionResult) => void;
  reject: (error: RpcError) => void;
}

export class Scheduler {
  private readonly queue = new FairQueue<Job>();
  private running = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly sandbox: Sandbox,
    private readonly queueLimit: number,
    /** Told how long each execution waited for a sandbox, in seconds. */
    private readonly onStart: (waitedSeconds: number) => void = () => {},
  ) {}

  get capacity(): number {
    return this.sandbox.capacity;
  }

  get queued(): number {
    return this.queue.size;
  }

  get active(): number {
    return this.running;
  }

  /** Runs `request` for `client`; rejects with 1004 when the queue is full, 1006 once closed. */
  run(client: string, request: ExecutionRequest): Promise<ExecutionResult> {
    if (this.closed) return Promise.reject(errors.shuttingDown());
    if (this.running >= this.sandbox.capacity && this.queue.size >= this.queueLimit) {
      return Promise.reject(errors.busy('the execution queue is full'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push(client, { request, enqueuedAt: performance.now(), resolve, reject });
      this.pump();
    });
  }

  /** Forgets what a departed client still had queued. */
  cancel(client: string): void {
    for (const job of this.queue.remove(client)) job.reject(errors.shuttingDown());
    this.notifyIfIdle();
  }

  /** Takes no new work; queued work may start for `graceMs`, then is refused. Resolves when nothing runs. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const idle = this.idle();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([idle, grace]);
    clearTimeout(timer);
    for (const job of this.queue.clear()) job.reject(errors.shuttingDown());
    await this.idle();
  }

  private idle(): Promise<void> {
    if (this.running === 0 && this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.sandbox.capacity) {
      const job = this.queue.shift();
      if (job === undefined) return;
      this.running++;
      this.onStart((performance.now() - job.enqueuedAt) / 1000);
      const running = this.sandbox.start(job.request);
      running.result.then(job.resolve, job.reject);
      const free = () => {
        this.running--;
        this.pump();
        this.notifyIfIdle();
      };
      running.done.then(free, free);
    }
  }

  private notifyIfIdle(): void {
    if (this.running === 0 && this.queue.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
