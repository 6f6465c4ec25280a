// The daemon's side of one execution: what the isolate reports through `host`
// (console lines, timers, the outcome), checked as untrusted input, and the
// single settlement of its result.
import ivm from 'isolated-vm';
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import { ConsoleLog } from './console-log.js';
import type { ExecutionRequest, ExecutionResult, SandboxLimits } from './sandbox.js';
import { cleanStack } from './thrown.js';

/** Pending timers one execution may hold; more is treated as an exception. */
export const MAX_PENDING_TIMERS = 10_000;

export type Outcome = { ok: true; result: ExecutionResult } | { ok: false; error: RpcError };

export class Execution {
  readonly callback: ivm.Callback;
  readonly console: ConsoleLog;
  readonly outcome: Promise<Outcome>;
  /** Called when a timer is due; set by whoever drives the isolate. */
  onTimer: (id: number) => void = () => {};
  private settle!: (outcome: Outcome) => void;
  private finished = false;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly startedAt = performance.now();

  constructor(
    private readonly request: ExecutionRequest,
    private readonly limits: SandboxLimits,
  ) {
    this.console = new ConsoleLog(limits.consoleLimitBytes);
    this.outcome = new Promise((resolve) => (this.settle = resolve));
    this.callback = new ivm.Callback((op: unknown, a: unknown, b: unknown, c: unknown) => this.receive(op, a, b, c), {
      ignored: true,
    });
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  fail(error: RpcError): void {
    this.finish({ ok: false, error });
  }

  private receive(op: unknown, a: unknown, b: unknown, c: unknown): void {
    if (this.finished) return;
    switch (op) {
      case 'log':
        if (typeof a === 'string') this.console.push(a);
        break;
      case 'set':
        if (typeof a === 'number' && typeof b === 'number') this.setTimer(a, b);
        break;
      case 'clear':
        if (typeof a === 'number') this.clearTimer(a);
        break;
      case 'value':
        if (typeof a === 'string') this.succeed(a);
        break;
      case 'error':
        this.fail(errors.exception({ name: String(a), message: String(b), stack: cleanStack(String(c)) }, this.console.lines()));
        break;
      case 'missing':
        this.fail(errors.notImplemented(this.request.call ?? '', this.console.lines()));
        break;
    }
  }

  private setTimer(id: number, delayMs: number): void {
    this.clearTimer(id);
    if (this.timers.size >= MAX_PENDING_TIMERS) {
      const message = `more than ${MAX_PENDING_TIMERS} pending timers`;
      this.fail(errors.exception({ name: 'RangeError', message, stack: '' }, this.console.lines()));
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.onTimer(id);
    }, delayMs);
    this.timers.set(id, timer);
  }

  private clearTimer(id: number): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  private succeed(json: string): void {
    const size = Buffer.byteLength(json);
    if (size > this.limits.resultLimitBytes) {
      this.fail(errors.resultTooLarge(size, this.limits.resultLimitBytes, this.console.lines()));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      this.fail(errors.internal());
      return;
    }
    const time = Math.round((performance.now() - this.startedAt) * 1000) / 1000;
    this.finish({ ok: true, result: { value, console: this.console.lines(), time } });
  }

  private finish(outcome: Outcome): void {
    if (this.finished) return;
    this.finished = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.settle(outcome);
  }
}
