// Which of a sandbox's executions compute now, and for how long (see
// compute-slots.ts for how many may).

/** An execution computing longer than this stops counting as starting: another may start beside it. */
const START_SLICE_MS = 10;

type Phase = 'starting' | 'busy';

/**
 * Which of a sandbox's executions compute now, and for how long: starting for
 * their first START_SLICE_MS, busy after that, until they wait or answer.
 */
export class ComputePhases<T> {
  private readonly phases = new Map<T, { phase: Phase; slice: NodeJS.Timeout | undefined }>();
  private readonly counts = { starting: 0, busy: 0 };

  /** `onBusy`: one went past its first slice, and another may start beside it. */
  constructor(private readonly onBusy: () => void) {}

  get starting(): number {
    return this.counts.starting;
  }

  get computing(): number {
    return this.counts.starting + this.counts.busy;
  }

  /** `execution` starts (again) computing. */
  start(execution: T): void {
    this.stop(execution);
    const slice = setTimeout(() => {
      this.stop(execution);
      this.phases.set(execution, { phase: 'busy', slice: undefined });
      this.counts.busy++;
      this.onBusy();
    }, START_SLICE_MS);
    this.phases.set(execution, { phase: 'starting', slice });
    this.counts.starting++;
  }

  /** `execution` waits, or has answered. */
  stop(execution: T): void {
    const current = this.phases.get(execution);
    if (current === undefined) return;
    clearTimeout(current.slice);
    this.counts[current.phase]--;
    this.phases.delete(execution);
  }
}
