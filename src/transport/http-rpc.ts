// JSON-RPC 2.0 over plain HTTP: `POST /`, the WebSocket's own URL, so that one
// address serves both and `curl` is a client. A page on another origin can
// POST anywhere, so the body must be `application/json` (a type no form or
// "simple" fetch may send: the browser asks first, in a preflight) and the
// page's Origin passes the same rules as a WebSocket upgrade. The body is
// counted as it arrives and refused (413) the moment it passes MAX_FRAME;
// nothing runs before it is whole. A client that leaves before its answer
// stops its executions.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { KeyPolicy } from '../config/types.js';
import type { PageGuard } from './origin.js';

/** Where JSON-RPC is POSTed: the root, the URL of the WebSocket too. */
export const RPC_PATH = '/';
const ALLOW = 'POST, OPTIONS';
/** Headers a page listed in ALLOWED_ORIGINS may send with its POST. */
const ALLOWED_HEADERS = 'content-type, authorization, x-runtime-secret';
const PREFLIGHT_MAX_AGE_S = '600';

/** Whether a request may go on, or the status and text it is refused with. */
export type Admission = { ok: true; key: KeyPolicy } | { ok: false; status: number; reason: string };

/** A POST's body, read whole, for the protocol to answer. */
export interface RpcPost {
  body: string;
  key: KeyPolicy;
  remote: string | undefined;
  /** Aborted if the client goes away before its answer. */
  signal: AbortSignal;
  /** 200 with a JSON-RPC reply, or 204 for a body that gets none (notifications only). */
  answer(reply: string | undefined): void;
}

export interface HttpRpcOptions {
  maxFrameBytes: number;
  guard: PageGuard;
  /** The checks an upgrade passes: draining, Host and Origin, the secret. */
  admit(req: IncomingMessage, what: string): Admission;
  /** Frees the connection from HEADER_TIMEOUT: its body is read, and it now waits for its answer. */
  bodyRead(socket: Socket): void;
  onPost(post: RpcPost): void;
}

/** Answers every request for RPC_PATH (not WebSocket upgrades, which never come here). */
export function httpRpc(options: HttpRpcOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method === 'OPTIONS') return preflight(options.guard, req, res);
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: ALLOW, 'content-type': 'text/plain' });
      res.end('POST a JSON-RPC 2.0 request here (Content-Type: application/json), or open a WebSocket\n');
      return;
    }
    const admission = options.admit(req, 'a POST');
    if (!admission.ok) {
      const bearer = admission.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
      res.writeHead(admission.status, { 'content-type': 'text/plain', ...bearer }).end(admission.reason);
      return;
    }
    if (!isJson(req.headers['content-type'])) {
      res.writeHead(415, { 'content-type': 'text/plain', 'accept-post': 'application/json' });
      res.end('the body must be Content-Type: application/json (UTF-8)\n');
      return;
    }
    const limit = options.maxFrameBytes;
    const tooLarge = `a body larger than ${limit} bytes (MAX_FRAME)\n`;
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      res.writeHead(413, { 'content-type': 'text/plain' }).end(tooLarge);
      return;
    }
    // Only now may a client that waits for it (curl does, for large bodies) send its body.
    if (/^100-continue$/i.test(req.headers.expect ?? '')) res.writeContinue();
    readBody(req, limit).then((body) => {
      if (body === 'gone') return;
      if (body === 'too large') {
        res.writeHead(413, { 'content-type': 'text/plain' }).end(tooLarge);
        return;
      }
      options.bodyRead(req.socket);
      const left = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) left.abort();
      });
      const origin = crossOrigin(req);
      options.onPost({
        body: body.toString('utf8'),
        key: admission.key,
        remote: req.socket.remoteAddress,
        signal: left.signal,
        answer(reply) {
          if (res.destroyed) return;
          const headers = { 'cache-control': 'no-store', ...origin };
          if (reply === undefined) res.writeHead(204, headers).end();
          else
            res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) }).end(reply);
        },
      });
    });
  };
}

/** application/json, with no charset or UTF-8 (RFC 8259 allows no other). */
function isJson(contentType: string | undefined): boolean {
  const [type, ...params] = (contentType ?? '').split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((param) => !param.startsWith('charset=') || /^charset="?utf-8"?$/.test(param));
}

/**
 * The body, counted in bytes as it comes and never kept past `limit`: 'too
 * large' the moment it passes it (the rest is not read), 'gone' if the client
 * left first.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else {
        req.off('data', onData);
        req.pause();
        chunks.length = 0;
        resolve('too large');
      }
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    // After 'end' (or 'too large') this settles nothing.
    req.once('close', () => resolve('gone'));
  });
}

/** A CORS preflight: answered for a page whose Origin passes (its own, or ALLOWED_ORIGINS); 403 for any other. */
function preflight(guard: PageGuard, req: IncomingMessage, res: ServerResponse): void {
  if (req.headers.origin === undefined) {
    res.writeHead(204, { allow: ALLOW }).end();
    return;
  }
  const refused = guard.refuseOrigin(req, 'a CORS preflight');
  if (refused !== undefined) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end(refused);
    return;
  }
  res.writeHead(204, {
    ...crossOrigin(req),
    'access-control-allow-methods': 'POST',
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': PREFLIGHT_MAX_AGE_S,
  });
  res.end();
}

/** For a request from a page that passed the Origin check: the headers that let it read the answer. */
function crossOrigin(req: IncomingMessage): Record<string, string> {
  const { origin } = req.headers;
  return origin === undefined ? {} : { 'access-control-allow-origin': origin, vary: 'origin' };
}
