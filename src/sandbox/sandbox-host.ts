// The daemon's handle on one sandbox (a process or a container, see link.ts).
// It runs one execution at a time, performs the execution's fetches, and kills
// and replaces the sandbox if it does not finish within the execution's time
// limit plus a grace, if it goes over its memory budget, or if it dies.
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbound, OutboundSession } from '../outbound/outbound.js';
import { FetchFailure } from '../outbound/wire.js';
import type { FromExecutor, ToExecutor } from './ipc.js';
import type { SandboxLink, StartLink } from './link.js';
import type { ExecutionRequest, ExecutionResult, RecycleReason, Running } from './sandbox.js';

/** Past its own time limit, how long an execution may take to wind down before its sandbox is killed. */
const KILL_GRACE_MS = 1000;
/** How long a new sandbox may take to become ready. */
const START_TIMEOUT_MS = 60000;
/** How often a sandbox's memory is read while it runs an execution, and at most. */
const MEMORY_POLL_MS = 50;
/** Between executions, a sandbox holding more than this share of its budget is replaced. */
const RECYCLE_SHARE = 0.75;

export interface SandboxHostOptions {
  startLink: StartLink;
  outbound: Outbound;
  /** SANDBOX_MEMORY: the budget a sandbox is killed past (where the daemon can read its memory), and what a 1003 for it reports. */
  sandboxMemoryMb: number;
  /** Told each time an isolate is replaced: with its sandbox, or inside it. */
  onRecycle: (reason: RecycleReason) => void;
  log: Logger;
}

interface Current {
  id: number;
  settled: boolean;
  resolve: (result: ExecutionResult) => void;
  reject: (error: RpcError) => void;
  finish: () => void;
  watchdog: NodeJS.Timeout;
  memoryWatch: NodeJS.Timeout;
  killedForTime: boolean;
  killedForMemory: boolean;
  timeoutMs: number;
  fetches: OutboundSession;
  /** The sandbox confirmed it took the execution. */
  started: boolean;
  message: ToExecutor;
}

export class SandboxHost {
  private link!: SandboxLink;
  /** A sandbox being replaced on purpose: its exit is expected. */
  private retiring: SandboxLink | undefined;
  private current: Current | undefined;
  private lastId = 0;
  private closing = false;
  private starting: Promise<void> | undefined;
  /** The last reading of the sandbox's memory: reading another process's is not free. */
  private memory = { bytes: undefined as number | undefined, at: Number.NEGATIVE_INFINITY };
  private readonly startLink: StartLink;
  private readonly outbound: Outbound;
  private readonly sandboxMemoryMb: number;
  private readonly onRecycle: (reason: RecycleReason) => void;
  private readonly log: Logger;

  private constructor(options: SandboxHostOptions) {
    ({ startLink: this.startLink, outbound: this.outbound, sandboxMemoryMb: this.sandboxMemoryMb, onRecycle: this.onRecycle, log: this.log } = options);
  }

  static async start(options: SandboxHostOptions): Promise<SandboxHost> {
    const host = new SandboxHost(options);
    await host.startSandbox();
    return host;
  }

  run(request: ExecutionRequest): Running {
    const id = ++this.lastId;
    const { promise: done, resolve: finish } = Promise.withResolvers<void>();
    const { promise: result, resolve, reject } = Promise.withResolvers<ExecutionResult>();
    const current: Current = {
      id,
      settled: false,
      resolve,
      reject,
      finish,
      watchdog: setTimeout(() => this.killForTime(), request.timeoutMs + KILL_GRACE_MS),
      memoryWatch: setInterval(() => this.checkMemory(), MEMORY_POLL_MS),
      killedForTime: false,
      killedForMemory: false,
      timeoutMs: request.timeoutMs,
      fetches: this.outbound.session(request.timeoutMs),
      started: false,
      message: { kind: 'run', id, request },
    };
    this.current = current;
    if (this.link.connected) this.hand(current);
    else {
      // An earlier restart failed; try again before giving up on this execution.
      this.startSandbox().then(
        () => this.hand(current),
        (err: unknown) => this.startFailed(err, current),
      );
    }
    return { result, done };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.starting?.catch(() => undefined);
    await this.link.close(KILL_GRACE_MS);
  }

  /** Starts a sandbox; a start already under way is joined, not doubled. */
  private startSandbox(): Promise<void> {
    this.starting ??= this.spawnSandbox().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawnSandbox(): Promise<void> {
    let ready = false;
    let becameReady!: () => void;
    let failed!: (error: Error) => void;
    const readiness = new Promise<void>((resolve, reject) => {
      becameReady = resolve;
      failed = reject;
    });
    // Awaited below, unless the daemon is closing; an exit before then is not an error of its own.
    readiness.catch(() => undefined);
    const link = await this.startLink({
      message: (message) => {
        if (message.kind === 'recycled') this.onRecycle(message.reason);
        else if (message.kind !== 'ready') this.receive(message);
        else if (!ready) {
          ready = true;
          becameReady();
        }
      },
      exit: (reason, outOfMemory) => {
        if (ready) this.exited(link, reason, outOfMemory === true);
        else failed(new Error(`the sandbox exited before it was ready (${reason})`));
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
      failed(new Error('the sandbox did not start in time'));
    }, START_TIMEOUT_MS);
    try {
      await readiness;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends the execution to the sandbox. One that cannot be sent fails alone; a sandbox that has just died resends it once replaced. */
  private hand(current: Current): void {
    if (this.current !== current || this.link.send(current.message) || !this.link.connected) return;
    this.log.error('an execution could not be handed to its sandbox');
    this.settle((c) => c.reject(errors.internal()));
    this.release(current);
  }

  private receive(message: FromExecutor): void {
    const current = this.current;
    if (current === undefined || message.kind === 'ready' || message.kind === 'recycled' || message.id !== current.id) return;
    if (message.kind === 'started') current.started = true;
    else if (message.kind === 'result') this.settle((c) => c.resolve(message.result));
    else if (message.kind === 'error') this.settle((c) => c.reject(errors.fromWire(message.error)));
    else if (message.kind === 'fetch') this.fetch(current, message.fetchId, message.request);
    else if (message.kind === 'abort-fetch') current.fetches.abort(message.fetchId);
    else this.release(current);
  }

  private fetch(current: Current, fetchId: number, request: Extract<FromExecutor, { kind: 'fetch' }>['request']): void {
    const answer = (message: ToExecutor) => {
      if (this.current === current) void this.link.send(message);
    };
    current.fetches.fetch(fetchId, request).then(
      (response) => answer({ kind: 'fetched', id: current.id, fetchId, response }),
      (error: unknown) => {
        if (!(error instanceof FetchFailure)) this.log.error({ err: error }, 'fetch failed inside the daemon');
        answer({ kind: 'fetch-failed', id: current.id, fetchId, message: error instanceof FetchFailure ? error.message : 'fetch failed' });
      },
    );
  }

  private settle(answer: (current: Current) => void): void {
    const current = this.current;
    if (current === undefined || current.settled) return;
    current.settled = true;
    answer(current);
  }

  /** No sandbox could be started: the waiting execution gets a coded error, and `current` is freed. */
  private startFailed(err: unknown, current: Current | undefined): void {
    this.log.error({ err }, 'could not start a sandbox');
    this.settle((c) => c.reject(errors.sandboxLost('the sandbox is not running')));
    this.release(current);
  }

  /** Execution `current` is over; the sandbox is free for the next one once it is back within its budget. */
  private release(current: Current | undefined): void {
    if (current === undefined || current !== this.current) return;
    clearTimeout(current.watchdog);
    clearInterval(current.memoryWatch);
    current.fetches.close();
    this.current = undefined;
    const used = this.memoryBytes();
    if (used !== undefined && used > RECYCLE_SHARE * this.budgetBytes && !this.closing) {
      this.log.info({ rss: used, budget: this.budgetBytes }, 'sandbox holds most of its memory budget; replacing it');
      this.recycle().finally(current.finish);
    } else current.finish();
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

  /** A running execution's sandbox past SANDBOX_MEMORY is killed: its execution gets 1003. */
  private checkMemory(): void {
    const { current, link } = this;
    const used = this.memoryBytes();
    if (current === undefined || current.killedForMemory || used === undefined || used <= this.budgetBytes) return;
    current.killedForMemory = true;
    this.log.warn({ rss: used, budget: this.budgetBytes }, 'sandbox went over SANDBOX_MEMORY; killing it');
    link.kill();
  }

  /** Replaces an idle sandbox, the old one first, so the two never hold memory together. */
  private async recycle(): Promise<void> {
    const old = this.link;
    this.retiring = old;
    this.onRecycle('sandbox-memory');
    await old.close(KILL_GRACE_MS);
    await this.startSandbox().catch((err: unknown) => this.log.error({ err }, 'could not start a sandbox'));
  }

  private killForTime(): void {
    const { current, link } = this;
    if (current === undefined) return;
    current.killedForTime = true;
    this.log.warn('sandbox did not stop within its time limit; killing it');
    link.kill();
    // Should the kill not be reported as an exit, the sandbox is given up on all the same.
    setTimeout(() => {
      if (this.link !== link || this.current !== current) return;
      this.log.error('killed sandbox did not report its exit; abandoning it');
      void link.close(0);
      this.exited(link, 'killed', false);
    }, 5 * KILL_GRACE_MS);
  }

  private exited(link: SandboxLink, reason: string, outOfMemory: boolean): void {
    if (link !== this.link || link === this.retiring) return;
    const current = this.current;
    // Sent to a sandbox that was already gone: nothing of it ran, so the new sandbox takes it.
    const resend = current !== undefined && !current.started && !current.killedForTime && !current.killedForMemory && !this.closing;
    const forMemory = outOfMemory || current?.killedForMemory === true;
    if (current !== undefined && !resend) {
      this.settle((c) => {
        if (c.killedForTime) c.reject(errors.timeout(c.timeoutMs, []));
        else if (forMemory) c.reject(errors.memoryLimit(this.sandboxMemoryMb, []));
        else c.reject(errors.sandboxLost(`the sandbox exited (${reason})`));
      });
    }
    if (this.closing) {
      this.release(current);
      return;
    }
    if (!current?.killedForTime && !forMemory) this.log.error({ reason }, 'sandbox exited; starting a new one');
    this.onRecycle(forMemory ? 'sandbox-memory' : 'sandbox-lost');
    // Only the execution that was running is freed once the new sandbox is up; a later one is not touched.
    this.startSandbox().then(
      () => {
        if (resend && this.current === current) this.hand(current);
        else this.release(current);
      },
      (err: unknown) => this.startFailed(err, current),
    );
  }
}
