// One WebSocket connection: the first frame picks the dialect (Duplex handshake
// or a JSON-RPC 2.0 request), then each request goes to the runtime and its
// reply comes back whenever it is ready, matched by id. A connection whose
// replies pile up unsent (a batch's count from when they are made) stops being
// read until they drain.
import type { WebSocket } from 'ws';
import type { Config } from '../config/types.js';
import type { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Runtime } from '../runtime/runtime.js';
import { clip } from '../text.js';
import type { BatchMember, Dialect } from './dialect.js';
import { Dispatcher } from './dispatcher.js';
import { DUPLEX_ACCEPT, DUPLEX_HANDSHAKE, duplex } from './duplex.js';
import { jsonRpc, looksLikeJsonRpc } from './jsonrpc.js';

/** WebSocket close codes used here. */
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY = 1008;
/** How long a close frame queued behind unread replies may wait before the socket is cut. */
const CLOSE_GRACE_MS = 1000;

export type ConnectionLimits = Pick<
  Config,
  'maxInFlight' | 'maxDepth' | 'maxFrameBytes' | 'handshakeTimeoutMs' | 'maxUnsentBytes' | 'unsentTimeoutMs'
>;

export interface ConnectionOptions {
  ws: WebSocket;
  id: string;
  key: string;
  runtime: Runtime;
  limits: ConnectionLimits;
  log: Logger;
  metrics: Metrics;
}

export class Connection {
  readonly id: string;
  private readonly ws: WebSocket;
  private readonly key: string;
  private readonly runtime: Runtime;
  private readonly limits: ConnectionLimits;
  private readonly dispatcher: Dispatcher;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private dialect: Dialect | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Set while unsent replies are over MAX_UNSENT: the connection is not read and closes when it fires. */
  private slowReaderTimer: NodeJS.Timeout | undefined;
  private droppedFrames = 0;
  /** Bytes of the replies made for batches not yet answered: held here until the batch's frame is sent, counted as unsent. */
  private batchHeld = 0;

  constructor(options: ConnectionOptions) {
    ({
      ws: this.ws,
      id: this.id,
      key: this.key,
      runtime: this.runtime,
      limits: this.limits,
      log: this.log,
      metrics: this.metrics,
    } = options);
    const { ws } = this;
    this.dispatcher = new Dispatcher({
      key: this.key,
      client: this.id,
      runtime: this.runtime,
      limits: this.limits,
      log: this.log,
      sendConsole: (frame) => this.send(frame),
    });
    this.handshakeTimer = setTimeout(
      () => this.close(CLOSE_POLICY, `no handshake within ${this.limits.handshakeTimeoutMs} ms`),
      this.limits.handshakeTimeoutMs,
    );
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      this.metrics.transferred('in', Buffer.byteLength(frame));
      this.receive(frame);
    });
    ws.on('close', (code) => {
      clearTimeout(this.handshakeTimer);
      clearTimeout(this.slowReaderTimer);
      this.runtime.disconnect(this.key, this.id);
      this.log.info({ code, dropped: this.droppedFrames }, 'connection closed');
    });
    ws.on('error', (err) => this.log.warn({ err: clip(err.message) }, 'connection error'));
  }

  /** Closes the connection as the daemon shuts down. */
  shutdown(): void {
    this.ws.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  private receive(frame: string): void {
    // The last line of defence: a failure while handling one frame fails that frame only.
    try {
      if (this.dialect === undefined) this.handshake(frame);
      else this.handle(this.dialect, frame);
    } catch (err) {
      this.log.error({ err }, 'failed to handle a frame');
    }
  }

  private handle(dialect: Dialect, frame: string): void {
    const incoming = dialect.parse(frame, this.dispatcher.frameLimits);
    if (incoming.kind === 'invalid' && incoming.target === undefined) {
      this.dropped(incoming.error);
      return;
    }
    const reply =
      incoming.kind === 'batch'
        ? this.handleBatch(dialect, incoming.members)
        : this.dispatcher.reply(dialect, incoming, Buffer.byteLength(frame));
    reply
      .then((text) => {
        if (text !== undefined) this.send(text);
      })
      .catch((err: unknown) => this.log.error({ err }, 'failed to send a reply'));
  }

  /** A batch's replies count as unsent from when each is made until its frame is sent. */
  private async handleBatch(dialect: Dialect, members: BatchMember[]): Promise<string | undefined> {
    let held = 0;
    try {
      return await this.dispatcher.batch(dialect, members, (bytes) => {
        held += bytes;
        this.batchHeld += bytes;
        this.checkUnsent();
      });
    } finally {
      this.batchHeld -= held;
    }
  }

  private handshake(frame: string): void {
    clearTimeout(this.handshakeTimer);
    if (frame === DUPLEX_HANDSHAKE) {
      this.dialect = duplex;
      this.send(DUPLEX_ACCEPT);
    } else if (looksLikeJsonRpc(frame, this.limits.maxDepth)) {
      this.dialect = jsonRpc;
      this.handle(jsonRpc, frame);
    } else {
      const reason = frame.startsWith('SIMPLEX/')
        ? `unsupported handshake; this server speaks ${DUPLEX_HANDSHAKE}`
        : `expected the handshake ${DUPLEX_HANDSHAKE} or a JSON-RPC 2.0 request`;
      this.log.warn({ reason }, 'refused a connection at handshake');
      this.close(CLOSE_PROTOCOL_ERROR, reason);
    }
  }

  /** A frame that cannot be answered: the first is logged, the rest counted for the close line. */
  private dropped(error: RpcError): void {
    if (this.droppedFrames++ === 0)
      this.log.warn({ reason: clip(JSON.stringify(error.data ?? {})) }, 'dropped a frame that cannot be answered');
  }

  private send(frame: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.metrics.transferred('out', Buffer.byteLength(frame));
    this.ws.send(frame, () => this.drained());
    this.checkUnsent();
  }

  /** Reply bytes not yet sent: those the socket has not written, and those made for batches not yet answered. */
  private get unsent(): number {
    return this.ws.bufferedAmount + this.batchHeld;
  }

  /** Backpressure: past MAX_UNSENT the connection is not read and its queued executions wait; far past it, or for too long, it is closed. */
  private checkUnsent(): void {
    const { unsent } = this;
    if (unsent > 4 * this.limits.maxUnsentBytes) {
      this.close(CLOSE_POLICY, `more than ${4 * this.limits.maxUnsentBytes} bytes of replies unread`);
    } else if (unsent > this.limits.maxUnsentBytes && this.slowReaderTimer === undefined) {
      this.ws.pause();
      this.runtime.hold(this.key, this.id, true);
      this.slowReaderTimer = setTimeout(
        () => this.close(CLOSE_POLICY, `replies unread for ${this.limits.unsentTimeoutMs} ms`),
        this.limits.unsentTimeoutMs,
      );
    }
  }

  private drained(): void {
    if (this.slowReaderTimer === undefined || this.unsent > this.limits.maxUnsentBytes / 2) return;
    clearTimeout(this.slowReaderTimer);
    this.slowReaderTimer = undefined;
    this.runtime.hold(this.key, this.id, false);
    this.ws.resume();
  }

  private close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.CLOSED) return;
    if (code === CLOSE_POLICY) this.log.warn({ reason }, 'closing a connection');
    this.ws.close(code, reason);
    // A peer that reads nothing never receives the close frame either.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }
}
