// A warning that may come once a request, logged at most once per interval for
// each reason: a client retrying with a wrong secret, or connections over
// MAX_CONNECTIONS, cannot fill the log, and the next line counts what was not logged.
import type { Logger } from '../log.js';

export class ThrottledWarning {
  /** When each reason was last logged, and how many times it came since. Reasons are the daemon's own words: a few. */
  private readonly reasons = new Map<string, { loggedAt: number; unlogged: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Logs `message` with `fields`, and `unlogged` (those held back since the last line), unless `reason` was logged within the interval. */
  warn(reason: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    const last = this.reasons.get(reason);
    if (last !== undefined && now - last.loggedAt < this.intervalMs) {
      last.unlogged++;
      return;
    }
    this.log.warn({ ...fields, ...(last?.unlogged ? { unlogged: last.unlogged } : {}) }, message);
    this.reasons.set(reason, { loggedAt: now, unlogged: 0 });
  }
}
