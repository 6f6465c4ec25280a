// The RPC methods javascriptd serves. runtime.execute validates the script,
// schedules it fairly, and logs one line per execution.
import * as errors from '../errors.js';
import { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ExecutionResult } from '../sandbox/sandbox.js';
import { clip } from '../text.js';
import type { Scheduler } from './scheduler.js';
import type { ParseScript } from './script.js';
import type { SourceTransform } from './source-transform.js';

const EXECUTE = 'runtime.execute';

/** What the runtime needs of one key: its own queue and sandboxes, and its script limits. */
export interface KeyRuntime {
  scheduler: Scheduler;
  parseScript: ParseScript;
  /** TypeScript and module scripts made into JavaScript, their errors mapped back. */
  transform: SourceTransform;
}

/** One request, as a connection hands it over. */
export interface Call {
  key: string;
  /** The connection: queues are shared fairly between clients. */
  client: string;
  method: string;
  params: unknown;
  /** Size of the frame it came in, counted against QUEUE_BYTES while it waits. */
  bytes: number;
}

export class Runtime {
  private executions = 0;

  constructor(
    private readonly keys: ReadonlyMap<string, KeyRuntime>,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Calls the method; resolves to the result as JSON text, rejects with an RpcError. */
  async call(call: Call): Promise<string> {
    if (call.method !== EXECUTE) throw errors.methodNotFound(call.method);
    return resultJson(await this.execute(call));
  }

  /** While a client's replies go unread, its queued executions wait. */
  hold(key: string, client: string, held: boolean): void {
    this.keyRuntime(key).scheduler.hold(client, held);
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

  private async execute({ key, client, params, bytes }: Call): Promise<ExecutionResult> {
    const { scheduler, parseScript, transform } = this.keyRuntime(key);
    const request = parseScript(params);
    const id = ++this.executions;
    const started = performance.now();
    const fields = {
      id,
      key,
      client,
      hash: request.codeHash.slice(0, 16),
      call: request.call === undefined ? undefined : clip(request.call),
    };
    try {
      const result = await transform.run(request, (runnable) => scheduler.run(client, runnable, bytes));
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

/** runtime.execute's result on the wire: the value's JSON text as the sandbox made it, never parsed here. */
function resultJson(result: ExecutionResult): string {
  return `{"value":${result.valueJson},"console":${JSON.stringify(result.console)},"time":${JSON.stringify(result.time)}}`;
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
