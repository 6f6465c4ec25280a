// The daemon's handle on one sandbox (its life: sandbox-process.ts) and the
// executions it runs side by side, each in an isolate of its own. It performs
// their fetches, keeps a watchdog on each, counts those computing
// (sandbox-pool.ts bounds them), and kills the sandbox if an execution is not
// answered within its wall-clock backstop plus a grace, or a cancelled one not
// stopped in time; when the sandbox dies, what its executions get:
// lost-execution.ts.

import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbound, OutboundSession } from '../outbound/outbound.js';
import { FetchFailure } from '../outbound/wire.js';
import { type ExecutionRequest, type ExecutionResult, type RecycleReason, WALL_BACKSTOP } from '../shared/contract.js';
import { IdleWaiters } from '../shared/idle-waiters.js';
import type { FromExecutor, ToExecutor } from '../shared/ipc.js';
import { ComputePhases } from './compute-phases.js';
import { lostAnswer, type SandboxLoss } from './lost-execution.js';
import type { ExecutionWatch } from './sandbox.js';
import { type ExecutionMessage, KILL_GRACE_MS, SandboxProcess, type SandboxProcessOptions } from './sandbox-process.js';

/**
 * How long a sandbox has to answer a cancelled execution before it is killed:
 * its main thread runs no script, so only a wedged sandbox takes this long.
 */
const CANCEL_KILL_MS = 1000;

/** How long a sandbox holding half its memory budget must run nothing before it is replaced. */
const IDLE_RECYCLE_MS = 5000;

export interface SandboxHostOptions extends SandboxProcessOptions {
  outbound: Outbound;
}

interface Current {
  id: number;
  request: ExecutionRequest;
  watch: ExecutionWatch;
  /** Removes its listener from the watch's signal. */
  unwatch: () => void;
  resolve: (result: ExecutionResult) => void;
  reject: (error: RpcError) => void;
  watchdog: NodeJS.Timeout;
  fetches: OutboundSession;
  /** It asked for a fetch: running it again could repeat an effect. */
  outbound: boolean;
  /** Sent again once already, after its sandbox was lost. */
  resent: boolean;
  /** Its sandbox was killed because it did not answer in time. */
  killedForTime: boolean;
  /** It streamed a console line: running it again would stream lines again. */
  streamed: boolean;
  /** Its caller cancelled it: not sent (again) to a sandbox. */
  cancelled: boolean;
}

export class SandboxHost {
  private readonly sandbox: SandboxProcess;
  private readonly executions = new Map<number, Current>();
  private lastId = 0;
  private readonly outbound: Outbound;
  private readonly onRecycle: (reason: RecycleReason) => void;
  private readonly onAvailable: () => void;
  /** Takes no new execution: it is being replaced, and closes once its executions are over. */
  private retired = false;
  private readonly drained = new IdleWaiters(() => this.executions.size === 0);
  /** Replaces a sandbox holding half its budget once it has run nothing for IDLE_RECYCLE_MS. */
  private idleRecycle: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** Executions sent and not yet waiting or answered. */
  private readonly phases: ComputePhases<Current>;

  private constructor(options: SandboxHostOptions) {
    ({ outbound: this.outbound, onRecycle: this.onRecycle, onAvailable: this.onAvailable, log: this.log } = options);
    this.sandbox = new SandboxProcess(options, {
      message: (message) => this.receive(message),
      exited: (loss, killedForCancel) => this.exited(loss, killedForCancel),
    });
    this.phases = new ComputePhases(() => this.onAvailable());
  }

  static async start(options: SandboxHostOptions): Promise<SandboxHost> {
    const host = new SandboxHost(options);
    await host.sandbox.start();
    return host;
  }

  /** Executions it runs now. */
  get load(): number {
    return this.executions.size;
  }

  /** Executions sent and not yet waiting or answered, computing for less than their first slice. */
  get starting(): number {
    return this.phases.starting;
  }

  /** Executions sent and not yet waiting or answered: computing, each on a thread of its own. */
  get computing(): number {
    return this.phases.computing;
  }

  /**
   * Whether it may take another execution: not past three quarters of its
   * memory budget, nor being replaced. One past it that runs nothing is
   * replaced, and takes executions again once its replacement is up.
   */
  hasRoom(): boolean {
    if (this.retired || this.sandbox.startingUp) return false;
    if (!this.sandbox.full) return true;
    if (this.executions.size === 0) this.sandbox.recycleIdle();
    return false;
  }

  run(request: ExecutionRequest, watch: ExecutionWatch): Promise<ExecutionResult> {
    clearTimeout(this.idleRecycle);
    const id = ++this.lastId;
    const { promise, resolve, reject } = Promise.withResolvers<ExecutionResult>();
    const onAbort = () => this.cancel(id);
    watch.signal?.addEventListener('abort', onAbort, { once: true });
    const current: Current = {
      id,
      request,
      watch,
      unwatch: () => watch.signal?.removeEventListener('abort', onAbort),
      resolve,
      reject,
      watchdog: this.watchdog(id, request.timeoutMs),
      // Its fetches end with it; this bound is the watchdog's, so that the sandbox's own time limit (1002) comes first.
      fetches: this.outbound.session(request.timeoutMs * WALL_BACKSTOP + KILL_GRACE_MS),
      outbound: false,
      resent: false,
      killedForTime: false,
      streamed: false,
      cancelled: false,
    };
    this.executions.set(id, current);
    this.phases.start(current);
    this.sandbox.watchMemory();
    if (!this.sandbox.startingUp && this.sandbox.link.connected) this.hand(current);
    // A sandbox on its way up, or an earlier restart that failed: this one waits for (or tries) the next.
    else
      this.sandbox.start().then(
        () => this.hand(current),
        (err: unknown) => this.startFailed(err),
      );
    return promise;
  }

  /** Takes no new execution, and closes once those it runs are answered: its replacement takes the next ones. */
  async retire(): Promise<void> {
    this.retired = true;
    await this.drained.wait();
    await this.close();
  }

  close(): Promise<void> {
    clearTimeout(this.idleRecycle);
    return this.sandbox.close();
  }

  /** Sends an execution to the sandbox. One that cannot be sent fails alone; one sent to a sandbox that has just died is handled with its exit. */
  private hand(current: Current): void {
    if (this.executions.get(current.id) !== current) return;
    if (current.cancelled) {
      this.settle(current.id, (c) => c.reject(errors.cancelled([])));
      return;
    }
    const message: ToExecutor = { kind: 'run', id: current.id, request: current.request };
    const { link } = this.sandbox;
    if (link.send(message) || !link.connected) return;
    this.log.error('an execution could not be handed to its sandbox');
    this.settle(current.id, (c) => c.reject(errors.internal()));
  }

  private receive(message: ExecutionMessage): void {
    const current = this.executions.get(message.id);
    if (current === undefined) return;
    if (message.kind === 'result') this.settle(current.id, (c) => c.resolve(message.result));
    else if (message.kind === 'error') this.settle(current.id, (c) => c.reject(errors.fromWire(message.error).withUsage(message.usage)));
    else if (message.kind === 'console') {
      current.streamed = true;
      current.watch.onConsole?.(message.lines);
    } else if (message.kind === 'waiting') {
      this.phases.stop(current);
      this.onAvailable();
    } else if (message.kind === 'fetch') this.fetch(current, message.fetchId, message.request);
    else current.fetches.abort(message.fetchId);
  }

  /**
   * Asks the sandbox to stop execution `id`. A sandbox that does not answer in
   * time is wedged: the execution is answered here, and the sandbox killed.
   */
  private cancel(id: number): void {
    const current = this.executions.get(id);
    if (current === undefined) return;
    current.cancelled = true;
    // Not handed to a sandbox yet (one is starting): it never will be.
    if (this.sandbox.startingUp) return;
    const { link } = this.sandbox;
    void link.send({ kind: 'cancel', id });
    setTimeout(() => {
      if (this.executions.get(id) !== current || this.sandbox.link !== link) return;
      this.log.warn('a cancelled execution was not stopped in time; killing its sandbox');
      this.settle(id, (c) => c.reject(errors.cancelled([])));
      this.sandbox.killForCancel(link);
    }, CANCEL_KILL_MS).unref();
  }

  private fetch(current: Current, fetchId: number, request: Extract<FromExecutor, { kind: 'fetch' }>['request']): void {
    current.outbound = true;
    const answer = (message: ToExecutor) => {
      if (this.executions.get(current.id) === current) void this.sandbox.link.send(message);
    };
    current.fetches.fetch(fetchId, request).then(
      (response) => answer({ kind: 'fetched', id: current.id, fetchId, response }),
      (error: unknown) => {
        if (!(error instanceof FetchFailure)) this.log.error({ err: error }, 'fetch failed inside the daemon');
        answer({ kind: 'fetch-failed', id: current.id, fetchId, message: error instanceof FetchFailure ? error.message : 'fetch failed' });
      },
    );
  }

  /** Execution `id` has its answer: `answer` gives it, and nothing of it is watched any more. */
  private settle(id: number, answer: (current: Current) => void): void {
    const current = this.executions.get(id);
    if (current === undefined) return;
    this.executions.delete(id);
    this.phases.stop(current);
    current.unwatch();
    clearTimeout(current.watchdog);
    current.fetches.close();
    answer(current);
    this.drained.check();
    this.onAvailable();
    if (this.executions.size > 0) return;
    this.sandbox.unwatchMemory();
    if (this.sandbox.full) this.sandbox.recycleIdle();
    // Half of its budget (what its isolates once held, kept): replaced once it has been idle a while, not at the next burst.
    else if (this.sandbox.heavy)
      this.idleRecycle = setTimeout(() => this.executions.size === 0 && this.sandbox.recycleIdle(), IDLE_RECYCLE_MS).unref();
  }

  /** No sandbox could be started: every execution waiting for one gets a coded error. */
  private startFailed(err: unknown): void {
    this.log.error({ err }, 'could not start a sandbox');
    for (const id of [...this.executions.keys()]) this.settle(id, (c) => c.reject(errors.sandboxLost('the sandbox is not running')));
  }

  /** Kills the sandbox if execution `id` has not answered by its wall-clock backstop plus a grace: the sandbox stops each at its own limit. */
  private watchdog(id: number, timeoutMs: number): NodeJS.Timeout {
    return setTimeout(
      () => {
        const current = this.executions.get(id);
        if (current === undefined) return;
        current.killedForTime = true;
        this.log.warn('an execution did not answer within its time limit; killing its sandbox');
        this.sandbox.killForTime(() => this.executions.has(id));
      },
      timeoutMs * WALL_BACKSTOP + KILL_GRACE_MS,
    );
  }

  /** The sandbox died under its executions: each is answered, or runs again on a new one. */
  private exited(loss: SandboxLoss, killedForCancel: boolean): void {
    const { reason, forMemory } = loss;
    const forTime = [...this.executions.values()].some((current) => current.killedForTime);
    const again: Current[] = [];
    for (const current of [...this.executions.values()]) {
      const answer = lostAnswer({ ...current, timeoutMs: current.request.timeoutMs }, loss);
      if (answer === 'again') again.push(current);
      else this.settle(current.id, (c) => c.reject(answer));
    }
    if (loss.closing) return;
    if (!forMemory && !forTime && !killedForCancel) this.log.error({ reason }, 'sandbox exited; starting a new one');
    this.onRecycle(forMemory ? 'sandbox-memory' : 'sandbox-lost');
    // What was lost with it, and did nothing a second run could repeat, runs again, once, on the new sandbox.
    for (const current of again) {
      current.resent = true;
      this.phases.start(current);
      clearTimeout(current.watchdog);
      current.watchdog = this.watchdog(current.id, current.request.timeoutMs);
    }
    this.sandbox.start().then(
      () => {
        for (const current of again) this.hand(current);
      },
      (err: unknown) => this.startFailed(err),
    );
  }
}
