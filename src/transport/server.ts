// The listening socket: HTTP (or HTTPS with TLS_CERT/TLS_KEY) for /healthz,
// /metrics, JSON-RPC POSTed to / (http-rpc.ts) and, with PLAYGROUND=true,
// /playground; and WebSocket upgrades, refused before any WebSocket exists:
// 403 for a Host or a page's Origin that is not allowed (origin.ts), 401 when
// the secret does not match. It bounds connections: at most MAX_CONNECTIONS,
// and each must become a WebSocket, or have sent its whole POST, within
// HEADER_TIMEOUT of connecting.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Config, KeyPolicy } from '../config/types.js';
import type { Logger } from '../log.js';
import { type Admission, httpRpc, RPC_PATH, type RpcPost } from './http-rpc.js';
import { isLoopbackAddress, PageGuard } from './origin.js';
import { playground } from './playground.js';
import { chooseSubprotocol, keyResolver, matcher, presentedSecret, SECRET_HEADER } from './secret.js';
import { ThrottledWarning } from './throttled-warning.js';

export interface TransportHandlers {
  onConnection(ws: WebSocket, request: IncomingMessage, key: KeyPolicy): void;
  /** A JSON-RPC body POSTed over HTTP, read whole. */
  onPost(post: RpcPost): void;
  /** false while draining: health checks fail and upgrades are refused. */
  accepting(): boolean;
  /** The Prometheus exposition, for GET /metrics. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface Transport {
  readonly url: string;
  readonly address: AddressInfo;
  /** Where clients reach it: the address bound, or each interface's when that is 0.0.0.0 or ::. */
  readonly addresses: string[];
  /** Stops listening; resolves when every socket is closed. */
  close(): Promise<void>;
}

/** The least time between two log lines for one reason: MAX_CONNECTIONS reached, or a secret refused for one reason. */
const WARNING_INTERVAL_MS = 10_000;

export async function listen(config: Config, handlers: TransportHandlers, log: Logger): Promise<Transport> {
  const servePlayground = config.playground ? playground() : undefined;
  const tls = config.tlsCert !== undefined && config.tlsKey !== undefined;
  const server: Server = tls
    ? createHttpsServer({ cert: readFileSync(config.tlsCert as string), key: readFileSync(config.tlsKey as string) })
    : createHttpServer();
  // Node closes each connection past the cap as it is accepted; WebSockets and TLS handshakes count.
  server.maxConnections = config.maxConnections;
  const warnings = new ThrottledWarning(log, WARNING_INTERVAL_MS);
  warnWhenFull(server, config.maxConnections, warnings);
  const keepOpen = closeUnlessWebSocket(server, config.headerTimeoutMs);
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes, handleProtocols: chooseSubprotocol });
  const resolveKey = keyResolver(config.keys);
  // With a secret the daemon listens beyond loopback by default: its metrics (every key's name among them) need a token of their own.
  const metricsOff = config.metricsToken === undefined && config.keys.some((key) => key.secret !== undefined);
  if (metricsOff) log.warn('GET /metrics is off (403) until METRICS_TOKEN is set');
  const metricsAllowed = config.metricsToken === undefined ? () => true : matcher(`Bearer ${config.metricsToken}`);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // Whether Host is checked depends on the address bound. Requests are read from
  // the event loop's next poll, so none comes before the handlers below are on.
  const guard = new PageGuard({ ...config, loopback: isLoopbackAddress(address.address) }, log);
  // What an upgrade and a POST both pass, in this order: a page on another origin is refused whether or not it holds a secret.
  const admit = (req: IncomingMessage, what: string): Admission => {
    if (!handlers.accepting()) return { ok: false, status: 503, reason: 'shutting down' };
    const notAllowed = guard.refuseHost(req) ?? guard.refuseOrigin(req, what);
    if (notAllowed !== undefined) return { ok: false, status: 403, reason: notAllowed };
    const presented = presentedSecret(req.headers);
    const key = presented.ok ? resolveKey(presented.secret) : undefined;
    if (key === undefined) {
      // The reason is the daemon's own words: never the secret, nor a header that carries it.
      const reason = presented.ok ? `${presented.secret === undefined ? 'missing' : 'wrong'} secret` : presented.reason;
      warnings.warn(reason, { reason, remote: req.socket.remoteAddress }, `refused ${what} (401): ${reason}`);
      const body = presented.ok
        ? `missing or wrong secret (${SECRET_HEADER}, Authorization: Bearer, or a javascriptd.secret. subprotocol)`
        : presented.reason;
      return { ok: false, status: 401, reason: body };
    }
    return { ok: true, key };
  };
  const rpc = httpRpc({ maxFrameBytes: config.maxFrameBytes, guard, admit, bodyRead: keepOpen, onPost: handlers.onPost });
  // Refusals are read by curl and the like: without it, they carry on sending a body nobody reads.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Only a WebSocket outlives HEADER_TIMEOUT: one reply, then the connection closes, so no client reuses one about to be cut.
    res.setHeader('connection', 'close');
    const wrongHost = guard.refuseHost(req);
    if (wrongHost !== undefined) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end(wrongHost);
      return;
    }
    if (req.url === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      const ok = handlers.accepting();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'draining' }));
      return;
    }
    if (req.url === '/metrics' && req.method === 'GET') {
      if (metricsOff) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('metrics are off: set METRICS_TOKEN to serve them\n');
        return;
      }
      if (!metricsAllowed(req.headers.authorization)) {
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('missing or wrong metrics token\n');
        return;
      }
      handlers.metrics().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (servePlayground?.(req, res) === true) return;
    if (req.url === RPC_PATH) return rpc(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const admission = admit(req, 'a WebSocket upgrade');
    if (!admission.ok) return refuse(socket, admission.status, admission.reason);
    wss.handleUpgrade(req, socket, head, (ws) => {
      keepOpen(socket);
      handlers.onConnection(ws, req, admission.key);
    });
  });

  return {
    url: `${tls ? 'wss' : 'ws'}://${host}:${address.port}/`,
    address,
    addresses: reachableAt(address),
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Closes every connection that has not become a WebSocket, nor sent a whole
 * POST body, HEADER_TIMEOUT ms after connecting. Counted from the TCP connect,
 * so neither a slow TLS handshake nor headers or a body trickled a byte at a
 * time extend it. Returns the call that exempts such a socket.
 */
function closeUnlessWebSocket(server: Server, timeoutMs: number): (socket: Duplex) => void {
  const deadlines = new WeakMap<Duplex, NodeJS.Timeout>();
  // 'connection' is the TCP socket, also under HTTPS (before the TLS handshake).
  server.on('connection', (tcp: Socket) => {
    const deadline = setTimeout(() => tcp.destroy(), timeoutMs);
    deadlines.set(tcp, deadline);
    tcp.once('close', () => clearTimeout(deadline));
  });
  // A TLSSocket keeps the TCP socket it wraps as _parent (Node has no public link).
  return (socket) => clearTimeout(deadlines.get((socket as { _parent?: Duplex | null })._parent ?? socket));
}

/** Says in the log, at most every WARNING_INTERVAL_MS, that connections are closed at the cap. */
function warnWhenFull(server: Server, maxConnections: number, warnings: ThrottledWarning): void {
  server.on('drop', () => warnings.warn('full', { maxConnections }, 'MAX_CONNECTIONS reached: closing new connections'));
}

/** Whether a socket bound to `address` takes connections on every interface: 0.0.0.0 (IPv4) or :: (both). */
export const isEveryInterface = (address: string) => address === '0.0.0.0' || address === '::';

/** host:port for each address a socket bound to `bound` takes connections on. */
function reachableAt(bound: AddressInfo): string[] {
  const hosts = isEveryInterface(bound.address)
    ? Object.values(networkInterfaces())
        .flatMap((entries) => entries ?? [])
        .filter((entry) => bound.address === '::' || entry.family === 'IPv4')
        .map((entry) => entry.address)
    : [bound.address];
  return hosts.map((host) => `${host.includes(':') ? `[${host}]` : host}:${bound.port}`);
}

function refuse(socket: Duplex, status: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
