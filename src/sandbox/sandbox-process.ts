// One sandbox's life (a process or a container, see link.ts): started and
// waited for until ready, its memory watched while it runs executions (killed
// past its budget), replaced when idle and holding most of it, and closed.
// Its exit is reported with how it was lost; the executions it ran are
// sandbox-host.ts's.

import type { Logger } from '../log.js';
import type { RecycleReason } from '../shared/contract.js';
import type { FromExecutor } from '../shared/ipc.js';
import type { SandboxLink, StartLink } from './link.js';
import type { SandboxLoss } from './lost-execution.js';
import { MemoryGauge } from './memory-gauge.js';

/** How long a sandbox asked to exit, or an execution past its wall-clock backstop, has before the sandbox is killed. */
export const KILL_GRACE_MS = 1000;
/** How long a new sandbox may take to become ready. */
const START_TIMEOUT_MS = 60000;

/** What a sandbox says about one of its executions. */
export type ExecutionMessage = Exclude<FromExecutor, { kind: 'ready' | 'recycled' | 'wedged' }>;

export interface SandboxProcessOptions {
  startLink: StartLink;
  /** SANDBOX_MEMORY: the budget a sandbox is killed past (where the daemon can read its memory), and what a 1003 for it reports. */
  sandboxMemoryMb: number;
  /** Told each time an isolate is replaced: with its sandbox, or inside it. */
  onRecycle: (reason: RecycleReason) => void;
  /** Told each time another execution may start: one answered or waits, or a replaced sandbox is up. */
  onAvailable: () => void;
  /** Told when a thread in the sandbox cannot be stopped: it is to be replaced once its executions are over (sandbox-pool.ts). */
  onWedged: () => void;
  log: Logger;
}

export interface SandboxProcessEvents {
  message(message: ExecutionMessage): void;
  /** The sandbox died, not on purpose: `killedForCancel` if it was killed for a cancel it did not stop (no surprise). */
  exited(loss: SandboxLoss, killedForCancel: boolean): void;
}

export class SandboxProcess {
  private current!: SandboxLink;
  /** A sandbox being replaced on purpose: its exit is expected. */
  private retiring: SandboxLink | undefined;
  private closing = false;
  /** A sandbox being started (or replaced): executions wait for it. */
  private bringingUp: Promise<void> | undefined;
  private killedForMemory = false;
  /** The sandbox was killed because it did not stop a cancelled execution in time: its exit is no surprise. */
  private killedForCancel = false;
  private readonly memory: MemoryGauge;

  constructor(
    private readonly options: SandboxProcessOptions,
    private readonly events: SandboxProcessEvents,
  ) {
    this.memory = new MemoryGauge(options.sandboxMemoryMb * 1024 * 1024);
  }

  /** The sandbox now: what was asked of one sandbox is followed up only while it still is. */
  get link(): SandboxLink {
    return this.current;
  }

  /** A sandbox is being started, or an idle one replaced: executions wait for it. */
  get startingUp(): boolean {
    return this.bringingUp !== undefined;
  }

  /** It holds most of its memory budget: it takes no new execution. */
  get full(): boolean {
    return this.memory.full;
  }

  /** It holds more than half its memory budget: replaced once it runs nothing. */
  get heavy(): boolean {
    return this.memory.heavy;
  }

  /** Starts a sandbox; a start already under way is joined, not doubled. */
  start(): Promise<void> {
    this.bringingUp ??= this.spawn().finally(() => (this.bringingUp = undefined));
    return this.bringingUp;
  }

  /** While it runs executions: one past SANDBOX_MEMORY is killed. */
  watchMemory(): void {
    this.memory.start((bytes) => this.overBudget(bytes));
  }

  unwatchMemory(): void {
    this.memory.stop();
  }

  /** Replaces an idle sandbox past a share of its memory, the old one first, so the two never hold memory together. */
  recycleIdle(): void {
    if (this.closing || this.bringingUp !== undefined) return;
    this.options.log.info(
      { rss: this.memory.bytes(), budget: this.memory.budgetBytes },
      'sandbox holds much of its memory budget; replacing it',
    );
    const old = this.current;
    this.retiring = old;
    this.options.onRecycle('sandbox-memory');
    this.bringingUp = old
      .close(KILL_GRACE_MS)
      .then(() => this.spawn())
      .catch((err: unknown) => this.options.log.error({ err }, 'could not start a sandbox'))
      .finally(() => {
        this.bringingUp = undefined;
        this.options.onAvailable();
      });
  }

  /** Kills `link`, which did not stop a cancelled execution in time. */
  killForCancel(link: SandboxLink): void {
    this.killedForCancel = true;
    link.kill();
  }

  /**
   * Kills the sandbox, which did not answer an execution in time. Should the
   * kill not be reported as an exit while `unanswered()`, the sandbox is given
   * up on all the same.
   */
  killForTime(unanswered: () => boolean): void {
    const link = this.current;
    link.kill();
    setTimeout(() => {
      if (this.current !== link || !unanswered()) return;
      this.options.log.error('killed sandbox did not report its exit; abandoning it');
      void link.close(0);
      this.exited(link, 'killed', false);
    }, 5 * KILL_GRACE_MS).unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.memory.stop();
    await this.bringingUp?.catch(() => undefined);
    await this.current.close(KILL_GRACE_MS);
  }

  private async spawn(): Promise<void> {
    let ready = false;
    const readiness = Promise.withResolvers<void>();
    // Awaited below, unless the daemon is closing; an exit before then is not an error of its own.
    readiness.promise.catch(() => undefined);
    const link = await this.options.startLink({
      message: (message) => {
        if (message.kind === 'recycled') this.options.onRecycle(message.reason);
        else if (message.kind === 'wedged') this.options.onWedged();
        else if (message.kind !== 'ready') this.events.message(message);
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
    this.current = link;
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

  /** A sandbox past SANDBOX_MEMORY while it runs executions is killed. */
  private overBudget(bytes: number): void {
    if (this.killedForMemory) return;
    this.killedForMemory = true;
    this.options.log.warn({ rss: bytes, budget: this.memory.budgetBytes }, 'sandbox went over SANDBOX_MEMORY; killing it');
    this.current.kill();
  }

  private exited(link: SandboxLink, reason: string, outOfMemory: boolean): void {
    if (link !== this.current || link === this.retiring) return;
    const forMemory = outOfMemory || this.killedForMemory;
    const killedForCancel = this.killedForCancel;
    this.killedForMemory = false;
    this.killedForCancel = false;
    this.events.exited({ reason, forMemory, sandboxMemoryMb: this.options.sandboxMemoryMb, closing: this.closing }, killedForCancel);
  }
}
