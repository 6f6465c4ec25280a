// One isolate kept warm for the executions of a sandbox process, one at a
// time: the prelude compiled, scripts compiled before (script-cache.ts), and
// the next execution's context made ahead, with the prelude run in it. Each
// execution gets a context of its own and releases it; what the isolate keeps
// between them is reset or out of reach (see docs/engine.md).
import ivm from 'isolated-vm';
import type { Logger } from '../log.js';
import type { SandboxLimits } from '../shared/contract.js';
import { type PreludeSource, readCodeCache } from '../shared/prelude-source.js';
import type { CpuShares } from './cpu-shares.js';
import type { Execution } from './execution.js';
import { MAX_PENDING_TIMERS } from './execution.js';
import { LibraryRealm } from './library-realm.js';
import { ScriptCache } from './script-cache.js';
import { ERROR_TEXT } from './thrown.js';

/** Bound on the trusted prelude's own calls, so a broken one cannot hang a sandbox. */
const PREPARE_TIMEOUT_MS = 10_000;

export interface Releasable {
  release(): void;
}

/** A context made before its execution: the prelude has run and `enter` is its way in. */
export interface FreshContext {
  context: ivm.Context;
  enter: ivm.Reference;
  link: HostLink;
  handles: Releasable[];
}

export interface WarmIsolateOptions {
  limits: SandboxLimits;
  prelude: PreludeSource;
  log: Logger;
  /** How the process's CPU time is shared among its isolates running calls. */
  shares: CpuShares;
}

export class WarmIsolate {
  private static made = 0;
  /** Which isolate of the process this is (logs at debug level name it). */
  readonly id = ++WarmIsolate.made;
  /** Its heap once made, with its first context: what its executions' garbage grows from. */
  private heapAtStart = 0;
  /** The next execution's context, made ahead. */
  private ahead: FreshContext | undefined;
  /** An execution has it (between takeContext and free). */
  private taken = false;
  /** Calls into it not yet returned; they run one at a time. */
  private calls = 0;
  /** CPU time, µs, its calls got (cpu-shares.ts); `mark` is where the running ones count from. */
  private cpuUs = 0;
  private mark = 0;

  private constructor(
    readonly isolate: ivm.Isolate,
    private readonly prelude: ivm.Script,
    readonly scripts: ScriptCache,
    /** With shared module instances: where its modules are made, once a script requires one. */
    private readonly library: LibraryRealm | undefined,
    private readonly limitsJson: string,
    private readonly log: Logger,
    private readonly shares: CpuShares,
  ) {}

  static async make({ limits, prelude: source, log, shares }: WarmIsolateOptions): Promise<WarmIsolate> {
    const isolate = new ivm.Isolate({
      memoryLimit: limits.memoryLimitMb,
      onCatastrophicError: (message) => {
        // isolated-vm's advice: V8 lost control of this isolate and its memory; the process must go.
        log.fatal({ message }, 'isolated-vm catastrophic error; aborting');
        process.abort();
      },
    });
    try {
      const cached = readCodeCache(source);
      // Compiled from the code cache the daemon (or `javascriptd prepare`) wrote; without it, or refused by V8, only slower.
      const prelude = await isolate.compileScript(source.source, {
        filename: 'javascriptd:prelude',
        ...(cached === undefined ? {} : { cachedData: new ivm.ExternalCopy(cached) }),
      });
      const library = source.library === undefined ? undefined : new LibraryRealm(isolate, source.library, source.allowed);
      const warm = new WarmIsolate(isolate, prelude, new ScriptCache(isolate), library, isolateLimits(limits, source), log, shares);
      warm.ahead = warm.makeContext();
      warm.heapAtStart = warm.heapUsed();
      return warm;
    } catch (err) {
      isolate.dispose();
      throw err;
    }
  }

  /** Lost: out of memory, or disposed because something still ran in it. */
  get isDisposed(): boolean {
    return this.isolate.isDisposed;
  }

  /** Not to be reused, though not disposed: its library realm was left half-made. */
  get spoiled(): boolean {
    return this.library?.lost === true;
  }

  /** What its heap grew by since it was made (with its modules, once its library realm has made them): its executions' garbage. */
  garbageBytes(): number {
    const used = this.heapUsed();
    // Counting the execution that made them with them: a few hundred KB, against the few MB of the modules.
    if (this.library?.takeJustMade()) this.heapAtStart = used;
    return used - this.heapAtStart;
  }

  dispose(): void {
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  /** The context made ahead, or one made now. */
  takeContext(): FreshContext {
    this.taken = true;
    const ahead = this.ahead;
    this.ahead = undefined;
    return ahead ?? this.makeContext();
  }

  /** Its execution is over: it may be taken again. */
  free(): void {
    this.taken = false;
  }

  /**
   * Makes the next execution's context, unless it has one or an execution has
   * taken it. With synchronous calls: the isolate is idle and the prelude
   * trusted, and each thread hop saved is CPU saved.
   */
  makeAhead(): void {
    if (this.taken || this.ahead !== undefined || this.isolate.isDisposed) return;
    try {
      this.ahead = this.makeContext();
    } catch (err) {
      this.log.warn({ err }, 'could not make a context ahead');
    }
  }

  /** The CPU time, µs, its calls got, a running one's so far included. */
  get cpuTimeUs(): number {
    return this.calls === 0 ? this.cpuUs : this.cpuUs + this.shares.since(this.mark);
  }

  /** Counts a call into the isolate while it runs, for its CPU time. */
  track<T>(call: Promise<T>): Promise<T> {
    if (this.calls++ === 0) this.mark = this.shares.enter();
    return call.finally(() => {
      if (--this.calls === 0) this.cpuUs += this.shares.leave(this.mark);
    });
  }

  /** Its heap, with what its objects hold outside it (typed arrays); read only while no call runs in it (it would wait for one). */
  heapUsed(): number {
    const { used_heap_size: used, externally_allocated_size: external } = this.isolate.getHeapStatisticsSync();
    return used + external;
  }

  /**
   * A fresh context with the prelude run in it; its callbacks reach no
   * execution until one is given to it. With synchronous calls: only ever on
   * an idle isolate, and the prelude is trusted; each thread hop saved is CPU saved.
   */
  private makeContext(): FreshContext {
    const link = new HostLink(this.library);
    const context = this.isolate.createContextSync();
    const handles: Releasable[] = [context];
    try {
      const setup = this.prelude.runSync(context, { reference: true, timeout: PREPARE_TIMEOUT_MS });
      handles.push(setup);
      // The library realm's modules, once made: the prelude derefs them at once and keeps only the object.
      const enter = setup.applySync(undefined, [link.async, link.sync, this.limitsJson, this.library?.modules], {
        result: { reference: true },
        timeout: PREPARE_TIMEOUT_MS,
      }) as ivm.Reference;
      handles.push(enter);
      return { context, enter, link, handles };
    } catch (err) {
      releaseAll(handles);
      throw err;
    }
  }
}

/** The limits the prelude applies inside the isolate, before anything is copied out; as JSON, the cheapest to hand to every new context. */
function isolateLimits(limits: SandboxLimits, prelude: PreludeSource): string {
  const { consoleLimitBytes, resultLimitBytes, resultDepth, fetchMaxBytes, fetchMaxRequests } = limits;
  return JSON.stringify({
    consoleBytes: consoleLimitBytes,
    resultBytes: resultLimitBytes,
    resultDepth,
    fetchMaxBytes,
    fetchMaxRequests,
    maxPendingTimers: MAX_PENDING_TIMERS,
    modules: prelude.allowed,
    sharedModules: prelude.library !== undefined,
    ...ERROR_TEXT,
  });
}

/**
 * The host callbacks of one context; they reach the execution it is given to,
 * and nothing before that (what a module made ahead reports is dropped). The
 * library realm's asks are the isolate's, answered here.
 */
class HostLink {
  execution: Execution | undefined;
  constructor(private readonly library: LibraryRealm | undefined) {}
  readonly async = new ivm.Callback((op: unknown, ...args: unknown[]) => this.execution?.receive(op, args), { ignored: true });
  readonly sync = new ivm.Callback((op: unknown, ...args: unknown[]) => {
    if (this.execution === undefined) throw new TypeError('unsupported request');
    if (op === 'library' && this.library !== undefined) return this.library.make();
    return this.execution.answer(op, args);
  });
}

export function releaseAll(handles: Releasable[]): void {
  for (const handle of handles.reverse()) {
    try {
      handle.release();
    } catch {
      // Handles of a disposed isolate are already gone.
    }
  }
}
