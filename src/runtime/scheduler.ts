// Admission and dispatch: executions wait in a bounded fair queue and start as
// soon as the sandbox has a free slot.
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import type { ExecutionRequest, ExecutionResult, Running, Sandbox } from '../sandbox/sandbox.js';
import { FairQueue, type QueueBounds } from './fair-queue.js';

interface Job {
  request: ExecutionRequest;
  enqueuedAt: number;
  resolve: (result: ExecutionResult) => void;
  reject: (error: RpcError) => void;
}

export interface SchedulerOptions {
  sandbox: Sandbox;
  /** QUEUE_LIMIT and QUEUE_BYTES. */
  bounds: QueueBounds;
  /** Told how long each execution waited for a sandbox, in seconds. */
  onStart?: (waitedSeconds: number) => void;
}

export class Scheduler {
  private readonly sandbox: Sandbox;
  private readonly queue: FairQueue<Job>;
  private readonly onStart: (waitedSeconds: number) => void;
  private running = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: SchedulerOptions) {
    this.sandbox = options.sandbox;
    this.queue = new FairQueue(options.bounds);
    this.onStart = options.onStart ?? (() => {});
  }

  get capacity(): number {
    return this.sandbox.capacity;
  }

  get queued(): number {
    return this.queue.size;
  }

  get active(): number {
    return this.running;
  }

  /**
   * Runs `request` for `client`; `bytes` (its frame's size) counts against
   * QUEUE_BYTES while it waits. Rejects with 1004 when the queue is full and
   * the client already holds its share, 1006 once closed.
   */
  run(client: string, request: ExecutionRequest, bytes: number): Promise<ExecutionResult> {
    if (this.closed) return Promise.reject(errors.shuttingDown());
    const { promise, resolve, reject } = Promise.withResolvers<ExecutionResult>();
    const job: Job = { request, enqueuedAt: performance.now(), resolve, reject };
    if (this.running < this.sandbox.capacity && this.queue.size === 0) {
      this.start(job);
      return promise;
    }
    const admission = this.queue.push(client, job, bytes);
    if (!admission.admitted) return Promise.reject(errors.busy(admission.reason));
    for (const evicted of admission.evicted) evicted.reject(errors.busy('the execution queue is full and this connection held more of it than others'));
    this.pump();
    return promise;
  }

  /** While a client's replies go unread, its queued executions wait. */
  hold(client: string, held: boolean): void {
    this.queue.hold(client, held);
    if (!held) this.pump();
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
      this.start(job);
    }
  }

  private start(job: Job): void {
    this.running++;
    this.onStart((performance.now() - job.enqueuedAt) / 1000);
    let running: Running;
    try {
      running = this.sandbox.start(job.request);
    } catch (error) {
      // A sandbox bug fails this execution only; its slot is given back at once.
      running = { result: Promise.reject(error as RpcError), done: Promise.resolve() };
    }
    running.result.then(job.resolve, job.reject);
    const free = () => {
      this.running--;
      this.pump();
      this.notifyIfIdle();
    };
    running.done.then(free, free);
  }

  private notifyIfIdle(): void {
    if (this.running === 0 && this.queue.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
