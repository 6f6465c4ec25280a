// Admission and dispatch: executions wait in a bounded fair queue and start as
// soon as the key has a free slot (MAX_CONCURRENT, a quarter of it at most per
// client) and a sandbox can take one (see sandbox-pool.ts).
import { setTimeout as delay } from 'node:timers/promises';
import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import type { ExecutionWatch, Sandbox } from '../sandbox/sandbox.js';
import type { ExecutionRequest, ExecutionResult } from '../shared/contract.js';
import { IdleWaiters } from '../shared/idle-waiters.js';
import { FairQueue, type QueueBounds } from './fair-queue.js';

interface Job {
  client: string;
  request: ExecutionRequest;
  watch: ExecutionWatch;
  bytes: number;
  enqueuedAt: number;
  /** Told when it leaves the queue to start. */
  started?: () => void;
  resolve: (result: ExecutionResult) => void;
  reject: (error: RpcError) => void;
}

export interface SchedulerOptions {
  sandbox: Sandbox;
  /** QUEUE_LIMIT and QUEUE_BYTES. */
  bounds: QueueBounds;
  /** Told how long each execution waited to start, in seconds. */
  onStart?: (waitedSeconds: number) => void;
}

/** When no sandbox had memory to spare, how long before trying again. */
const RETRY_MS = 50;

export class Scheduler {
  private readonly sandbox: Sandbox;
  private readonly queue: FairQueue<Job>;
  private readonly onStart: (waitedSeconds: number) => void;
  private running = 0;
  /** Executions running per client: none may run more than its share of the capacity. */
  private readonly runningOf = new Map<string, number>();
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly idle = new IdleWaiters(() => this.running === 0 && this.queue.size === 0);

  constructor(options: SchedulerOptions) {
    this.sandbox = options.sandbox;
    this.queue = new FairQueue(options.bounds);
    this.onStart = options.onStart ?? (() => {});
    this.sandbox.onAvailable(() => this.pump());
  }

  get capacity(): number {
    return this.sandbox.capacity;
  }

  /** What one client may run at once: a quarter of the capacity, so that one client cannot take it all. */
  get share(): number {
    return Math.max(1, Math.ceil(this.sandbox.capacity / 4));
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
   * the client already holds its share, 1006 once closed; 1007 if `watch`'s
   * signal aborts while it waits.
   */
  run(client: string, request: ExecutionRequest, bytes: number, watch: ExecutionWatch = {}): Promise<ExecutionResult> {
    if (this.closed) return Promise.reject(errors.shuttingDown());
    if (watch.signal?.aborted) return Promise.reject(errors.cancelled([]));
    const { promise, resolve, reject } = Promise.withResolvers<ExecutionResult>();
    const job: Job = { client, request, watch, bytes, enqueuedAt: performance.now(), resolve, reject };
    if (this.queue.size === 0 && this.mayStart(client) && this.start(job)) return promise;
    const admission = this.queue.push(client, job, bytes);
    if (!admission.admitted) return Promise.reject(errors.busy(admission.reason));
    for (const evicted of admission.evicted)
      evicted.reject(errors.busy('the execution queue is full and this connection held more of it than others'));
    this.dequeueOnAbort(job);
    this.pump();
    return promise;
  }

  /** A queued job whose signal aborts leaves the queue, cancelled; once started, its sandbox stops it (sandbox-host.ts). */
  private dequeueOnAbort(job: Job): void {
    const { signal } = job.watch;
    if (signal === undefined) return;
    const onAbort = () => {
      if (!this.queue.removeItem(job.client, job)) return;
      job.reject(errors.cancelled([]));
      this.idle.check();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    job.started = () => signal.removeEventListener('abort', onAbort);
  }

  /** While a client's replies go unread, its queued executions wait. */
  hold(client: string, held: boolean): void {
    this.queue.hold(client, held);
    if (!held) this.pump();
  }

  /** Forgets what a departed client still had queued: cancelled (logged as 1007), as nobody is left to answer. */
  forget(client: string): void {
    for (const job of this.queue.remove(client)) job.reject(errors.cancelled([]));
    this.idle.check();
  }

  /** Takes no new work; queued work may start for `graceMs`, then is refused. Resolves when nothing runs. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const grace = new AbortController();
    await Promise.race([this.idle.wait(), delay(graceMs, undefined, { signal: grace.signal }).catch(() => undefined)]);
    grace.abort();
    clearTimeout(this.retry);
    for (const job of this.queue.clear()) job.reject(errors.shuttingDown());
    await this.idle.wait();
  }

  private mayStart(client: string): boolean {
    return this.running < this.sandbox.capacity && (this.runningOf.get(client) ?? 0) < this.share;
  }

  private pump(): void {
    while (this.running < this.sandbox.capacity) {
      let declined = false;
      const taken = this.queue.takeNext(
        (client) => this.mayStart(client),
        (job) => {
          declined = !this.start(job);
          return !declined;
        },
      );
      if (taken) continue;
      // No sandbox can take one now: the next waits at the head of the queue, for an execution to answer or wait (or memory to free).
      if (declined) {
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          this.pump();
        }, RETRY_MS);
      }
      return;
    }
  }

  /** Starts `job` on the sandbox; false if the sandbox had no room for it. */
  private start(job: Job): boolean {
    let result: Promise<ExecutionResult> | undefined;
    try {
      result = this.sandbox.start(job.request, job.watch);
    } catch (error) {
      // A sandbox bug fails this execution only.
      result = Promise.reject(error as RpcError);
    }
    if (result === undefined) return false;
    job.started?.();
    this.running++;
    this.runningOf.set(job.client, (this.runningOf.get(job.client) ?? 0) + 1);
    this.onStart((performance.now() - job.enqueuedAt) / 1000);
    const free = () => {
      this.running--;
      const left = (this.runningOf.get(job.client) ?? 1) - 1;
      if (left === 0) this.runningOf.delete(job.client);
      else this.runningOf.set(job.client, left);
      this.pump();
      this.idle.check();
    };
    result.then(
      (value) => {
        job.resolve(value);
        free();
      },
      (error: RpcError) => {
        job.reject(error);
        free();
      },
    );
    return true;
  }
}
