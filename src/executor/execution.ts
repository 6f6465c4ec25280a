// The daemon's side of one execution: what the isolate reports through `host`
// (console lines, timers, fetches, the outcome) and asks of `hostSync` (random
// bytes, digests), all checked as untrusted input; and the single settlement
// of its result.
import { createHash, randomBytes } from 'node:crypto';
import type { WireRequest } from '../outbound/wire.js';
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import { ConsoleLog } from './console-log.js';
import type { ExecutionResult, SandboxLimits } from '../sandbox/sandbox.js';
import { thrown } from './thrown.js';

/** Pending timers one execution may hold; the isolate throws a RangeError at the next, the host fails the execution. */
export const MAX_PENDING_TIMERS = 10_000;
const MAX_RANDOM_BYTES = 65536;
const DIGESTS = new Set(['sha1', 'sha256', 'sha384', 'sha512']);
const REDIRECT_MODES = new Set(['follow', 'error', 'manual']);

export type Outcome = { ok: true; result: ExecutionResult } | { ok: false; error: RpcError };

export class Execution {
  readonly console: ConsoleLog;
  readonly outcome: Promise<Outcome>;
  /** Called when a timer is due; set by whoever drives the isolate. */
  onTimer: (id: number) => void = () => {};
  /** Called when the script fetches, and when it aborts a fetch. */
  onFetch: (id: number, request: WireRequest) => void = () => {};
  onAbortFetch: (id: number) => void = () => {};
  private readonly fetches = new Set<number>();
  /** Allowlisted modules the script required. */
  readonly modulesRequired = new Set<string>();
  private settle!: (outcome: Outcome) => void;
  private finished = false;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private startedAt = performance.now();

  constructor(private readonly limits: SandboxLimits) {
    this.console = new ConsoleLog(limits.consoleLimitBytes);
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Timers and fetches that may still call back into the script. */
  get pending(): number {
    return this.timers.size + this.fetches.size;
  }

  /** The script is about to run in its context: `time` counts from here, not from waiting for a context. */
  begin(): void {
    this.startedAt = performance.now();
  }

  /** A fetch's answer is about to be handed to the script; returns false if nobody waits for it. */
  takeFetch(id: number): boolean {
    return !this.finished && this.fetches.delete(id);
  }

  fail(error: RpcError): void {
    this.finish({ ok: false, error });
  }

  /** What the isolate reports through `host`. */
  receive(op: unknown, [a, b, c, d, e, f]: unknown[]): void {
    if (this.finished) return;
    switch (op) {
      case 'log':
        if (typeof a === 'string') this.console.push(a);
        break;
      case 'dropped':
        if (typeof a === 'number' && typeof b === 'number') this.console.droppedInIsolate(a, b);
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
      case 'too-large':
        if (typeof a === 'number') this.fail(errors.resultTooLarge(a, this.limits.resultLimitBytes, this.console.lines()));
        break;
      case 'error':
        this.fail(errors.exception(thrown(String(a), String(b), String(c)), this.console.lines()));
        break;
      case 'require':
        if (typeof a === 'string' && this.modulesRequired.size < 100) this.modulesRequired.add(a);
        break;
      case 'missing':
        this.fail(errors.notImplemented(this.console.lines()));
        break;
      case 'fetch':
        this.startFetch(a, b, c, d, e, f);
        break;
      case 'abort-fetch':
        if (typeof a === 'number' && this.fetches.delete(a)) this.onAbortFetch(a);
        break;
    }
  }

  private startFetch(id: unknown, method: unknown, url: unknown, headersJson: unknown, body: unknown, redirect: unknown): void {
    if (typeof id !== 'number' || typeof method !== 'string' || typeof url !== 'string' || typeof headersJson !== 'string') return;
    if (!(body === null || body instanceof Uint8Array) || typeof redirect !== 'string' || !REDIRECT_MODES.has(redirect)) return;
    const headers = parseHeaders(headersJson);
    if (headers === undefined || this.fetches.has(id)) return;
    this.fetches.add(id);
    this.onFetch(id, { method, url, headers, body, redirect: redirect as WireRequest['redirect'] });
  }

  /** Synchronous requests from the isolate; what they return is copied back in. */
  answer(op: unknown, [a, b]: unknown[]): Uint8Array | undefined {
    // The isolate waits here for the host to have handled its earlier asynchronous calls.
    if (op === 'barrier') return undefined;
    if (op === 'random' && typeof a === 'number' && Number.isInteger(a) && a >= 0 && a <= MAX_RANDOM_BYTES) return new Uint8Array(randomBytes(a));
    if (op === 'digest' && typeof a === 'string' && DIGESTS.has(a) && b instanceof Uint8Array) return new Uint8Array(createHash(a).update(b).digest());
    throw new TypeError('unsupported request');
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

  /** `json` is the isolate's own JSON.stringify of the value, already within RESULT_LIMIT; checked again all the same. */
  private succeed(json: string): void {
    const size = Buffer.byteLength(json);
    if (size > this.limits.resultLimitBytes) {
      this.fail(errors.resultTooLarge(size, this.limits.resultLimitBytes, this.console.lines()));
      return;
    }
    const time = Math.round((performance.now() - this.startedAt) * 1000) / 1000;
    this.finish({ ok: true, result: { valueJson: json, console: this.console.lines(), time } });
  }

  private finish(outcome: Outcome): void {
    if (this.finished) return;
    this.finished = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const id of this.fetches) this.onAbortFetch(id);
    this.fetches.clear();
    this.settle(outcome);
  }
}

function parseHeaders(json: string): [string, string][] | undefined {
  try {
    const parsed: unknown = JSON.parse(json);
    if (Array.isArray(parsed) && parsed.every((pair) => Array.isArray(pair) && pair.length === 2 && pair.every((part) => typeof part === 'string'))) {
      return parsed as [string, string][];
    }
  } catch {
    // Not JSON: not from the prelude.
  }
  return undefined;
}
