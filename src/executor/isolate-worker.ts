// One isolate and the executions living in it at the same time, each in a
// fresh context of its own. An execution waiting on a timer or a fetch holds
// only its context: the isolate's thread runs whichever execution has work.
// Contexts are made ahead (a small stock, refilled as executions take them),
// compiled scripts are reused by hash (script-cache.ts), and every call into
// the isolate gets the time its execution has left as its own timeout.
//
// When the isolate is lost — out of memory, or disposed because a call still
// ran after its execution's outcome (cb called, then a loop; or a call that
// ignored its time limit) — the execution that brought it down gets its error
// (1003, or its outcome stands) and the others living in it are run again on a
// new isolate (up to MAX_TRIES runs in all), unless they had already asked for
// a fetch (it may have had an effect): those get 1008 Interrupted.
//
// A cancelled execution is answered at once (1007, its console so far); a call
// of its still running after CANCEL_GRACE_MS costs the isolate, as above. An
// ES module is compiled and started through an entry module (module-entry.ts).
//
// Calls are synchronous (no thread hop) when the isolate is idle, asynchronous
// when another execution's call is running in it: waiting for the isolate in a
// synchronous call would stop this process from taking anything in meanwhile.
//
// Calls run one at a time, so the isolate's CPU time between one call's return
// and the next one's is the second call's: that is how an execution's CPU time
// is counted (contexts made ahead are left out).
import ivm from 'isolated-vm';
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import { FetchFailure, type FetchRelay } from '../outbound/wire.js';
import type { ExecutionRequest, ExecutionResult, RecycleReason, Running, SandboxLimits, Usage } from '../sandbox/sandbox.js';
import { IdleWaiters } from '../shared/idle-waiters.js';
import { type PreludeSource, readCodeCache } from '../shared/prelude-source.js';
import { Deadline } from './deadline.js';
import { Execution, MAX_PENDING_TIMERS, NO_USAGE, type Outcome } from './execution.js';
import { entry } from './host-ops.js';
import { linkModule } from './module-entry.js';
import { ScriptCache } from './script-cache.js';
import { ERROR_TEXT, fromHost } from './thrown.js';

/** Once an execution has its outcome, how long its calls may go on before the isolate is given up. */
const SETTLE_GRACE_MS = 100;
/** The same for a cancelled execution: a caller cancelling a busy loop waits for no more than this. */
const CANCEL_GRACE_MS = 10;
/** Bound on the trusted prelude's own calls, so a broken one cannot hang a sandbox. */
const PREPARE_TIMEOUT_MS = 10_000;
/** Contexts kept made ahead. */
const STOCK = 2;
/** How many times an execution may run in all when isolates are lost under it (each time brought down by another). */
const MAX_TRIES = 3;
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

export interface IsolateWorkerOptions {
  limits: SandboxLimits;
  prelude: PreludeSource;
  log: Logger;
  /** Told each time a lost isolate is replaced. */
  onRecycle?: (reason: Exclude<RecycleReason, 'sandbox-lost' | 'sandbox-memory'>) => void;
}

/** One run asked for: it may take two attempts, if its first isolate is lost under it. */
interface Job {
  request: ExecutionRequest;
  hooks: RunHooks;
  tries: number;
  /** It handed a fetch to the daemon: running it again could repeat an effect. */
  outbound: boolean;
  /** Its caller cancelled it: it stops where it is and is not run again. */
  cancelled: boolean;
  /** The attempt running now. */
  current: Attempt | undefined;
}

/** One attempt of a job, in one context of one isolate. */
interface Attempt {
  job: Job;
  /** The isolate it runs in (see IsolateWorker.generation). */
  generation: number;
  execution: Execution;
  deadline: Deadline;
  /** Its calls into the isolate that have not returned. */
  calls: number;
  callsReturned: IdleWaiters;
  /** Set when its isolate is lost: it brought it down (culprit), or was in it (victim). */
  lostAs: 'culprit' | 'victim' | undefined;
  lost: PromiseWithResolvers<void>;
  /** The isolate's heap (with what it holds outside it) when the attempt began. */
  heapAtBegin: number;
}

export class IsolateWorker {
  private isolate!: ivm.Isolate;
  /** Counts isolates: an attempt belongs to the one it started in. */
  private generation = 0;
  private prelude!: ivm.Script;
  private scripts!: ScriptCache;
  private stock: FreshContext[] = [];
  private refilling = false;
  /** Modules the last execution required: contexts made ahead have them instantiated already. */
  private preload: string[] = [];
  private replacing: Promise<void> | undefined;
  private limitsJson: string | undefined;
  private readonly attempts = new Set<Attempt>();
  /** Calls into the isolate not yet returned, by the order they were made: the oldest is the one running. */
  private readonly pending = new Map<number, Attempt>();
  private lastCall = 0;
  /** The isolate's CPU time when its last call returned (or it last made contexts ahead). */
  private cpuMark = 0n;
  /** The last reading of its heap. */
  private lastHeap = 0;
  private readonly limits: SandboxLimits;
  private readonly preludeSource: PreludeSource;
  private readonly log: Logger;
  private readonly onRecycle: NonNullable<IsolateWorkerOptions['onRecycle']>;

  constructor(options: IsolateWorkerOptions) {
    this.limits = options.limits;
    this.preludeSource = options.prelude;
    this.log = options.log;
    this.onRecycle = options.onRecycle ?? (() => {});
  }

  async start(): Promise<void> {
    const isolate = new ivm.Isolate({
      memoryLimit: this.limits.memoryLimitMb,
      onCatastrophicError: (message) => {
        // isolated-vm's advice: V8 lost control of this isolate and its memory; the process must go.
        this.log.fatal({ message }, 'isolated-vm catastrophic error; aborting');
        process.abort();
      },
    });
    const cached = readCodeCache(this.preludeSource);
    // Compiled from the code cache the daemon (or `javascriptd prepare`) wrote; without it, or refused by V8, only slower.
    this.prelude = await isolate.compileScript(this.preludeSource.source, {
      filename: 'javascriptd:prelude',
      ...(cached === undefined ? {} : { cachedData: new ivm.ExternalCopy(cached) }),
    });
    this.isolate = isolate;
    this.cpuMark = isolate.cpuTime;
    this.scripts = new ScriptCache(isolate);
    this.stock = [];
    this.refill();
  }

  dispose(): void {
    this.isolate.dispose();
  }

  run(request: ExecutionRequest, hooks: RunHooks): Running {
    const { promise: result, resolve, reject } = Promise.withResolvers<ExecutionResult>();
    const job: Job = { request, hooks, tries: 0, outbound: false, cancelled: false, current: undefined };
    // The first settlement wins: a cancel answers at once, the run's own end later changes nothing.
    const settle = (outcome: Outcome, usage: Usage) =>
      outcome.ok ? resolve({ ...outcome.result, usage }) : reject(outcome.error.withUsage(usage));
    const done = this.runJob(job, settle);
    return { result, done, cancel: () => this.cancel(job, settle) };
  }

  /**
   * Stops an execution where it is, unless it has its outcome already: it is
   * answered 1007 with its console so far at once, while what it still runs is
   * stopped behind the answer (a loop: its isolate replaced after CANCEL_GRACE_MS).
   */
  private cancel(job: Job, settle: (outcome: Outcome, usage: Usage) => void): void {
    const attempt = job.current;
    if (job.cancelled || attempt?.execution.isFinished === true) return;
    job.cancelled = true;
    const error = errors.cancelled(attempt?.execution.console.lines() ?? []);
    // Between attempts, the next one fails at once (see attempt).
    attempt?.execution.fail(error);
    settle({ ok: false, error }, attempt?.execution.usage() ?? NO_USAGE);
  }

  /** Attempts until one is not lost with its isolate, or it may not be run again. */
  private async runJob(job: Job, settle: (outcome: Outcome, usage: Usage) => void): Promise<void> {
    try {
      for (;;) {
        const { outcome, lostUnder, usage } = await this.attempt(job);
        if (!lostUnder || job.outbound || job.cancelled || job.tries >= MAX_TRIES) {
          settle(outcome, usage);
          return;
        }
        this.log.info({ tries: job.tries }, 'running an execution again: its isolate was lost under it');
      }
    } catch (err) {
      // A failure of ours, not the script's: this execution fails alone, and an isolate in an unknown state is replaced.
      this.log.error({ err }, 'an execution failed inside the sandbox');
      settle({ ok: false, error: errors.internal() }, job.current?.execution.usage() ?? NO_USAGE);
      this.replace(this.generation, undefined, 'still-running');
    }
  }

  /** One attempt in a fresh context; `lostUnder`: its isolate was lost while it ran, brought down by another. */
  private async attempt(job: Job): Promise<{ outcome: Outcome; lostUnder: boolean; usage: Usage }> {
    await this.replacing;
    job.tries++;
    const execution = new Execution(this.limits);
    if (job.cancelled) execution.fail(errors.cancelled([]));
    if (job.request.stream) execution.onConsole = job.hooks.onConsole;
    const { request } = job;
    const attempt: Attempt = {
      job,
      generation: this.generation,
      execution,
      deadline: new Deadline(request.timeoutMs, () => execution.fail(errors.timeout(request.timeoutMs, execution.console.lines()))),
      calls: 0,
      callsReturned: new IdleWaiters(() => attempt.calls === 0),
      lostAs: undefined,
      lost: Promise.withResolvers<void>(),
      heapAtBegin: 0,
    };
    job.current = attempt;
    this.attempts.add(attempt);
    execution.onAbortFetch = (id) => job.hooks.relay.abort(id);
    const handles: Releasable[] = [];
    try {
      const fresh = await this.takeFresh();
      handles.push(...fresh.handles);
      fresh.link.execution = execution;
      attempt.heapAtBegin = this.idle && !this.isolate.isDisposed ? this.heapUsed() : this.lastHeap;
      execution.begin();
      const steps = this.steps(attempt, fresh, handles).catch((thrown: unknown) => this.failed(attempt, thrown));
      // The outcome can be known while a call still runs (cb called, then a loop): don't wait for it.
      await Promise.race([execution.outcome, attempt.lost.promise]);
      if (attempt.lostAs === undefined) {
        await this.settleCalls(attempt);
        await steps;
      }
      const outcome = await execution.outcome;
      this.preload = [...execution.modulesRequired];
      return { outcome, lostUnder: attempt.lostAs === 'victim', usage: execution.usage() };
    } finally {
      job.current = undefined;
      attempt.deadline.cancel();
      this.attempts.delete(attempt);
      releaseAll(handles);
      this.refill();
    }
  }

  /** Whether no call runs in the isolate: a synchronous call would not wait for one. */
  private get idle(): boolean {
    return this.pending.size === 0;
  }

  /** A context from the stock, or made now if it has run out. */
  private async takeFresh(): Promise<FreshContext> {
    const fresh = this.stock.shift() ?? (await this.prepare());
    this.refill();
    return fresh;
  }

  /** Makes the stock's contexts once the caller's turn is over and the isolate idle: no execution waits for them. */
  private refill(): void {
    if (this.refilling || this.replacing !== undefined || this.stock.length >= STOCK) return;
    this.refilling = true;
    setImmediate(() => {
      this.refilling = false;
      if (this.replacing !== undefined || this.isolate.isDisposed || !this.idle) return;
      try {
        while (this.stock.length < STOCK) this.stock.push(this.prepareNow());
      } catch (err) {
        this.log.warn({ err }, 'could not make a context ahead');
      }
      // Making contexts is nobody's execution.
      if (!this.isolate.isDisposed) this.cpuMark = this.isolate.cpuTime;
    });
  }

  /** A fresh context, made synchronously when the isolate is idle, else asynchronously. */
  private async prepare(): Promise<FreshContext> {
    if (this.idle) return this.prepareNow();
    const link = new HostLink();
    const context = await this.isolate.createContext();
    const handles: Releasable[] = [context];
    try {
      const setup = (await this.prelude.run(context, { reference: true, timeout: PREPARE_TIMEOUT_MS })) as ivm.Reference;
      handles.push(setup);
      const enter = (await setup.apply(undefined, [link.async, link.sync, this.isolateLimits], {
        result: { reference: true },
        timeout: PREPARE_TIMEOUT_MS,
      })) as ivm.Reference;
      handles.push(enter);
      if (this.preload.length > 0)
        await enter.apply(undefined, entry('preload', this.preload), { arguments: { copy: true }, timeout: PREPARE_TIMEOUT_MS });
      return { context, enter, link, handles };
    } catch (err) {
      releaseAll(handles);
      throw err;
    }
  }

  /**
   * A fresh context with the prelude run in it; its callbacks reach no execution
   * until one is given to it. Made with synchronous calls, for an idle isolate:
   * no script runs in them yet, and each thread hop saved is CPU saved.
   */
  private prepareNow(): FreshContext {
    const link = new HostLink();
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
        enter.applySync(undefined, entry('preload', this.preload), { arguments: { copy: true }, timeout: PREPARE_TIMEOUT_MS });
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
  private async steps(attempt: Attempt, fresh: FreshContext, handles: Releasable[]): Promise<void> {
    const { context, enter } = fresh;
    const { execution, deadline, job } = attempt;
    const { request } = job;
    if (execution.isFinished) return;
    // After each call once the script has started: if it has not finished and has nothing left to run, it never will.
    let started = false;
    const stalled = () => {
      if (started && !execution.isFinished && execution.pending === 0 && attempt.calls === 0) {
        execution.fail(
          errors.timeout(request.timeoutMs, execution.console.lines(), 'the script returned without calling cb and has nothing pending'),
        );
      }
    };
    // Timers and fetches the script starts call back through `enter`.
    const enterLater = (args: unknown[]) => {
      if (attempt.generation !== this.generation) return;
      this.track(attempt, enter.apply(undefined, args, { arguments: { copy: true }, timeout: deadline.remainingMs() })).then(
        stalled,
        (thrown: unknown) => this.failed(attempt, thrown),
      );
    };
    execution.onTimer = (id) => enterLater(entry('fire', id));
    execution.onFetch = (id, wire) => {
      job.outbound = true;
      job.hooks.relay.fetch(id, wire).then(
        (response) => execution.takeFetch(id, response.body.byteLength) && enterLater(entry('fetched', id, response)),
        (error: unknown) =>
          execution.takeFetch(id) && enterLater(entry('fetch-failed', id, error instanceof FetchFailure ? error.message : 'fetch failed')),
      );
    };
    // On an idle isolate, synchronous calls skip a thread hop each. They are safe
    // where nothing can be known before they return: defining JSON values,
    // compiling, and the script's top level (it has no cb yet; its outcome is
    // its completion value), which then reports synchronously (prelude/host.js).
    // A module's handler may run within its evaluation (see module-entry.ts): always an asynchronous call, as `start` is.
    const synchronous = this.idle && request.module !== true;
    const globals = request.globals === undefined ? null : JSON.stringify(request.globals);
    const begin = entry('begin', Date.now() + deadline.remainingMs(), globals, synchronous);
    if (request.module === true) {
      await this.track(attempt, enter.apply(undefined, begin, { timeout: deadline.remainingMs() }));
      const linked = await linkModule({
        isolate: this.isolate,
        context,
        enter,
        code: request.code,
        call: request.call ?? null,
        caller: request.caller ?? null,
      });
      handles.push(...linked.handles);
      started = true;
      await this.track(attempt, linked.evaluate(deadline.remainingMs()));
      if (!execution.isFinished) job.hooks.onWaiting();
      stalled();
      return;
    }
    let completion: ivm.Reference;
    if (synchronous) {
      try {
        enter.applySync(undefined, begin, { timeout: deadline.remainingMs() });
        completion = this.scripts
          .get(request.code, request.codeHash)
          .runSync(context, { reference: true, timeout: deadline.remainingMs() });
      } finally {
        this.charge(attempt);
      }
    } else {
      await this.track(attempt, enter.apply(undefined, begin, { timeout: deadline.remainingMs() }));
      const script = await this.scripts.getAsync(request.code, request.codeHash);
      completion = await this.track(
        attempt,
        script.run(context, { reference: true, timeout: deadline.remainingMs() }) as Promise<ivm.Reference>,
      );
    }
    handles.push(completion);
    if (execution.isFinished) return;
    started = true;
    await this.track(
      attempt,
      enter.apply(undefined, entry('start', completion.derefInto(), request.call ?? null, request.caller ?? null), {
        timeout: deadline.remainingMs(),
      }),
    );
    if (!execution.isFinished) job.hooks.onWaiting();
    stalled();
  }

  /** Counts a call into the isolate for its attempt, and notes which call was running if the isolate is lost. */
  private track<T>(attempt: Attempt, call: Promise<T>): Promise<T> {
    const seq = ++this.lastCall;
    this.pending.set(seq, attempt);
    attempt.calls++;
    const returned = () => {
      this.pending.delete(seq);
      attempt.calls--;
      attempt.callsReturned.check();
      this.charge(attempt);
      if (this.idle) this.refill();
    };
    return call.then(
      (value) => {
        returned();
        return value;
      },
      (error: unknown) => {
        // Calls run one at a time, oldest first: the oldest still pending was the one running when the isolate ran out.
        if (this.isolate.isDisposed) this.replace(attempt.generation, this.pending.values().next().value, 'memory-limit');
        returned();
        throw error;
      },
    );
  }

  /**
   * Charges the isolate's CPU time since the last mark to `attempt`, and notes
   * how far the heap has grown since it began — only while no call runs in the
   * isolate: reading its heap waits for the isolate, a script's loop included.
   */
  private charge(attempt: Attempt): void {
    if (attempt.generation !== this.generation) return;
    try {
      const now = this.isolate.cpuTime;
      attempt.execution.cpuNs += now - this.cpuMark;
      this.cpuMark = now;
      if (this.idle) attempt.execution.heapGrowth = Math.max(attempt.execution.heapGrowth, this.heapUsed() - attempt.heapAtBegin);
    } catch {
      // An isolate going down (out of memory) has no figures left to read; what it cost so far stands.
    }
  }

  /** The isolate's heap, with the memory its objects hold outside it (typed arrays); for an idle isolate only (see charge). */
  private heapUsed(): number {
    const { used_heap_size: used, externally_allocated_size: external } = this.isolate.getHeapStatisticsSync();
    this.lastHeap = used + external;
    return this.lastHeap;
  }

  /** What a failed call or step means for its attempt. */
  private failed(attempt: Attempt, thrown: unknown): void {
    if (attempt.generation !== this.generation) return;
    if (this.isolate.isDisposed) {
      // A synchronous call (the top level) that ran the isolate out of memory.
      this.replace(attempt.generation, attempt, 'memory-limit');
      return;
    }
    const { execution, job } = attempt;
    const console = execution.console.lines();
    execution.fail(
      thrown instanceof Error && thrown.message === TIMED_OUT
        ? errors.timeout(job.request.timeoutMs, console)
        : errors.exception(fromHost(thrown), console),
    );
  }

  /**
   * Waits for an attempt's calls to return once it has its outcome. Past the
   * grace, whatever still runs (cb called, then a loop) holds up every other
   * execution in the isolate: the isolate is given up, and they run again.
   */
  private async settleCalls(attempt: Attempt): Promise<void> {
    if (attempt.calls === 0) return;
    const stop = setTimeout(
      () => {
        this.log.warn('a call still ran after its execution had its outcome; replacing the isolate');
        this.replace(attempt.generation, attempt, 'still-running');
      },
      attempt.job.cancelled ? CANCEL_GRACE_MS : SETTLE_GRACE_MS,
    );
    await Promise.race([attempt.callsReturned.wait(), attempt.lost.promise]);
    clearTimeout(stop);
  }

  /**
   * The isolate of `generation` is lost (or given up): `culprit` gets the error
   * saying why, every other attempt in it is told it was lost under it, and a
   * new isolate is made for what comes next.
   */
  private replace(generation: number, culprit: Attempt | undefined, reason: 'memory-limit' | 'still-running'): void {
    if (generation !== this.generation) return;
    this.generation++;
    const old = this.isolate;
    if (!old.isDisposed) old.dispose();
    this.stock = [];
    this.onRecycle(reason);
    for (const attempt of [...this.attempts]) {
      if (attempt.generation !== generation) continue;
      const { execution, job } = attempt;
      const console = execution.console.lines();
      attempt.lostAs = attempt === culprit ? 'culprit' : 'victim';
      if (attempt === culprit) {
        execution.fail(
          reason === 'memory-limit'
            ? errors.memoryLimit(this.limits.memoryLimitMb, console)
            : errors.timeout(job.request.timeoutMs, console),
        );
      } else {
        const cause = `another execution ${reason === 'memory-limit' ? 'ran its isolate out of memory' : 'wedged its isolate'}`;
        // Settles it only if it is not run again (see runJob).
        execution.fail(
          errors.interrupted(
            job.outbound ? `${cause} after this one had made a request outside` : `${cause} on each of its ${job.tries} runs`,
            console,
          ),
        );
      }
      attempt.lost.resolve();
    }
    this.replacing = this.start().then(
      () => (this.replacing = undefined),
      (err: unknown) => {
        // Nothing can run without an isolate: the process goes, and the daemon starts another.
        this.log.fatal({ err }, 'could not make a new isolate');
        process.exit(1);
      },
    );
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
