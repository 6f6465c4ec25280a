// The daemon's side of one execution: what the isolate reports through `host`
// (console lines, timers, fetches, the outcome) and asks of `hostSync` (random
// bytes, digests), all checked as untrusted input; and the single settlement
// of its result.
import { createHash, randomBytes } from 'node:crypto';
import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import type { WireRequest } from '../outbound/wire.js';
import type { ExecutionResult, SandboxLimits, Usage } from '../shared/contract.js';
import { ConsoleLog } from './console-log.js';
import { asAsk, asReport } from './host-ops.js';
import { thrown } from './thrown.js';

/** Pending timers one execution may hold; the isolate throws a RangeError at the next, the host fails the execution. */
export const MAX_PENDING_TIMERS = 10_000;
const MAX_RANDOM_BYTES = 65536;
const DIGESTS = new Set(['sha1', 'sha256', 'sha384', 'sha512']);
const REDIRECT_MODES = new Set(['follow', 'error', 'manual']);

/** What an execution that never ran cost. */
export const NO_USAGE: Usage = { cpuMs: 0, wallMs: 0, heapBytes: 0, fetchRequests: 0, fetchBytesOut: 0, fetchBytesIn: 0, consoleBytes: 0 };

/** An execution's outcome; what it cost is added when nothing of it runs any more. */
export type Outcome = { ok: true; result: Omit<ExecutionResult, 'usage'> } | { ok: false; error: RpcError };

export class Execution {
  readonly console: ConsoleLog;
  private readonly settled = Promise.withResolvers<Outcome>();
  readonly outcome = this.settled.promise;
  /** Called when a timer is due; set by whoever drives the isolate. */
  onTimer: (id: number) => void = () => {};
  /** Called when the script fetches, and when it aborts a fetch. */
  onFetch: (id: number, request: WireRequest) => void = () => {};
  onAbortFetch: (id: number) => void = () => {};
  /** Called with each console line kept within CONSOLE_LIMIT, as it is printed. */
  onConsole: ((line: string) => void) | undefined;
  /** CPU time and heap growth of its calls into the isolate, counted by whoever makes them (execution-run.ts). */
  cpuUs = 0;
  heapGrowth = 0;
  private readonly fetched = { requests: 0, bytesOut: 0, bytesIn: 0 };
  private readonly fetches = new Set<number>();
  /** Allowlisted modules the script required. */
  readonly modulesRequired = new Set<string>();
  private finished = false;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private startedAt = performance.now();
  private endedAt: number | undefined;

  constructor(private readonly limits: SandboxLimits) {
    this.console = new ConsoleLog(limits.consoleLimitBytes);
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

  /** A fetch's answer (of `bytes`) is about to be handed to the script; returns false if nobody waits for it. */
  takeFetch(id: number, bytes = 0): boolean {
    if (this.finished || !this.fetches.delete(id)) return false;
    this.fetched.bytesIn += bytes;
    return true;
  }

  /** What it cost so far. */
  usage(): Usage {
    return {
      cpuMs: Math.round(this.cpuUs) / 1000,
      wallMs: this.elapsedMs(),
      heapBytes: this.heapGrowth,
      fetchRequests: this.fetched.requests,
      fetchBytesOut: this.fetched.bytesOut,
      fetchBytesIn: this.fetched.bytesIn,
      consoleBytes: this.console.printedBytes(),
    };
  }

  fail(error: RpcError): void {
    this.finish({ ok: false, error });
  }

  /** What the isolate reports through `host`. */
  receive(op: unknown, args: unknown[]): void {
    const report = asReport(op, args);
    if (this.finished || report === undefined) return;
    switch (report.op) {
      case 'log':
        if (this.console.push(report.args[0])) this.onConsole?.(report.args[0]);
        break;
      case 'dropped':
        this.console.droppedInIsolate(...report.args);
        break;
      case 'set':
        this.setTimer(...report.args);
        break;
      case 'clear':
        this.clearTimer(report.args[0]);
        break;
      case 'value':
        this.succeed(report.args[0]);
        break;
      case 'too-large':
        this.fail(errors.resultTooLarge(report.args[0], this.limits.resultLimitBytes, this.console.lines()));
        break;
      case 'error':
        this.fail(errors.exception(thrown(...report.args), this.console.lines()));
        break;
      case 'require':
        if (this.modulesRequired.size < 100) this.modulesRequired.add(report.args[0]);
        break;
      case 'missing':
        this.fail(errors.notImplemented(this.console.lines()));
        break;
      case 'fetch':
        this.startFetch(...report.args);
        break;
      case 'abort-fetch':
        if (this.fetches.delete(report.args[0])) this.onAbortFetch(report.args[0]);
        break;
    }
  }

  private startFetch(id: number, method: string, url: string, headersJson: string, body: Uint8Array | null, redirect: string): void {
    if (!REDIRECT_MODES.has(redirect)) return;
    const headers = parseHeaders(headersJson);
    if (headers === undefined || this.fetches.has(id)) return;
    this.fetches.add(id);
    this.fetched.requests++;
    this.fetched.bytesOut += body?.byteLength ?? 0;
    this.onFetch(id, { method, url, headers, body, redirect: redirect as WireRequest['redirect'] });
  }

  /** Synchronous asks from the isolate; what they return is copied back in. */
  answer(op: unknown, args: unknown[]): Uint8Array | undefined {
    const ask = asAsk(op, args);
    switch (ask?.op) {
      case 'barrier':
        // The isolate waits here for the host to have handled its earlier asynchronous reports.
        return undefined;
      case 'random': {
        const [bytes] = ask.args;
        if (Number.isInteger(bytes) && bytes >= 0 && bytes <= MAX_RANDOM_BYTES) return new Uint8Array(randomBytes(bytes));
        break;
      }
      case 'digest': {
        const [algorithm, data] = ask.args;
        if (DIGESTS.has(algorithm)) return new Uint8Array(createHash(algorithm).update(data).digest());
        break;
      }
    }
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
    this.endedAt = performance.now();
    this.finish({ ok: true, result: { valueJson: json, console: this.console.lines(), time: this.elapsedMs() } });
  }

  /** From `begin` to the outcome (or to now, before it). */
  private elapsedMs(): number {
    return Math.round(((this.endedAt ?? performance.now()) - this.startedAt) * 1000) / 1000;
  }

  private finish(outcome: Outcome): void {
    if (this.finished) return;
    this.finished = true;
    this.endedAt ??= performance.now();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const id of this.fetches) this.onAbortFetch(id);
    this.fetches.clear();
    this.settled.resolve(outcome);
  }
}

function parseHeaders(json: string): [string, string][] | undefined {
  try {
    const parsed: unknown = JSON.parse(json);
    if (
      Array.isArray(parsed) &&
      parsed.every((pair) => Array.isArray(pair) && pair.length === 2 && pair.every((part) => typeof part === 'string'))
    ) {
      return parsed as [string, string][];
    }
  } catch {
    // Not JSON: not from the prelude.
  }
  return undefined;
}
