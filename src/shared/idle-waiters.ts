// Promises that resolve once something counted (executions, calls) is down to
// nothing. Whoever counts calls `check` after each decrement.
export class IdleWaiters {
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly isIdle: () => boolean) {}

  /** Resolves once idle: at once if idle now. */
  wait(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters.push(resolve);
    return promise;
  }

  /** Wakes every waiter, if idle. */
  check(): void {
    if (this.isIdle()) for (const wake of this.waiters.splice(0)) wake();
  }
}
