// One client's requests, whatever carries them (a WebSocket, an HTTP POST):
// each message or batch goes to the runtime within MAX_IN_FLIGHT, and its reply
// (or a batch's one reply array, within MAX_FRAME) comes back as text.
import type { Config } from '../config/types.js';
import * as errors from '../errors.js';
import { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import { CANCEL, type Call, type Runtime } from '../runtime/runtime.js';
import { BatchReply, maxBatchMembers } from './batch-reply.js';
import { type BatchMember, type Dialect, type FrameLimits, type Message, replyTarget } from './dialect.js';

export interface DispatcherOptions {
  key: string;
  /** The client, for fair queueing and for runtime.cancel, which reaches only its own requests. */
  client: string;
  runtime: Runtime;
  limits: Pick<Config, 'maxInFlight' | 'maxDepth' | 'maxFrameBytes'>;
  log: Logger;
  /** Where a request's streamed console lines go as a frame of their own; without it nothing is streamed. */
  sendConsole?: (frame: string) => void;
  /** Aborted when nobody is left to answer: every execution of this client stops (1007). */
  signal?: AbortSignal;
}

export class Dispatcher {
  readonly frameLimits: FrameLimits;
  private inFlight = 0;

  constructor(private readonly options: DispatcherOptions) {
    const { maxDepth, maxFrameBytes } = options.limits;
    this.frameLimits = { maxDepth, maxBatchMembers: maxBatchMembers(maxFrameBytes) };
  }

  /**
   * A batch is answered once every member is, in one frame of at most
   * MAX_FRAME, or not at all (undefined) when no member gets a reply. Each
   * member weighs its own bytes; `onHeld` is told the bytes of each reply kept
   * for the frame as it is made. Never rejects.
   */
  async batch(dialect: Dialect, members: BatchMember[], onHeld: (bytes: number) => void = () => undefined): Promise<string | undefined> {
    const batch = new BatchReply(
      members.map(({ message }) => replyTarget(message)),
      this.options.limits.maxFrameBytes,
    );
    if (!batch.fits) return dialect.error({ id: null }, errors.batchTooLarge(members.length));
    await Promise.all(
      members.map(async ({ message, bytes }, index) => {
        const reply = await this.reply(dialect, message, bytes);
        if (reply !== undefined) onHeld(batch.add(index, reply));
      }),
    );
    return batch.answered ? batch.frame() : undefined;
  }

  /** The reply to one message, or undefined if it gets none; never rejects. */
  async reply(dialect: Dialect, message: Message, bytes: number): Promise<string | undefined> {
    const target = replyTarget(message);
    if (message.kind === 'ignore' || target === undefined) {
      if (message.kind === 'request') await this.dispatch({ method: message.method, params: message.params, bytes }).catch(() => undefined);
      return undefined;
    }
    if (message.kind === 'invalid') return dialect.error(target, message.error);
    try {
      const { sendConsole } = this.options;
      const onConsole = sendConsole === undefined ? undefined : (lines: string[]) => sendConsole(dialect.console(target, lines));
      // JSON-RPC's null id names no request: such a request cannot be cancelled.
      const requestId = target.id ?? undefined;
      return dialect.result(target, await this.dispatch({ method: message.method, params: message.params, bytes, requestId, onConsole }));
    } catch (error) {
      if (error instanceof RpcError) return dialect.error(target, error);
      // A reply that cannot be made becomes an internal error, never a lost caller.
      this.options.log.error({ err: error }, 'failed to make a reply');
      return dialect.error({ id: target.id }, errors.internal());
    }
  }

  /** Runs one request within MAX_IN_FLIGHT (each message of a batch counts; a cancel does not); resolves to its result as JSON text. */
  private async dispatch(request: Omit<Call, 'key' | 'client' | 'signal'>): Promise<string> {
    const { runtime, key, client, signal, limits } = this.options;
    const call = { ...request, key, client, signal };
    if (request.method === CANCEL) return runtime.call(call);
    if (this.inFlight >= limits.maxInFlight) throw errors.busy(`more than ${limits.maxInFlight} requests in flight on this connection`);
    this.inFlight++;
    try {
      return await runtime.call(call);
    } finally {
      this.inFlight--;
    }
  }
}
