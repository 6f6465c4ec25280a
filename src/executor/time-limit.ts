// The time limit of one execution, in its own isolate. While a call of the
// script runs, the limit counts the CPU time the isolate got (cpu-shares.ts), so that sharing
// the cores with busy neighbours costs a script time, never its answer; past
// WALL_BACKSTOP times the limit in wall time it stops all the same. While the
// script waits (timers, fetches) with no call running, the wall clock counts,
// as it always did.
import { WALL_BACKSTOP } from '../shared/contract.js';

export interface TimeLimitOptions {
  limitMs: number;
  /** The CPU time, µs, the isolate's calls got so far, a running call's included. */
  cpuTimeUs: () => number;
  /** Whether a call of the script runs now. */
  computing: () => boolean;
  onExpire: () => void;
}

export class TimeLimit {
  private readonly startedAt = performance.now();
  private readonly cpuAtStart: number;
  private timer: NodeJS.Timeout | undefined;
  private expired = false;

  constructor(private readonly options: TimeLimitOptions) {
    this.cpuAtStart = options.cpuTimeUs();
    this.timer = setTimeout(() => this.onTimer(), options.limitMs);
  }

  /** Wall time left to the backstop, in whole ms, at least 1 (isolated-vm reads 0 as "no timeout"): every call's own timeout. */
  remainingMs(): number {
    return Math.max(1, Math.ceil(this.startedAt + this.options.limitMs * WALL_BACKSTOP - performance.now()));
  }

  /** CPU time the script got so far, µs. */
  cpuUs(): number {
    return this.options.cpuTimeUs() - this.cpuAtStart;
  }

  /**
   * Expires the execution if its time is up: called when the wall-clock limit
   * passes, again while a call computes, and after each call returns.
   */
  check(): void {
    if (this.expired) return;
    const { limitMs, computing } = this.options;
    const wallMs = performance.now() - this.startedAt;
    if (wallMs < limitMs) return;
    const cpuLeftMs = limitMs - this.cpuUs() / 1000;
    const backstopLeftMs = limitMs * WALL_BACKSTOP - wallMs;
    if (!computing() || cpuLeftMs <= 0 || backstopLeftMs <= 0) {
      this.expired = true;
      this.cancel();
      this.options.onExpire();
      return;
    }
    // CPU time grows no faster than wall time: nothing to look at before `cpuLeftMs` has passed.
    this.arm(Math.min(cpuLeftMs, backstopLeftMs));
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, Math.ceil(ms)));
  }

  private onTimer(): void {
    const early = this.options.limitMs - (performance.now() - this.startedAt);
    // A timer can fire a fraction of a millisecond before performance.now() says it is due (libuv's clock is
    // coarser): look again then, or a script computing past its limit would never be looked at again.
    if (early > 0) this.arm(early);
    else this.check();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
