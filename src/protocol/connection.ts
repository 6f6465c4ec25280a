// One WebSocket connection: the first frame picks the dialect (Duplex handshake
// or a JSON-RPC 2.0 request), then each request goes to the runtime and its
// reply comes back whenever it is ready, matched by id.
import type { WebSocket } from 'ws';
import * as errors from '../errors.js';
import { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Dialect, ReplyTarget } from './dialect.js';
import { DUPLEX_ACCEPT, DUPLEX_HANDSHAKE, duplex } from './duplex.js';
import { jsonRpc, looksLikeJsonRpc } from './jsonrpc.js';

/** WebSocket close codes used here. */
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_GOING_AWAY = 1001;

export class Connection {
  private dialect: Dialect | undefined;
  private inFlight = 0;

  constructor(
    private readonly ws: WebSocket,
    readonly id: string,
    private readonly key: string,
    private readonly runtime: Runtime,
    private readonly maxInFlight: number,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      metrics.transferred('in', Buffer.byteLength(frame));
      this.receive(frame);
    });
    ws.on('close', () => this.runtime.disconnect(this.key, this.id));
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'connection error'));
  }

  /** Closes the connection as the daemon shuts down. */
  shutdown(): void {
    this.ws.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  private receive(frame: string): void {
    if (this.dialect === undefined) {
      this.handshake(frame);
      return;
    }
    const incoming = this.dialect.parse(frame);
    switch (incoming.kind) {
      case 'ignore':
        return;
      case 'invalid':
        if (incoming.target === undefined) this.log.warn({ reason: incoming.error.data }, 'dropped a frame that cannot be answered');
        this.refuse(this.dialect, incoming.target, incoming.error);
        return;
      case 'request':
        this.dispatch(this.dialect, incoming.target, incoming.method, incoming.params);
    }
  }

  private handshake(frame: string): void {
    if (frame === DUPLEX_HANDSHAKE) {
      this.dialect = duplex;
      this.send(DUPLEX_ACCEPT);
    } else if (looksLikeJsonRpc(frame)) {
      this.dialect = jsonRpc;
      this.receive(frame);
    } else {
      const reason = frame.startsWith('SIMPLEX/')
        ? `unsupported handshake; this server speaks ${DUPLEX_HANDSHAKE}`
        : `expected the handshake ${DUPLEX_HANDSHAKE} or a JSON-RPC 2.0 request`;
      this.log.warn({ reason }, 'refused a connection at handshake');
      this.ws.close(CLOSE_PROTOCOL_ERROR, reason);
    }
  }

  private dispatch(dialect: Dialect, target: ReplyTarget | undefined, method: string, params: unknown): void {
    if (this.inFlight >= this.maxInFlight) {
      this.refuse(dialect, target, errors.busy(`more than ${this.maxInFlight} requests in flight on this connection`));
      return;
    }
    this.inFlight++;
    this.runtime.call(this.key, this.id, method, params).then(
      (result) => {
        this.inFlight--;
        if (target !== undefined) this.send(dialect.result(target, result));
      },
      (error: unknown) => {
        this.inFlight--;
        this.refuse(dialect, target, error instanceof RpcError ? error : errors.internal());
      },
    );
  }

  private refuse(dialect: Dialect, target: ReplyTarget | undefined, error: RpcError): void {
    if (target !== undefined) this.send(dialect.error(target, error));
  }

  private send(frame: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.metrics.transferred('out', Buffer.byteLength(frame));
    this.ws.send(frame);
  }
}
