// The daemon's handle on one sandbox (a process or a container, see link.ts),
// which runs many executions side by side. It performs their fetches, keeps a
// watchdog on each, and kills and replaces the sandbox if an execution does
// not answer within its time limit plus a grace, if the sandbox goes over its
// memory budget, or if it dies. Executions lost with a sandbox they did not
// bring down are sent again, once, to its replacement — unless they had asked
// for a fetch, which may have had an effect: those get 1008 Interrupted.
// A cancelled execution is stopped by its sandbox; one whose sandbox cannot
// answer in time (a busy loop in the script's top level holds the sandbox's
// thread) is answered here and its sandbox killed and replaced.

import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbound, OutboundSession } from '../outbound/outbound.js';
import { FetchFailure } from '../outbound/wire.js';
import type { FromExecutor, ToExecutor } from './ipc.js';
import type { SandboxLink, StartLink } from './link.js';
import type { ExecutionRequest, ExecutionResult, ExecutionWatch, RecycleReason } from './sandbox.js';

/** Past its own time limit, how long an execution may take to answer before its sandbox is killed. */
const KILL_GRACE_MS = 1000;
/** How long a new sandbox may take to become ready. */
const START_TIMEOUT_MS = 60000;
/** How often a sandbox's memory is read while it runs executions, and at most. */
const MEMORY_POLL_MS = 50;
/** A sandbox holding more than this share of its budget takes no new execution, and is replaced once it has none. */
const RECYCLE_SHARE = 0.75;
/** How long a sandbox has to answer a cancelled execution before it is killed. */
const CANCEL_KILL_MS = 30;

export interface SandboxHostOptions {
  startLink: StartLink;
  outbound: Outbound;
  /** SANDBOX_MEMORY: the budget a sandbox is killed past (where the daemon can read its memory), and what a 1003 for it reports. */
  sandboxMemoryMb: number;
  /** Told each time an isolate is replaced: with its sandbox, or inside it. */
  onRecycle: (reason: RecycleReason) => void;
  /** Told each time an execution answers or starts waiting: another may start. */
  onAvailable: () => void;
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
  /** Sent, and not yet waiting or answered: it holds the sandbox's thread. */
  starting: boolean;
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
  private memoryWatch: NodeJS.Timeout | undefined;
  /** The last reading of the sandbox's memory: reading another process's is not free. */
  private memory = { bytes: undefined as number | undefined, at: Number.NEGATIVE_INFINITY };
  private readonly startLink: StartLink;
  private readonly outbound: Outbound;
  private readonly sandboxMemoryMb: number;
  private readonly onRecycle: (reason: RecycleReason) => void;
  private readonly onAvailable: () => void;
  private readonly log: Logger;
  private startingCount = 0;

  private constructor(options: SandboxHostOptions) {
    ({
      startLink: this.startLink,
      outbound: this.outbound,
      sandboxMemoryMb: this.sandboxMemoryMb,
      onRecycle: this.onRecycle,
      onAvailable: this.onAvailable,
      log: this.log,
    } = options);
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

  /** Executions sent and not yet waiting or answered: those that keep its thread busy. */
  get starting(): number {
    return this.startingCount;
  }

  /**
   * Whether it may take another execution: not past three quarters of its
   * memory budget. One past it that runs nothing is replaced, and takes
   * executions again once its replacement is up.
   */
  hasRoom(): boolean {
    const used = this.memoryBytes();
    if (used === undefined || used <= RECYCLE_SHARE * this.budgetBytes) return true;
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
      starting: false,
      cancelled: false,
    };
    this.executions.set(id, current);
    this.startingAs(current, true);
    this.memoryWatch ??= setInterval(() => this.checkMemory(), MEMORY_POLL_MS);
    if (this.bringingUp === undefined && this.link.connected) this.hand(current);
    // A sandbox on its way up, or an earlier restart that failed: this one waits for (or tries) the next.
    else
      this.startSandbox().then(
        () => this.hand(current),
        (err: unknown) => this.startFailed(err),
      );
    return promise;
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.memoryWatch);
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
    this.memory = { bytes: undefined, at: Number.NEGATIVE_INFINITY };
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
    if (message.kind === 'ready' || message.kind === 'recycled') return;
    const current = this.executions.get(message.id);
    if (current === undefined) return;
    if (message.kind === 'result') this.settle(current.id, (c) => c.resolve(message.result));
    else if (message.kind === 'error') this.settle(current.id, (c) => c.reject(errors.fromWire(message.error).withUsage(message.usage)));
    else if (message.kind === 'console') current.watch.onConsole?.(message.lines);
    else if (message.kind === 'waiting') {
      this.startingAs(current, false);
      this.onAvailable();
    } else if (message.kind === 'fetch') this.fetch(current, message.fetchId, message.request);
    else current.fetches.abort(message.fetchId);
  }

  /**
   * Asks the sandbox to stop execution `id`. A sandbox that does not answer in
   * time is busy in it (a synchronous stretch holds its thread): the execution
   * is answered here, and the sandbox killed; the others in it run again.
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

  private startingAs(current: Current, starting: boolean): void {
    if (current.starting === starting) return;
    current.starting = starting;
    this.startingCount += starting ? 1 : -1;
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
    this.startingAs(current, false);
    current.unwatch();
    clearTimeout(current.watchdog);
    current.fetches.close();
    answer(current);
    this.onAvailable();
    if (this.executions.size > 0) return;
    clearInterval(this.memoryWatch);
    this.memoryWatch = undefined;
    this.hasRoom();
  }

  /** No sandbox could be started: every execution waiting for one gets a coded error. */
  private startFailed(err: unknown): void {
    this.log.error({ err }, 'could not start a sandbox');
    for (const id of [...this.executions.keys()]) this.settle(id, (c) => c.reject(errors.sandboxLost('the sandbox is not running')));
  }

  private get budgetBytes(): number {
    return this.sandboxMemoryMb * 1024 * 1024;
  }

  /** The sandbox's memory, read at most every MEMORY_POLL_MS. */
  private memoryBytes(): number | undefined {
    const now = performance.now();
    if (now - this.memory.at >= MEMORY_POLL_MS) this.memory = { bytes: this.link.memoryBytes(), at: now };
    return this.memory.bytes;
  }

  /** A sandbox past SANDBOX_MEMORY while it runs executions is killed. */
  private checkMemory(): void {
    const used = this.memoryBytes();
    if (this.killedForMemory || used === undefined || used <= this.budgetBytes) return;
    this.killedForMemory = true;
    this.log.warn({ rss: used, budget: this.budgetBytes }, 'sandbox went over SANDBOX_MEMORY; killing it');
    this.link.kill();
  }

  /** Replaces an idle sandbox past its share of memory, the old one first, so the two never hold memory together. */
  private recycleIdle(): void {
    if (this.closing || this.bringingUp !== undefined) return;
    this.log.info({ rss: this.memory.bytes, budget: this.budgetBytes }, 'sandbox holds most of its memory budget; replacing it');
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

  /** Kills the sandbox if execution `id` has not answered by its time limit plus a grace. */
  private watchdog(id: number, timeoutMs: number): NodeJS.Timeout {
    return setTimeout(() => {
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
    }, timeoutMs + KILL_GRACE_MS);
  }

  private exited(link: SandboxLink, reason: string, outOfMemory: boolean): void {
    if (link !== this.link || link === this.retiring) return;
    const forMemory = outOfMemory || this.killedForMemory;
    const forTime = [...this.executions.values()].some((current) => current.killedForTime);
    const forCancel = this.killedForCancel;
    this.killedForMemory = false;
    this.killedForCancel = false;
    const again: Current[] = [];
    for (const current of [...this.executions.values()]) {
      if (!current.killedForTime && !current.outbound && !current.resent && !this.closing) {
        again.push(current);
        continue;
      }
      this.settle(current.id, (c) => {
        if (c.killedForTime) c.reject(errors.timeout(c.request.timeoutMs, []));
        else if (c.outbound && !this.closing)
          c.reject(
            errors.interrupted(
              `its sandbox ${forMemory ? 'went over SANDBOX_MEMORY' : `exited (${reason})`} after it had made a request outside`,
              [],
            ),
          );
        else if (forMemory) c.reject(errors.memoryLimit(this.sandboxMemoryMb, []));
        else c.reject(errors.sandboxLost(`the sandbox exited (${reason})`));
      });
    }
    if (this.closing) return;
    if (!forMemory && !forTime && !forCancel) this.log.error({ reason }, 'sandbox exited; starting a new one');
    this.onRecycle(forMemory ? 'sandbox-memory' : 'sandbox-lost');
    // What was lost with it, and had no effect outside, runs again, once, on the new sandbox.
    for (const current of again) {
      current.resent = true;
      this.startingAs(current, true);
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
