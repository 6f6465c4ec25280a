// A sandbox's memory against its budget (SANDBOX_MEMORY): read at most every
// POLL_MS (reading another process's is not free), watched while the sandbox
// runs executions, so that one going over is killed, and one holding most of
// it takes no new execution.

/** How often a sandbox's memory is read while it runs executions, and at most. */
const POLL_MS = 50;
/** A sandbox holding more than this share of its budget takes no new execution, and is replaced once it has none. */
const RECYCLE_SHARE = 0.75;
/**
 * A sandbox left holding more than this share of its budget once it runs
 * nothing is replaced: the memory of isolates it has let go stays with its
 * process, at the most it ever held at once.
 */
const IDLE_SHARE = 0.5;
/**
 * Past its budget for one reading, a sandbox is over it only past this share:
 * copies of a large value on their way out of an isolate pass in a moment,
 * and the sandbox stops its heaviest execution short of the budget
 * (executor/memory-relief.ts); past it on two readings running, it is over.
 */
const SPIKE_SHARE = 1.25;

export class MemoryGauge {
  private last = { bytes: undefined as number | undefined, at: Number.NEGATIVE_INFINITY };
  private watch: NodeJS.Timeout | undefined;
  private read: () => number | undefined = () => undefined;

  constructor(readonly budgetBytes: number) {}

  /** Reads a new sandbox from now on; undefined where something else bounds its memory (a container's limit). */
  follow(read: () => number | undefined): void {
    this.read = read;
    this.last = { bytes: undefined, at: Number.NEGATIVE_INFINITY };
  }

  /** The sandbox's memory, read at most every POLL_MS. */
  bytes(): number | undefined {
    const now = performance.now();
    if (now - this.last.at >= POLL_MS) this.last = { bytes: this.read(), at: now };
    return this.last.bytes;
  }

  /** Past RECYCLE_SHARE of the budget. */
  get full(): boolean {
    const used = this.bytes();
    return used !== undefined && used > RECYCLE_SHARE * this.budgetBytes;
  }

  /** Past IDLE_SHARE of the budget. */
  get heavy(): boolean {
    const used = this.bytes();
    return used !== undefined && used > IDLE_SHARE * this.budgetBytes;
  }

  /** Calls `over` with the reading, every POLL_MS, while the sandbox is over its budget (see SPIKE_SHARE); until `stop`. */
  start(over: (bytes: number) => void): void {
    let pastBefore = false;
    this.watch ??= setInterval(() => {
      const used = this.bytes();
      const past = used !== undefined && used > this.budgetBytes;
      if (past && (pastBefore || used > SPIKE_SHARE * this.budgetBytes)) over(used);
      pastBefore = past;
    }, POLL_MS);
  }

  stop(): void {
    clearInterval(this.watch);
    this.watch = undefined;
  }
}
