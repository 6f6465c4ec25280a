// The RPC methods javascriptd serves. runtime.execute validates the script,
// schedules it fairly, and logs one line per execution.
import * as errors from '../errors.js';
import { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ExecutionResult } from '../sandbox/sandbox.js';
import type { Scheduler } from './scheduler.js';
import type { ParseScript } from './script.js';

const EXECUTE = 'runtime.execute';

/** What the runtime needs of one key: its own queue and sandboxes, and its script limits. */
export interface KeyRuntime {
  scheduler: Scheduler;
  parseScript: ParseScript;
}

export class Runtime {
  private executions = 0;

  constructor(
    private readonly keys: ReadonlyMap<string, KeyRuntime>,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Calls `method` for `client` of `key`; rejects with an RpcError. */
  call(key: string, client: string, method: string, params: unknown): Promise<ExecutionResult> {
    if (method !== EXECUTE) return Promise.reject(errors.methodNotFound(method));
    return this.execute(this.keyRuntime(key), key, client, params);
  }

  /** A client went away: what it still has queued will never be answered. */
  disconnect(key: string, client: string): void {
    this.keyRuntime(key).scheduler.cancel(client);
  }

  private keyRuntime(key: string): KeyRuntime {
    const found = this.keys.get(key);
    if (found === undefined) throw new Error(`unknown key ${key}`);
    return found;
  }

  private async execute(runtime: KeyRuntime, key: string, client: string, params: unknown): Promise<ExecutionResult> {
    const request = runtime.parseScript(params);
    const id = ++this.executions;
    const started = performance.now();
    const fields = {
      id,
      key,
      client,
      hash: request.codeHash.slice(0, 16),
      call: request.call,
    };
    try {
      const result = await runtime.scheduler.run(client, request);
      this.log.info({ ...fields, outcome: 'ok', ms: elapsed(started) }, 'execution');
      this.metrics.execution(key, undefined, elapsed(started) / 1000);
      return result;
    } catch (error) {
      if (!(error instanceof RpcError)) {
        this.log.error({ ...fields, err: error }, 'execution failed inside the daemon');
        this.metrics.execution(key, errors.ErrorCode.Internal, elapsed(started) / 1000);
        throw errors.internal();
      }
      this.log.info({ ...fields, outcome: 'error', code: error.code, ms: elapsed(started) }, 'execution');
      this.metrics.execution(key, error.code, elapsed(started) / 1000);
      throw error;
    }
  }
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
