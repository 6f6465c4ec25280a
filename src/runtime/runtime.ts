// The RPC methods javascriptd serves. runtime.execute validates the script,
// schedules it fairly, and logs one line per execution; runtime.cancel stops
// one of the same connection's executions, by its request id; rpc.discover
// answers with the key's OpenRPC document.
import * as errors from '../errors.js';
import { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ExecutionResult } from '../shared/contract.js';
import { clip } from '../text.js';
import type { Scheduler } from './scheduler.js';
import { type ParseScript, parseCancel } from './script.js';
import type { SourceTransform } from './source-transform.js';

const EXECUTE = 'runtime.execute';
/** Answered at once, and never refused for the requests in flight: it is how a client makes room. */
export const CANCEL = 'runtime.cancel';
/** OpenRPC's service discovery method. */
export const DISCOVER = 'rpc.discover';

/** One key's way from params to a result: its script limits, its transform, its own queue and sandboxes. */
export interface KeyPipeline {
  scheduler: Scheduler;
  parseScript: ParseScript;
  /** TypeScript and module scripts made into JavaScript, their errors mapped back. */
  transform: SourceTransform;
  /** rpc.discover's result: the key's OpenRPC document, as JSON text. */
  discovery: string;
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
  /** The request's id, when it has one: runtime.cancel finds it by that. */
  requestId?: string | number;
  /** Where console lines go as they are printed, for a request that asks for them; without it none are streamed. */
  onConsole?: (lines: string[]) => void;
  /** Aborted when nobody is left to answer (an HTTP client gone): the execution stops, as runtime.cancel stops it. */
  signal?: AbortSignal;
}

export class Runtime {
  private executions = 0;
  /** Executions that may be cancelled, by client and request id. */
  private readonly cancellable = new Map<string, Set<AbortController>>();

  private readonly keys: ReadonlyMap<string, KeyPipeline>;
  private readonly log: Logger;
  private readonly metrics: Metrics;

  constructor(options: { keys: ReadonlyMap<string, KeyPipeline>; log: Logger; metrics: Metrics }) {
    ({ keys: this.keys, log: this.log, metrics: this.metrics } = options);
  }

  /** Calls the method; resolves to the result as JSON text, rejects with an RpcError. */
  async call(call: Call): Promise<string> {
    if (call.method === CANCEL) return this.cancel(call.client, call.params);
    if (call.method === DISCOVER) return this.pipeline(call.key).discovery;
    if (call.method !== EXECUTE) throw errors.methodNotFound(call.method);
    return this.execute(call);
  }

  /** runtime.cancel: `{id}` (or `[id]`) names a request of the same connection. Finding none is not an error: it may have just finished. */
  private cancel(client: string, params: unknown): string {
    const id = parseCancel(params);
    const controllers = this.cancellable.get(cancelKey(client, id));
    if (controllers === undefined)
      return `{"cancelled":false,"reason":${JSON.stringify(`no execution with id ${clip(JSON.stringify(id))} is queued or running on this connection`)}}`;
    for (const controller of controllers) controller.abort();
    return '{"cancelled":true}';
  }

  /** While a client's replies go unread, its queued executions wait. */
  hold(key: string, client: string, held: boolean): void {
    this.pipeline(key).scheduler.hold(client, held);
  }

  /** A client went away: what it still has queued will never be answered. */
  disconnect(key: string, client: string): void {
    this.pipeline(key).scheduler.forget(client);
  }

  private pipeline(key: string): KeyPipeline {
    const found = this.keys.get(key);
    if (found === undefined) throw new Error(`unknown key ${key}`);
    return found;
  }

  private async execute({ key, client, params, bytes, requestId, onConsole, signal }: Call): Promise<string> {
    const { scheduler, parseScript, transform } = this.pipeline(key);
    const parsed = parseScript(params);
    // Where lines cannot be streamed (HTTP) they come in the result only, and the execution counts as not streaming (it may run again).
    const request = onConsole === undefined ? { ...parsed.request, stream: false } : parsed.request;
    const withUsage = parsed.usage;
    const id = ++this.executions;
    const started = performance.now();
    const fields = {
      id,
      key,
      client,
      hash: request.codeHash.slice(0, 16),
      call: request.call === undefined ? undefined : clip(request.call),
    };
    const cancel = requestId === undefined ? undefined : this.watchForCancel(client, requestId);
    try {
      const signals = [cancel?.controller.signal, signal].filter((s) => s !== undefined);
      const watch = {
        signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
        onConsole: request.stream ? onConsole : undefined,
      };
      const result = await transform.run(request, (runnable) => scheduler.run(client, runnable, bytes, watch));
      this.log.info({ ...fields, outcome: 'ok', ms: elapsed(started) }, 'execution');
      this.metrics.execution(key, undefined, elapsed(started) / 1000);
      this.metrics.usage(key, result.usage);
      return resultJson(result, withUsage);
    } catch (error) {
      if (!(error instanceof RpcError)) {
        this.log.error({ ...fields, err: error }, 'execution failed inside the daemon');
        this.metrics.execution(key, errors.ErrorCode.Internal, elapsed(started) / 1000);
        throw errors.internal();
      }
      this.log.info({ ...fields, outcome: 'error', code: error.code, ms: elapsed(started) }, 'execution');
      this.metrics.execution(key, error.code, elapsed(started) / 1000);
      if (error.usage !== undefined) this.metrics.usage(key, error.usage);
      throw withUsage && error.usage !== undefined ? new RpcError(error.code, error.message, { ...error.data, usage: error.usage }) : error;
    } finally {
      cancel?.forget();
    }
  }

  /** Makes an execution cancellable by its request id until it is answered. */
  private watchForCancel(client: string, requestId: string | number): { controller: AbortController; forget: () => void } {
    const key = cancelKey(client, requestId);
    const controller = new AbortController();
    const controllers = this.cancellable.get(key) ?? new Set();
    controllers.add(controller);
    this.cancellable.set(key, controllers);
    const forget = () => {
      controllers.delete(controller);
      if (controllers.size === 0) this.cancellable.delete(key);
    };
    return { controller, forget };
  }
}

/** runtime.execute's result on the wire: the value's JSON text as the sandbox made it, never parsed here. */
function resultJson(result: ExecutionResult, withUsage: boolean): string {
  const usage = withUsage ? `,"usage":${JSON.stringify(result.usage)}` : '';
  return `{"value":${result.valueJson},"console":${JSON.stringify(result.console)},"time":${JSON.stringify(result.time)}${usage}}`;
}

function cancelKey(client: string, requestId: string | number): string {
  return `${client}\u0000${JSON.stringify(requestId)}`;
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
