// One isolate running one execution at a time, each in a fresh context.
// Every call into the isolate runs on isolated-vm's threads with the time left
// as its timeout; anything still running once the outcome is known (or that
// ignores its timeout) is ended by disposing the isolate, which is replaced.
import ivm from 'isolated-vm';
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import { FetchFailure, type FetchRelay } from '../outbound/wire.js';
import type { Logger } from '../log.js';
import { Deadline } from './deadline.js';
import { Execution, type Outcome } from './execution.js';
import type { ExecutionRequest, Running, SandboxLimits } from './sandbox.js';
import type { BundledModule } from './module-bundler.js';
import { type PreludeSource, preludeSource, readCodeCache, writeCodeCache } from './prelude-source.js';
import { fromHost } from './thrown.js';

/** How long calls may keep running after the outcome is known before the isolate is disposed. */
const SETTLE_GRACE_MS = 100;
const TIMED_OUT = 'Script execution timed out.';

export class IsolateWorker {
  private isolate!: ivm.Isolate;
  private prelude!: ivm.Script;
  private disposedByUs = false;

  constructor(
    private readonly limits: SandboxLimits,
    private readonly preludeSource: PreludeSource,
    private readonly log: Logger,
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
  }

  dispose(): void {
    this.isolate.dispose();
  }

  /** Compiles the prelude from its code cache; V8 produces a new cache when there is none or it refuses the old one. */
  private async compilePrelude(): Promise<ivm.Script> {
    const cached = readCodeCache(this.preludeSource);
    const script = (await this.isolate.compileScript(this.preludeSource.source, {
      filename: 'javascriptd:prelude',
      produceCachedData: true,
      ...(cached === undefined ? {} : { cachedData: new ivm.ExternalCopy(cached) }),
    })) as ivm.Script & ivm.CachedDataResult;
    if (script.cachedData !== undefined) {
      try {
        writeCodeCache(this.preludeSource, script.cachedData.copy());
      } catch (err) {
        this.log.warn({ err }, 'could not write the prelude code cache');
      }
    }
    return script;
  }

  /** Runs one execution; its fetches go through `relay`. */
  run(request: ExecutionRequest, relay: FetchRelay): Running {
    const execution = new Execution(request, this.limits);
    const deadline = new Deadline(request.timeoutMs, () => execution.fail(errors.timeout(request.timeoutMs, execution.console.lines())));
    const calls = new CallTracker();
    const result = execution.outcome.then(unwrap);
    execution.onAbortFetch = (id) => relay.abort(id);
    const done = this.drive(request, execution, deadline, calls, relay).finally(() => deadline.cancel());
    return { result, done };
  }

  private async drive(request: ExecutionRequest, execution: Execution, deadline: Deadline, calls: CallTracker, relay: FetchRelay): Promise<void> {
    if (!(await this.ensureIsolate())) {
      execution.fail(errors.internal());
      return;
    }
    const isolate = this.isolate;
    const handles: { release(): void }[] = [];
    const steps = this.steps(isolate, request, execution, deadline, calls, relay, handles).catch((thrown: unknown) =>
      execution.fail(this.classify(thrown, request, execution)),
    );
    // The outcome can be known while a call still runs (cb called, then a loop): don't wait for it.
    await execution.outcome;
    await this.settleCalls(calls);
    await steps;
    for (const handle of handles.reverse()) {
      try {
        handle.release();
      } catch {
        // Handles of a disposed isolate are already gone.
      }
    }
    await this.ensureIsolate();
  }

  /** The calls into the isolate that make one execution: context, prelude, script, start. */
  private async steps(
    isolate: ivm.Isolate,
    request: ExecutionRequest,
    execution: Execution,
    deadline: Deadline,
    calls: CallTracker,
    relay: FetchRelay,
    handles: { release(): void }[],
  ): Promise<void> {
    const keep = <T extends { release(): void }>(handle: T): T => {
      handles.push(handle);
      return handle;
    };
    // After each call once the script has started: if it has not finished and has nothing left to run, it never will.
    let started = false;
    const stalled = () => {
      if (started && !execution.isFinished && execution.pending === 0 && calls.size === 0) {
        execution.fail(errors.timeout(request.timeoutMs, execution.console.lines(), 'the script returned without calling cb and has nothing pending'));
      }
    };
    const fail = (thrown: unknown) => execution.fail(this.classify(thrown, request, execution));
    const context = keep(await calls.track(isolate.createContext()));
    if (execution.isFinished) return;
    const setup = keep(await calls.track(this.prelude.run(context, { reference: true, timeout: deadline.remainingMs() })));
    const globalsJson = request.globals === undefined ? null : JSON.stringify(request.globals);
    const lineLimit = Math.max(1, this.limits.consoleLimitBytes);
    const enter = keep(
      await calls.track(
        setup.apply(undefined, [execution.callback, execution.syncCallback, globalsJson, lineLimit], {
          result: { reference: true },
          timeout: deadline.remainingMs(),
        }) as Promise<ivm.Reference>,
      ),
    );
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
    if (execution.isFinished) return;
    const script = keep(await calls.track(isolate.compileScript(request.code, { filename: 'script.js' })));
    if (execution.isFinished) return;
    const completion = keep(await calls.track(script.run(context, { reference: true, timeout: deadline.remainingMs() })));
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

/** Compiles a prelude once, which writes its code cache; for preparing images. */
export async function compilePrelude(modules: readonly BundledModule[], cacheDir: string, log: Logger): Promise<void> {
  const worker = new IsolateWorker({ memoryLimitMb: 128, consoleLimitBytes: 0, resultLimitBytes: 0 }, preludeSource(modules, cacheDir), log);
  await worker.start();
  worker.dispose();
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
