// The RPC methods javascriptd serves. runtime.execute validates the script,
// schedules it fairly, and logs one line per execution.
import { createHash } from 'node:crypto';
import * as errors from '../errors.js';
import { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ExecutionResult } from '../sandbox/sandbox.js';
import type { Scheduler } from './scheduler.js';
import type { ParseScript } from './script.js';

export const EXECUTE = 'runtime.execute';

export class Runtime {
  private executions = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly parseScript: ParseScript,
    private readonly log: Logger,
  ) {}

  /** Calls `method` for `client`; rejects with an RpcError. */
  call(client: string, method: string, params: unknown): Promise<ExecutionResult> {
    if (method !== EXECUTE) return Promise.reject(errors.methodNotFound(method));
    return this.execute(client, params);
  }

  /** A client went away: what it still has queued will never be answered. */
  disconnect(client: string): void {
    this.scheduler.cancel(client);
  }

  private async execute(client: string, params: unknown): Promise<ExecutionResult> {
    const request = this.parseScript(params);
    const id = ++this.executions;
    const started = performance.now();
    const fields = {
      id,
      client,
      hash: createHash('sha256').update(request.code).digest('hex').slice(0, 16),
      call: request.call,
    };
    try {
      const result = await this.scheduler.run(client, request);
      this.log.info({ ...fields, outcome: 'ok', ms: elapsed(started) }, 'execution');
      return result;
    } catch (error) {
      if (!(error instanceof RpcError)) {
        this.log.error({ ...fields, err: error }, 'execution failed inside the daemon');
        throw errors.internal();
      }
      this.log.info({ ...fields, outcome: 'error', code: error.code, ms: elapsed(started) }, 'execution');
      throw error;
    }
  }
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
