// Keeps a sandbox process inside SANDBOX_MEMORY by stopping the execution that
// holds the most. Each execution's heap is bounded by MEMORY_LIMIT, but many
// of them at once can hold more than the sandbox may: past its budget the
// daemon kills the whole sandbox, costing every execution in it. Short of
// that (RELIEF_SHARE of the budget), the heaviest execution is answered 1003
// and its isolate disposed, giving its memory back, so that its neighbours
// keep theirs.
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import type { ExecutionRun } from './execution-run.js';

const POLL_MS = 50;
/** Past this share of the budget, the heaviest execution is stopped; the daemon starts no new one past 0.75, and kills at 1. */
const RELIEF_SHARE = 0.9;
/** After stopping one, how long before another may be: its isolate's memory takes a moment to go. */
const SETTLE_MS = 100;
/** An execution holding less than this is never stopped for memory: stopping it would give too little back. */
const LEAST_BYTES = 8 * 1024 * 1024;

export class MemoryRelief {
  private timer: NodeJS.Timeout | undefined;
  private quietUntil = 0;
  private checking = false;

  constructor(
    private readonly budgetMb: number,
    private readonly runs: ReadonlySet<ExecutionRun>,
    private readonly log: Logger,
  ) {}

  /** Watches while executions run; it stops by itself once none does. */
  watch(): void {
    this.timer ??= setInterval(() => {
      if (this.runs.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      } else if (!this.checking && performance.now() >= this.quietUntil) {
        this.checking = true;
        this.relieve()
          .catch((err: unknown) => this.log.error({ err }, 'could not look at the executions of a sandbox short of memory'))
          .finally(() => (this.checking = false));
      }
    }, POLL_MS);
  }

  private async relieve(): Promise<void> {
    const rss = process.memoryUsage.rss();
    if (rss <= RELIEF_SHARE * this.budgetMb * 1024 * 1024) return;
    // Read without waiting for what runs in each isolate.
    const sized = await Promise.all([...this.runs].map(async (run) => ({ run, bytes: await run.heapBytes().catch(() => 0) })));
    const heaviest = sized.reduce((most, next) => (next.bytes > most.bytes ? next : most), { run: undefined, bytes: LEAST_BYTES } as {
      run: ExecutionRun | undefined;
      bytes: number;
    });
    if (heaviest.run === undefined) return;
    this.log.warn(
      { rss, budgetMb: this.budgetMb, heap: heaviest.bytes },
      'sandbox short of SANDBOX_MEMORY; stopping the execution holding the most',
    );
    heaviest.run.evict(errors.memoryLimit(this.budgetMb, heaviest.run.execution.console.lines()));
    this.quietUntil = performance.now() + SETTLE_MS;
  }
}
