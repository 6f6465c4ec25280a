// One execution, alone in a warm isolate: its calls into the isolate (all
// asynchronous, so a busy script holds one of isolated-vm's threads, never
// the sandbox's main thread), its timers and fetches, its time limit and its
// cancel. Nothing else runs in the isolate while it does, so whatever goes
// wrong in it — out of memory, a loop past its limit, a call still running
// after its outcome, a cancel while it computes — costs this execution only:
// the isolate is disposed and not reused. An ES module is compiled and started
// through an entry module (module-entry.ts).
import type ivm from 'isolated-vm';
import * as errors from '../errors.js';
import { FetchFailure, type FetchRelay } from '../outbound/wire.js';
import type { ExecutionRequest, SandboxLimits, Usage } from '../shared/contract.js';
import { IdleWaiters } from '../shared/idle-waiters.js';
import { Execution, type Outcome } from './execution.js';
import { entry } from './host-ops.js';
import { linkModule } from './module-entry.js';
import { fromHost } from './thrown.js';
import { TimeLimit } from './time-limit.js';
import { type FreshContext, type Releasable, releaseAll, type WarmIsolate } from './warm-isolate.js';

/** Once an execution has its outcome, how long its calls may go on before its isolate is disposed. */
const SETTLE_GRACE_MS = 100;
const TIMED_OUT = 'Script execution timed out.';

/** What a sandbox is told of one execution as it runs. */
export interface RunHooks {
  /** Its fetches go through the relay. */
  relay: FetchRelay;
  /** Its first part is over and it now waits (timers, fetches, promises) without its outcome. */
  onWaiting: () => void;
  /** Each console line kept, as it is printed: for a request that streams them. */
  onConsole: (line: string) => void;
}

export interface RunEnd {
  outcome: Outcome;
  usage: Usage;
  /** Why its isolate was disposed, if it was: it is not reused. */
  disposed: 'memory-limit' | 'still-running' | undefined;
}

export class ExecutionRun {
  readonly execution: Execution;
  /** Its calls into the isolate that have not returned. */
  private calls = 0;
  private readonly callsReturned = new IdleWaiters(() => this.calls === 0);
  /** Set once its context is taken: making that context is not its time. */
  private limit: TimeLimit | undefined;
  /** Set once its isolate is disposed: by V8 (out of memory) or by this run. */
  private disposed: RunEnd['disposed'];
  /** Resolves once its isolate is disposed: a call then rejects at once, or never returns (see `stuck`). */
  private readonly gone = Promise.withResolvers<void>();
  private heapAtBegin = 0;
  /** Its first part (globals, script, start) is over: it waits for timers and fetches. */
  private waits = false;

  constructor(
    private readonly warm: WarmIsolate,
    private readonly request: ExecutionRequest,
    private readonly hooks: RunHooks,
    private readonly limits: SandboxLimits,
  ) {
    const execution = new Execution(limits);
    this.execution = execution;
    if (request.stream) execution.onConsole = hooks.onConsole;
    execution.onAbortFetch = (id) => hooks.relay.abort(id);
  }

  /** Runs it in a fresh context of the isolate; resolves once nothing of it runs any more. */
  async run(): Promise<RunEnd> {
    const { execution } = this;
    const handles: Releasable[] = [];
    try {
      const fresh = this.warm.takeContext();
      handles.push(...fresh.handles);
      fresh.link.execution = execution;
      this.heapAtBegin = this.warm.heapUsed();
      execution.begin();
      const { request, warm } = this;
      const limit = new TimeLimit({
        limitMs: request.timeoutMs,
        cpuTimeUs: () => warm.cpuTimeUs,
        // Its first part runs call after call; after it, only a call runs the script.
        computing: () => this.calls > 0 || !this.waits,
        onExpire: () => this.stop(errors.timeout(request.timeoutMs, execution.console.lines())),
      });
      this.limit = limit;
      const steps = this.steps(fresh, limit, handles).catch((thrown: unknown) => this.failed(thrown));
      // The outcome can be known while a call still runs (cb called, then a loop): don't wait for it.
      await execution.outcome;
      await this.settleCalls();
      if (this.disposed === undefined) await steps;
      this.charge();
      return { outcome: await execution.outcome, usage: execution.usage(), disposed: this.disposed };
    } finally {
      this.limit?.cancel();
      releaseAll(handles);
    }
  }

  /** Answers it 1007 with its console so far, unless it has its outcome already; what it still computes is stopped with its isolate. */
  cancel(): { outcome: Outcome; usage: Usage } | undefined {
    const { execution } = this;
    if (execution.isFinished) return undefined;
    const error = errors.cancelled(execution.console.lines());
    this.stop(error);
    return { outcome: { ok: false, error }, usage: execution.usage() };
  }

  /** Its isolate's heap, with what its objects hold outside it; read without waiting for a call running in it. */
  async heapBytes(): Promise<number> {
    const { used_heap_size: used, externally_allocated_size: external } = await this.warm.isolate.getHeapStatistics();
    return used + external;
  }

  /** Ends it with `error` and disposes its isolate, whether or not a call runs in it: its memory is wanted back. */
  evict(error: errors.RpcError): void {
    this.charge();
    this.execution.fail(error);
    this.dispose('memory-limit');
  }

  /** The calls into the isolate that make one execution in a fresh context: globals, script, start. */
  private async steps(fresh: FreshContext, limit: TimeLimit, handles: Releasable[]): Promise<void> {
    const { context, enter } = fresh;
    const { execution, request } = this;
    if (execution.isFinished) return;
    // After each call once the script has started: if it has not finished and has nothing left to run, it never will.
    let started = false;
    const stalled = () => {
      if (started && !execution.isFinished && execution.pending === 0 && this.calls === 0) {
        execution.fail(
          errors.timeout(request.timeoutMs, execution.console.lines(), 'the script returned without calling cb and has nothing pending'),
        );
      }
    };
    // Timers and fetches the script starts call back through `enter`.
    const enterLater = (args: unknown[]) => {
      if (execution.isFinished || this.disposed !== undefined) return;
      this.call(enter.apply(undefined, args, { arguments: { copy: true }, timeout: limit.remainingMs() })).then(
        stalled,
        (thrown: unknown) => this.failed(thrown),
      );
    };
    execution.onTimer = (id) => enterLater(entry('fire', id));
    execution.onFetch = (id, wire) => {
      this.hooks.relay.fetch(id, wire).then(
        (response) => execution.takeFetch(id, response.body.byteLength) && enterLater(entry('fetched', id, response)),
        (error: unknown) =>
          execution.takeFetch(id) && enterLater(entry('fetch-failed', id, error instanceof FetchFailure ? error.message : 'fetch failed')),
      );
    };
    const globals = request.globals === undefined ? null : JSON.stringify(request.globals);
    const timeout = () => ({ timeout: limit.remainingMs() });
    // Trusted and bounded (the prelude defines the globals), on an isolate nothing else runs in: one thread hop saved.
    enter.applySync(undefined, entry('begin', Date.now() + limit.remainingMs(), globals), timeout());
    if (request.module === true) {
      const { isolate } = this.warm;
      const linked = await this.call(
        linkModule({ isolate, context, enter, code: request.code, call: request.call ?? null, caller: request.caller ?? null }),
      );
      handles.push(...linked.handles);
      started = true;
      await this.call(linked.evaluate(limit.remainingMs()));
    } else {
      const { scripts } = this.warm;
      const script = scripts.cached(request.codeHash) ?? (await this.call(scripts.compile(request.code, request.codeHash)));
      const completion = await this.call(script.run(context, { reference: true, ...timeout() }) as Promise<ivm.Reference>);
      handles.push(completion);
      if (execution.isFinished) return;
      started = true;
      const start = entry('start', completion.derefInto(), request.call ?? null, request.caller ?? null);
      await this.call(enter.apply(undefined, start, timeout()));
    }
    this.waits = true;
    if (!execution.isFinished) this.hooks.onWaiting();
    stalled();
  }

  /** Counts a call into the isolate; once it returns, what it cost is charged and the time limit looked at. */
  private call<T>(call: Promise<T>): Promise<T> {
    this.calls++;
    const tracked = this.warm.track(call);
    const returned = () => {
      this.calls--;
      this.callsReturned.check();
      if (!this.execution.isFinished) this.limit?.check();
    };
    return tracked.finally(returned);
  }

  /** Charges the isolate's CPU time to the execution, and its heap growth if no call runs (reading it would wait for one): when it ends. */
  private charge(): void {
    if (this.limit === undefined) return;
    this.execution.cpuUs = this.limit.cpuUs();
    if (this.calls > 0 || this.warm.isDisposed) return;
    try {
      this.execution.heapGrowth = Math.max(this.execution.heapGrowth, this.warm.heapUsed() - this.heapAtBegin);
    } catch {
      // An isolate going down (out of memory) has no figures left to read; what it grew so far stands.
    }
  }

  /** What a failed call or step means for the execution. */
  private failed(thrown: unknown): void {
    const { execution, request } = this;
    if (this.warm.isDisposed) {
      // Not disposed by this run: V8 ran it out of memory.
      if (this.disposed === undefined) {
        execution.fail(errors.memoryLimit(this.limits.memoryLimitMb, execution.console.lines()));
        this.dispose('memory-limit');
      }
      return;
    }
    const console = execution.console.lines();
    if (!(thrown instanceof Error && thrown.message === TIMED_OUT)) {
      execution.fail(errors.exception(fromHost(thrown), console));
      return;
    }
    // isolated-vm's own timeout, at the wall-clock backstop: stopped mid-way, as by the time limit, so not reused.
    execution.fail(errors.timeout(request.timeoutMs, console));
    this.dispose('still-running');
  }

  /** Ends it with `error`; a call of it still running is stopped with its isolate. */
  private stop(error: errors.RpcError): void {
    this.charge();
    this.execution.fail(error);
    if (this.calls > 0) this.dispose('still-running');
  }

  /**
   * A call of its still running in an isolate it has disposed: isolated-vm
   * copies a thrown value out of the isolate where nothing can stop it, and a
   * getter that never returns there holds its thread for good.
   */
  get stuck(): boolean {
    return this.disposed !== undefined && this.calls > 0;
  }

  /**
   * Once it has its outcome, waits for its calls to return, or for its
   * isolate to go; past the grace, whatever still runs (cb called, then a
   * loop) goes with its isolate.
   */
  private async settleCalls(): Promise<void> {
    if (this.calls === 0) return;
    const grace = setTimeout(() => this.dispose('still-running'), SETTLE_GRACE_MS);
    await Promise.race([this.callsReturned.wait(), this.gone.promise]);
    clearTimeout(grace);
  }

  private dispose(reason: NonNullable<RunEnd['disposed']>): void {
    if (this.disposed !== undefined) return;
    this.disposed = reason;
    this.warm.dispose();
    this.gone.resolve();
  }
}
