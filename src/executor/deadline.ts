// The time limit of one execution: a host clock that fires once, and the time
// left that every call into the isolate gets as its own `timeout`.

export class Deadline {
  private readonly endsAt: number;
  private readonly timer: NodeJS.Timeout;

  constructor(limitMs: number, onExpire: () => void) {
    this.endsAt = performance.now() + limitMs;
    this.timer = setTimeout(onExpire, limitMs);
  }

  /** Time left in whole ms, at least 1 (isolated-vm reads 0 as "no timeout"). */
  remainingMs(): number {
    return Math.max(1, Math.ceil(this.endsAt - performance.now()));
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}
