// Runs each execution alone in a warm isolate of the pool, and answers it: at
// once when it is cancelled, else when nothing of it runs any more. An
// isolate it was disposed with is replaced, and said so (`onRecycle`).
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import type { ExecutionRequest, ExecutionResult, RecycleReason, Running, SandboxLimits, Usage } from '../shared/contract.js';
import { NO_USAGE, type Outcome } from './execution.js';
import { ExecutionRun, type RunHooks } from './execution-run.js';
import type { IsolatePool } from './isolate-pool.js';
import { MemoryRelief } from './memory-relief.js';

export interface ExecutorParts {
  pool: IsolatePool;
  limits: SandboxLimits;
  log: Logger;
  /** Told each time an isolate is disposed under its execution. */
  onRecycle: (reason: Extract<RecycleReason, 'memory-limit' | 'still-running'>) => void;
  /** Told when a disposed isolate's thread still runs: only a new process gets that core back. */
  onWedged: () => void;
}

/** How long a call may go on in a disposed isolate before its thread is taken for wedged. */
const WEDGE_MS = 1000;

export class Executor {
  /** Executions running now, each in its isolate. */
  private readonly runs = new Set<ExecutionRun>();
  private readonly relief: MemoryRelief;

  constructor(private readonly options: ExecutorParts) {
    this.relief = new MemoryRelief(options.limits.sandboxMemoryMb, this.runs, options.log);
  }

  run(request: ExecutionRequest, hooks: RunHooks): Running {
    const { pool, limits, log, onRecycle, onWedged } = this.options;
    const { promise: result, resolve, reject } = Promise.withResolvers<ExecutionResult>();
    // The first settlement wins: a cancel answers at once, the run's own end later changes nothing.
    const settle = (outcome: Outcome, usage: Usage) =>
      outcome.ok ? resolve({ ...outcome.result, usage }) : reject(outcome.error.withUsage(usage));
    let run: ExecutionRun | undefined;
    let cancelled = false;
    const done = (async () => {
      const warm = await pool.take();
      try {
        if (cancelled) return;
        log.debug({ isolate: warm.id, hash: request.codeHash.slice(0, 16) }, 'execution in isolate');
        const current = new ExecutionRun(warm, request, hooks, limits);
        run = current;
        this.runs.add(current);
        this.relief.watch();
        const end = await current.run().finally(() => this.runs.delete(current));
        settle(end.outcome, end.usage);
        if (end.disposed !== undefined) onRecycle(end.disposed);
        if (current.stuck)
          setTimeout(() => {
            if (!current.stuck) return;
            log.error('a call still runs in a disposed isolate; its sandbox is to be replaced once its executions are over');
            onWedged();
          }, WEDGE_MS).unref();
      } catch (err) {
        warm.dispose();
        throw err;
      } finally {
        pool.giveBack(warm);
      }
    })().catch((err: unknown) => {
      // A failure of ours, not the script's: this execution fails alone, and its isolate is not reused.
      log.error({ err }, 'an execution failed inside the sandbox');
      settle({ ok: false, error: errors.internal() }, run?.execution.usage() ?? NO_USAGE);
    });
    const cancel = () => {
      cancelled = true;
      const stopped = run === undefined ? { outcome: { ok: false as const, error: errors.cancelled([]) }, usage: NO_USAGE } : run.cancel();
      if (stopped !== undefined) settle(stopped.outcome, stopped.usage);
    };
    return { result, done, cancel };
  }
}
