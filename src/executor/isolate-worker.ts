// One isolate running one execution at a time, each in a fresh context.
// The next context (created, prelude run, `enter` ready, the modules the last
// execution required instantiated) is made as soon as an execution ends, before
// the next one arrives, so a request mostly waits for its own script only;
// compiled scripts are reused by hash (script-cache.ts). Every call that runs
// the script's code gets the time left as its timeout; anything still running
// once the outcome is known (or that ignores its timeout) is ended by disposing
// the isolate, which is replaced.
import ivm from 'isolated-vm';
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import { FetchFailure, type FetchRelay } from '../outbound/wire.js';
import type { Logger } from '../log.js';
import { Deadline } from './deadline.js';
import { Execution, MAX_PENDING_TIMERS, type Outcome } from './execution.js';
import type { ExecutionRequest, RecycleReason, Running, SandboxLimits } from '../sandbox/sandbox.js';
import { type PreludeSource, readCodeCache } from '../shared/prelude-source.js';
import { ScriptCache } from './script-cache.js';
import { ERROR_TEXT, fromHost } from './thrown.js';

/** How long calls may keep running after the outcome is known before the isolate is disposed. */
const SETTLE_GRACE_MS = 100;
/** Bound on the trusted prelude's own calls, so a broken one cannot hang a sandbox. */
const PREPARE_TIMEOUT_MS = 10_000;
const TIMED_OUT = 'Script execution timed out.';

export class IsolateWorker {
  private isolate!: ivm.Isolate;
  private prelude!: ivm.Script;
  private scripts!: ScriptCache;
  private next: Promise<FreshContext> | undefined;
  /** Modules the last execution required: the next fresh context has them instantiated already. */
  private preload: string[] = [];
  private disposedByUs = false;
  private limitsJson: string | undefined;

  constructor(
    private readonly limits: SandboxLimits,
    private readonly preludeSource: PreludeSource,
    private readonly log: Logger,
    /** Told each time a disposed isolate is replaced. */
    private readonly onRecycle: (reason: Exclude<RecycleReason, 'sandbox-lost' | 'sandbox-memory'>) => void = () => {},
  ) {}

  async start(): Promise<void> {
    this.disposedByUs = false;
    this.isolate = new ivm.Isolate({
      memoryLimit: this.limits.memoryLimitMb,
      onCatastrophicError: (message) => {
        // isolated-vm's advice: V8 lost control of this isolate and its memory; the process must go.
        this.log.fatal({ message }, 'isolated-vm catastrophic error; aborting');
        process.abort();
      },
    });
    this.prelude = await this.compilePrelude();
    this.scripts = new ScriptCache(this.isolate);
    this.next = undefined;
    this.prepareNext();
  }

  dispose(): void {
    this.isolate.dispose();
  }

  /** Compiles the prelude from the code cache the daemon (or `javascriptd prepare`) wrote; without it, or refused by V8, it is only slower. */
  private async compilePrelude(): Promise<ivm.Script> {
    const cached = readCodeCache(this.preludeSource);
    return this.isolate.compileScript(this.preludeSource.source, {
      filename: 'javascriptd:prelude',
      ...(cached === undefined ? {} : { cachedData: new ivm.ExternalCopy(cached) }),
    });
  }

  /** Runs one execution; its fetches go through `relay`. */
  run(request: ExecutionRequest, relay: FetchRelay): Running {
    const execution = new Execution(this.limits);
    const deadline = new Deadline(request.timeoutMs, () => execution.fail(errors.timeout(request.timeoutMs, execution.console.lines())));
    const calls = new CallTracker();
    const result = execution.outcome.then(unwrap);
    execution.onAbortFetch = (id) => relay.abort(id);
    const done = this.drive(request, execution, deadline, calls, relay)
      .catch((err: unknown) => {
        // A failure of ours, not the script's: this execution fails alone, and an isolate in an unknown state is replaced.
        this.log.error({ err }, 'an execution failed inside the sandbox');
        execution.fail(errors.internal());
        this.disposedByUs = true;
        if (!this.isolate.isDisposed) this.isolate.dispose();
      })
      .finally(() => deadline.cancel());
    return { result, done };
  }

  private async drive(request: ExecutionRequest, execution: Execution, deadline: Deadline, calls: CallTracker, relay: FetchRelay): Promise<void> {
    const fresh = await this.takeFresh();
    if (fresh === undefined) {
      execution.fail(errors.internal());
      return;
    }
    fresh.link.execution = execution;
    execution.begin();
    const handles = [...fresh.handles];
    const steps = this.steps(fresh, request, execution, deadline, calls, relay, handles).catch((thrown: unknown) =>
      execution.fail(this.classify(thrown, request, execution)),
    );
    // The outcome can be known while a call still runs (cb called, then a loop): don't wait for it.
    await execution.outcome;
    await this.settleCalls(calls);
    await steps;
    releaseAll(handles);
    this.preload = [...execution.modulesRequired];
    if (await this.ensureIsolate()) this.prepareNext();
  }

  /** The context made for the next execution, waiting for it if it is still being made. */
  private async takeFresh(): Promise<FreshContext | undefined> {
    if (!(await this.ensureIsolate())) return undefined;
    const fresh = this.next ?? this.prepare();
    this.next = undefined;
    try {
      return await fresh;
    } catch (err) {
      this.log.error({ err }, 'could not prepare a context');
      return undefined;
    }
  }

  private prepareNext(): void {
    if (this.next !== undefined) return;
    this.next = this.prepare();
    // Awaited (and its failure logged) by the execution that takes it.
    this.next.catch(() => {});
  }

  /** A fresh context with the prelude run in it; its callbacks reach no execution until one is given to it. */
  private async prepare(): Promise<FreshContext> {
    const link = new HostLink();
    // After the ending execution's last message has gone out, the trusted prelude's
    // calls are made synchronously: no script runs in them yet, and each thread
    // hop saved is CPU saved (about a fifth more executions per second at saturation).
    await new Promise((resolve) => setImmediate(resolve));
    const context = this.isolate.createContextSync();
    const handles: Releasable[] = [context];
    try {
      const setup = this.prelude.runSync(context, { reference: true, timeout: PREPARE_TIMEOUT_MS });
      handles.push(setup);
      const enter = setup.applySync(undefined, [link.async, link.sync, this.isolateLimits], {
        result: { reference: true },
        timeout: PREPARE_TIMEOUT_MS,
      }) as ivm.Reference;
      handles.push(enter);
      if (this.preload.length > 0) {
        enter.applySync(undefined, ['preload', this.preload], { arguments: { copy: true }, timeout: PREPARE_TIMEOUT_MS });
      }
      return { context, enter, link, handles };
    } catch (err) {
      releaseAll(handles);
      throw err;
    }
  }

  /** The limits the prelude applies inside the isolate, before anything is copied out; as JSON, the cheapest to hand to every new context. */
  private get isolateLimits(): string {
    const { consoleLimitBytes, resultLimitBytes, resultDepth, fetchMaxBytes, fetchMaxRequests } = this.limits;
    this.limitsJson ??= JSON.stringify({
      consoleBytes: consoleLimitBytes,
      resultBytes: resultLimitBytes,
      resultDepth,
      fetchMaxBytes,
      fetchMaxRequests,
      maxPendingTimers: MAX_PENDING_TIMERS,
      modules: this.preludeSource.allowed,
      ...ERROR_TEXT,
    });
    return this.limitsJson;
  }

  /** The calls into the isolate that make one execution in a fresh context: globals, script, start. */
  private async steps(
    fresh: FreshContext,
    request: ExecutionRequest,
    execution: Execution,
    deadline: Deadline,
    calls: CallTracker,
    relay: FetchRelay,
    handles: Releasable[],
  ): Promise<void> {
    const { context, enter } = fresh;
    // After each call once the script has started: if it has not finished and has nothing left to run, it never will.
    let started = false;
    const stalled = () => {
      if (started && !execution.isFinished && execution.pending === 0 && calls.size === 0) {
        execution.fail(errors.timeout(request.timeoutMs, execution.console.lines(), 'the script returned without calling cb and has nothing pending'));
      }
    };
    const fail = (thrown: unknown) => execution.fail(this.classify(thrown, request, execution));
    // Timers and fetches the script's top level starts call back through `enter`.
    const enterLater = (args: unknown[]) => {
      calls.track(enter.apply(undefined, args, { arguments: { copy: true }, timeout: deadline.remainingMs() })).then(stalled, fail);
    };
    execution.onTimer = (id) => enterLater(['fire', id]);
    execution.onFetch = (id, wire) => {
      relay.fetch(id, wire).then(
        (response) => execution.takeFetch(id) && enterLater(['fetched', id, response]),
        (error: unknown) => execution.takeFetch(id) && enterLater(['fetch-failed', id, error instanceof FetchFailure ? error.message : 'fetch failed']),
      );
    };
    // Synchronous calls skip a thread hop each. They are safe where nothing can be
    // known before they return: defining JSON values, compiling, and the script's
    // top level (it has no cb yet; its outcome is its completion value).
    const globals = request.globals === undefined ? null : JSON.stringify(request.globals);
    enter.applySync(undefined, ['begin', Date.now() + deadline.remainingMs(), globals], { timeout: deadline.remainingMs() });
    const script = this.scripts.get(request.code, request.codeHash);
    // The top level reports synchronously (prelude/host.js): its console
    // lines and timers are in when this returns, or throws.
    const completion = script.runSync(context, { reference: true, timeout: deadline.remainingMs() });
    handles.push(completion);
    if (execution.isFinished) return;
    started = true;
    await calls.track(
      enter.apply(undefined, ['start', completion.derefInto(), request.call ?? null, request.caller ?? null], {
        timeout: deadline.remainingMs(),
      }),
    );
    stalled();
  }

  /** Replaces a disposed isolate; false if no new one could be made. */
  private async ensureIsolate(): Promise<boolean> {
    if (!this.isolate.isDisposed) return true;
    this.onRecycle(this.disposedByUs ? 'still-running' : 'memory-limit');
    try {
      await this.start();
      return true;
    } catch (err) {
      this.log.error({ err }, 'could not create an isolate');
      return false;
    }
  }

  /** Waits for calls still in the isolate; past the grace, disposes it so nothing keeps running. */
  private async settleCalls(calls: CallTracker): Promise<void> {
    if (calls.size === 0) return;
    const idle = calls.idle();
    const settled = await Promise.race([idle.then(() => true), delay(SETTLE_GRACE_MS).then(() => false)]);
    if (!settled) {
      this.disposedByUs = true;
      this.isolate.dispose();
      await idle;
    }
  }

  private classify(thrown: unknown, request: ExecutionRequest, execution: Execution): RpcError {
    const console = execution.console.lines();
    if (this.isolate.isDisposed && !this.disposedByUs) return errors.memoryLimit(this.limits.memoryLimitMb, console);
    if (this.isolate.isDisposed || (thrown instanceof Error && thrown.message === TIMED_OUT)) {
      return errors.timeout(request.timeoutMs, console);
    }
    return errors.exception(fromHost(thrown), console);
  }
}

interface Releasable {
  release(): void;
}

/** A context made before its execution: the prelude has run and `enter` is its way in. */
interface FreshContext {
  context: ivm.Context;
  enter: ivm.Reference;
  link: HostLink;
  handles: Releasable[];
}

/**
 * The host callbacks of one context; they reach the execution it is given to,
 * and nothing before that (what a module made ahead reports is dropped).
 */
class HostLink {
  execution: Execution | undefined;
  readonly async = new ivm.Callback((op: unknown, ...args: unknown[]) => this.execution?.receive(op, args), { ignored: true });
  readonly sync = new ivm.Callback((op: unknown, ...args: unknown[]) => {
    if (op === 'report') return this.execution?.receive(args[0], args.slice(1));
    if (this.execution === undefined) throw new TypeError('unsupported request');
    return this.execution.answer(op, args);
  });
}

function releaseAll(handles: Releasable[]): void {
  for (const handle of handles.reverse()) {
    try {
      handle.release();
    } catch {
      // Handles of a disposed isolate are already gone.
    }
  }
}

function unwrap(outcome: Outcome) {
  if (outcome.ok) return outcome.result;
  throw outcome.error;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts calls into the isolate that have not returned yet. */
class CallTracker {
  private pending = 0;
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.pending;
  }

  track<T>(call: Promise<T>): Promise<T> {
    this.pending++;
    const settle = () => {
      if (--this.pending === 0) for (const wake of this.waiters.splice(0)) wake();
    };
    call.then(settle, settle);
    return call;
  }

  idle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
