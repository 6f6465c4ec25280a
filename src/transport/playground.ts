// The playground page at /playground (PLAYGROUND=true): the static files that
// scripts/build-playground.mjs writes to dist/playground, read once and served
// from memory. The page keeps no state here: it runs scripts over the daemon's
// own WebSocket endpoint with the secret its visitor types, so it gives nothing
// to a visitor without one. Its headers let it load only its own script and
// style and connect only to this daemon.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Where the page is; its script and style are under it. */
export const PLAYGROUND_PATH = '/playground';
const BUILT = join(__dirname, '..', '..', 'playground');
const PAGE = 'index.html';
/** Where the page carries its nonce (scripts/build-playground.mjs leaves it in index.html). */
const NONCE_SLOT = '__NONCE__';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** A Host header that is a host name, IPv4 or bracketed IPv6 address, and port: safe to repeat in the CSP. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

interface Asset {
  type: string;
  body: Buffer;
  /** The body compressed once, at start-up, not on every request (sizes: docs/clients.md, the playground). */
  gzipped: Buffer;
}

/** Answers a request for the playground and returns true, or returns false: the path is not the playground's. */
export type PlaygroundHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Reads the built files; throws when they are missing, so PLAYGROUND=true fails at start-up rather than on a visit. */
export function playground(): PlaygroundHandler {
  if (!existsSync(join(BUILT, PAGE)))
    throw new Error(`PLAYGROUND=true, but the page is not built (no ${join(BUILT, PAGE)}): run npm run build`);
  const page = readFileSync(join(BUILT, PAGE), 'utf8');
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(BUILT)) {
    const type = TYPES[extname(name)];
    if (type === undefined || name === PAGE) continue;
    const body = readFileSync(join(BUILT, name));
    assets.set(`${PLAYGROUND_PATH}/${name}`, { type, body, gzipped: gzipSync(body) });
  }

  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const asset = assets.get(path);
    if (asset === undefined && path !== PLAYGROUND_PATH) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    if (asset === undefined) servePage(req, res, page);
    else serveAsset(req, res, asset);
    return true;
  };
}

/**
 * The page itself, with a fresh nonce: CodeMirror writes its styles into a
 * <style> element, which the CSP allows only with the nonce (the page hands
 * it to CodeMirror). So the page is made per request and never stored.
 */
function servePage(req: IncomingMessage, res: ServerResponse, page: string): void {
  const nonce = randomBytes(16).toString('base64');
  const body = page.replaceAll(NONCE_SLOT, nonce);
  res.writeHead(200, {
    'content-type': TYPES['.html'],
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(body)),
    ...securityHeaders(req.headers.host, nonce),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  const body = gzip ? asset.gzipped : asset.body;
  res.writeHead(200, {
    'content-type': asset.type,
    // Its name carries a hash of its content (the build names it): it never changes.
    'cache-control': 'public, max-age=31536000, immutable',
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    'content-length': String(body.length),
    ...securityHeaders(req.headers.host),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The page may run only its own script and style, reach only this daemon (its
 * WebSocket endpoint and /healthz), be framed by nobody, and tells nobody
 * where its visitor came from.
 */
function securityHeaders(host: string | undefined, nonce?: string): Record<string, string> {
  // CSP 3 lets 'self' cover ws: and wss: on the page's own host; older browsers need them named.
  const sockets = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  const styles = nonce === undefined ? "'self'" : `'self' 'nonce-${nonce}'`;
  return {
    'content-security-policy': `default-src 'none'; script-src 'self'; style-src ${styles}; connect-src 'self'${sockets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  };
}
