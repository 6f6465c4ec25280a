// The daemon's handle on one sandbox (a process or a container, see link.ts),
// which runs many executions side by side, each in an isolate of its own. It
// performs their fetches, keeps a watchdog on each, counts those computing
// (sandbox-pool.ts bounds them), and kills and replaces the sandbox if an
// execution is not answered within its wall-clock backstop plus a grace, if
// the sandbox goes over its memory budget, or if it dies (what its executions
// get then: lost-execution.ts).

import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbound, OutboundSession } from '../outbound/outbound.js';
import { FetchFailure } from '../outbound/wire.js';
import { type ExecutionRequest, type ExecutionResult, type RecycleReason, WALL_BACKSTOP } from '../shared/contract.js';
import { IdleWaiters } from '../shared/idle-waiters.js';
import type { FromExecutor, ToExecutor } from '../shared/ipc.js';
import { ComputePhases } from './compute-phases.js';
import type { SandboxLink, StartLink } from './link.js';
import { lostAnswer } from './lost-execution.js';
import { MemoryGauge } from './memory-gauge.js';
import type { ExecutionWatch } from './sandbox.js';

/** Past its wall-clock backstop, how long an execution may take to answer before its sandbox is killed. */
const KILL_GRACE_MS = 1000;
/** How long a new sandbox may take to become ready. */
const START_TIMEOUT_MS = 60000;
/**
 * How long a sandbox has to answer a cancelled execution before it is killed:
 * its main thread runs no script, so only a wedged sandbox takes this long.
 */
const CANCEL_KILL_MS = 1000;

export interface SandboxHostOptions {
  startLink: StartLink;
  outbound: Outbound;
  /** SANDBOX_MEMORY: the budget a sandbox is killed past (where the daemon can read its memory), and what a 1003 for it reports. */
  sandboxMemoryMb: number;
  /** Told each time an isolate is replaced: with its sandbox, or inside it. */
  onRecycle: (reason: RecycleReason) => void;
  /** Told each time an execution answers or starts waiting: another may start. */
  onAvailable: () => void;
  /** Told when a thread in the sandbox cannot be stopped: it is to be replaced once its executions are over (sandbox-pool.ts). */
  onWedged: () => void;
  log: Logger;
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
  private link!: SandboxLink;
  /** A sandbox being replaced on purpose: its exit is expected. */
  private retiring: SandboxLink | undefined;
  private readonly executions = new Map<number, Current>();
  private lastId = 0;
  private closing = false;
  /** A sandbox being started (or replaced): executions wait for it. */
  private bringingUp: Promise<void> | undefined;
  private killedForMemory = false;
  /** The sandbox was killed because it did not stop a cancelled execution in time: its exit is no surprise. */
  private killedForCancel = false;
  private readonly memory: MemoryGauge;
  private readonly startLink: StartLink;
  private readonly outbound: Outbound;
  private readonly sandboxMemoryMb: number;
  private readonly onRecycle: (reason: RecycleReason) => void;
  private readonly onAvailable: () => void;
  private readonly onWedged: () => void;
  /** Takes no new execution: it is being replaced, and closes once its executions are over. */
  private retired = false;
  private readonly drained = new IdleWaiters(() => this.executions.size === 0);
  private readonly log: Logger;
  /** Executions sent and not yet waiting or answered. */
  private readonly phases: ComputePhases<Current>;

  private constructor(options: SandboxHostOptions) {
    ({
      startLink: this.startLink,
      outbound: this.outbound,
      sandboxMemoryMb: this.sandboxMemoryMb,
      onRecycle: this.onRecycle,
      onAvailable: this.onAvailable,
      onWedged: this.onWedged,
      log: this.log,
    } = options);
    this.memory = new MemoryGauge(this.sandboxMemoryMb * 1024 * 1024);
    this.phases = new ComputePhases(() => this.onAvailable());
  }

  static async start(options: SandboxHostOptions): Promise<SandboxHost> {
    const host = new SandboxHost(options);
    await host.startSandbox();
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
   * memory budget. One past it that runs nothing is replaced, and takes
   * executions again once its replacement is up.
   */
  hasRoom(): boolean {
    if (this.retired) return false;
    if (!this.memory.full) return true;
    if (this.executions.size === 0) this.recycleIdle();
    return false;
  }

  run(request: ExecutionRequest, watch: ExecutionWatch): Promise<ExecutionResult> {
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
      fetches: this.outbound.session(request.timeoutMs),
      outbound: false,
      resent: false,
      killedForTime: false,
      streamed: false,
      cancelled: false,
    };
    this.executions.set(id, current);
    this.phases.start(current);
    this.memory.start((bytes) => this.overBudget(bytes));
    if (this.bringingUp === undefined && this.link.connected) this.hand(current);
    // A sandbox on its way up, or an earlier restart that failed: this one waits for (or tries) the next.
    else
      this.startSandbox().then(
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

  async close(): Promise<void> {
    this.closing = true;
    this.memory.stop();
    await this.bringingUp?.catch(() => undefined);
    await this.link.close(KILL_GRACE_MS);
  }

  /** Starts a sandbox; a start already under way is joined, not doubled. */
  private startSandbox(): Promise<void> {
    this.bringingUp ??= this.spawnSandbox().finally(() => (this.bringingUp = undefined));
    return this.bringingUp;
  }

  private async spawnSandbox(): Promise<void> {
    let ready = false;
    const readiness = Promise.withResolvers<void>();
    // Awaited below, unless the daemon is closing; an exit before then is not an error of its own.
    readiness.promise.catch(() => undefined);
    const link = await this.startLink({
      message: (message) => {
        if (message.kind === 'recycled') this.onRecycle(message.reason);
        else if (message.kind === 'wedged') this.onWedged();
        else if (message.kind !== 'ready') this.receive(message);
        else if (!ready) {
          ready = true;
          readiness.resolve();
        }
      },
      exit: (reason, outOfMemory) => {
        if (ready) this.exited(link, reason, outOfMemory === true);
        else readiness.reject(new Error(`the sandbox exited before it was ready (${reason})`));
      },
    });
    this.link = link;
    this.memory.follow(() => link.memoryBytes());
    if (this.closing) {
      await link.close(KILL_GRACE_MS);
      throw new Error('the daemon is shutting down');
    }
    const timer = setTimeout(() => {
      link.kill();
      readiness.reject(new Error('the sandbox did not start in time'));
    }, START_TIMEOUT_MS);
    try {
      await readiness.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends an execution to the sandbox. One that cannot be sent fails alone; one sent to a sandbox that has just died is handled with its exit. */
  private hand(current: Current): void {
    if (this.executions.get(current.id) !== current) return;
    if (current.cancelled) {
      this.settle(current.id, (c) => c.reject(errors.cancelled([])));
      return;
    }
    const message: ToExecutor = { kind: 'run', id: current.id, request: current.request };
    if (this.link.send(message) || !this.link.connected) return;
    this.log.error('an execution could not be handed to its sandbox');
    this.settle(current.id, (c) => c.reject(errors.internal()));
  }

  private receive(message: FromExecutor): void {
    if (message.kind === 'ready' || message.kind === 'recycled' || message.kind === 'wedged') return;
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
    if (this.bringingUp !== undefined) return;
    const { link } = this;
    void link.send({ kind: 'cancel', id });
    setTimeout(() => {
      if (this.executions.get(id) !== current || this.link !== link) return;
      this.log.warn('a cancelled execution was not stopped in time; killing its sandbox');
      this.settle(id, (c) => c.reject(errors.cancelled([])));
      this.killedForCancel = true;
      link.kill();
    }, CANCEL_KILL_MS).unref();
  }

  private fetch(current: Current, fetchId: number, request: Extract<FromExecutor, { kind: 'fetch' }>['request']): void {
    current.outbound = true;
    const answer = (message: ToExecutor) => {
      if (this.executions.get(current.id) === current) void this.link.send(message);
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
    this.memory.stop();
    this.hasRoom();
  }

  /** No sandbox could be started: every execution waiting for one gets a coded error. */
  private startFailed(err: unknown): void {
    this.log.error({ err }, 'could not start a sandbox');
    for (const id of [...this.executions.keys()]) this.settle(id, (c) => c.reject(errors.sandboxLost('the sandbox is not running')));
  }

  /** A sandbox past SANDBOX_MEMORY while it runs executions is killed. */
  private overBudget(bytes: number): void {
    if (this.killedForMemory) return;
    this.killedForMemory = true;
    this.log.warn({ rss: bytes, budget: this.memory.budgetBytes }, 'sandbox went over SANDBOX_MEMORY; killing it');
    this.link.kill();
  }

  /** Replaces an idle sandbox past its share of memory, the old one first, so the two never hold memory together. */
  private recycleIdle(): void {
    if (this.closing || this.bringingUp !== undefined) return;
    this.log.info({ rss: this.memory.bytes(), budget: this.memory.budgetBytes }, 'sandbox holds most of its memory budget; replacing it');
    const old = this.link;
    this.retiring = old;
    this.onRecycle('sandbox-memory');
    this.bringingUp = old
      .close(KILL_GRACE_MS)
      .then(() => this.spawnSandbox())
      .catch((err: unknown) => this.log.error({ err }, 'could not start a sandbox'))
      .finally(() => {
        this.bringingUp = undefined;
        this.onAvailable();
      });
  }

  /** Kills the sandbox if execution `id` has not answered by its wall-clock backstop plus a grace: the sandbox stops each at its own limit. */
  private watchdog(id: number, timeoutMs: number): NodeJS.Timeout {
    return setTimeout(
      () => {
        const current = this.executions.get(id);
        const { link } = this;
        if (current === undefined) return;
        current.killedForTime = true;
        this.log.warn('an execution did not answer within its time limit; killing its sandbox');
        link.kill();
        // Should the kill not be reported as an exit, the sandbox is given up on all the same.
        setTimeout(() => {
          if (this.link !== link || !this.executions.has(id)) return;
          this.log.error('killed sandbox did not report its exit; abandoning it');
          void link.close(0);
          this.exited(link, 'killed', false);
        }, 5 * KILL_GRACE_MS).unref();
      },
      timeoutMs * WALL_BACKSTOP + KILL_GRACE_MS,
    );
  }

  private exited(link: SandboxLink, reason: string, outOfMemory: boolean): void {
    if (link !== this.link || link === this.retiring) return;
    const forMemory = outOfMemory || this.killedForMemory;
    const forTime = [...this.executions.values()].some((current) => current.killedForTime);
    const forCancel = this.killedForCancel;
    this.killedForMemory = false;
    this.killedForCancel = false;
    const again: Current[] = [];
    const loss = { reason, forMemory, sandboxMemoryMb: this.sandboxMemoryMb, closing: this.closing };
    for (const current of [...this.executions.values()]) {
      const answer = lostAnswer({ ...current, timeoutMs: current.request.timeoutMs }, loss);
      if (answer === 'again') again.push(current);
      else this.settle(current.id, (c) => c.reject(answer));
    }
    if (this.closing) return;
    if (!forMemory && !forTime && !forCancel) this.log.error({ reason }, 'sandbox exited; starting a new one');
    this.onRecycle(forMemory ? 'sandbox-memory' : 'sandbox-lost');
    // What was lost with it, and did nothing a second run could repeat, runs again, once, on the new sandbox.
    for (const current of again) {
      current.resent = true;
      this.phases.start(current);
      clearTimeout(current.watchdog);
      current.watchdog = this.watchdog(current.id, current.request.timeoutMs);
    }
    this.startSandbox().then(
      () => {
        for (const current of again) this.hand(current);
      },
      (err: unknown) => this.startFailed(err),
    );
  }
}
