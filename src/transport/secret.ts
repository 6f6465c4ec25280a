// The shared-secret check on the WebSocket upgrade: the secret a connection
// presents selects its key. Programs send it in the x-runtime-secret header or
// as `Authorization: Bearer`; a browser, which cannot set headers, offers it as
// a WebSocket subprotocol beside the real one. Never in the URL, which ends up
// in logs and histories.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { KeyPolicy } from '../config/types.js';

export const SECRET_HEADER = 'x-runtime-secret';
/** The subprotocol javascriptd speaks; a browser must offer it beside its secret. */
export const SUBPROTOCOL = 'javascriptd';
/** `javascriptd.secret.` + the secret in base64url (RFC 4648 §5, without padding). */
export const SECRET_SUBPROTOCOL = 'javascriptd.secret.';

const digest = (value: string) => createHash('sha256').update(value).digest();

export type Presented = { ok: true; secret: string | undefined } | { ok: false; reason: string };

/** The secret an upgrade request presents, in any of its three forms; two that differ are refused. */
export function presentedSecret(headers: IncomingHttpHeaders): Presented {
  const header = headers[SECRET_HEADER];
  if (Array.isArray(header)) return { ok: false, reason: `more than one ${SECRET_HEADER}` };
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
  const offered = (headers['sec-websocket-protocol'] ?? '').split(',').map((protocol) => protocol.trim());
  const fromProtocols = offered
    .filter((protocol) => protocol.startsWith(SECRET_SUBPROTOCOL))
    .map((protocol) => Buffer.from(protocol.slice(SECRET_SUBPROTOCOL.length), 'base64url').toString('utf8'));
  const secrets = new Set([header, bearer, ...fromProtocols].filter((secret) => secret !== undefined && secret !== ''));
  if (secrets.size > 1) return { ok: false, reason: 'the secrets presented differ' };
  return { ok: true, secret: [...secrets][0] };
}

/** Which subprotocol to answer with: ours when offered, never the one carrying the secret. */
export function chooseSubprotocol(offered: Set<string>): string | false {
  return offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
}

/**
 * Returns a function mapping a presented secret to its key, or undefined
 * (refuse). Every key's secret is compared, in constant time, whatever matches.
 */
export function keyResolver(keys: readonly KeyPolicy[]): (presented: string | undefined) => KeyPolicy | undefined {
  const guarded = keys.filter((k) => k.secret !== undefined).map((key) => ({ key, digest: digest(key.secret as string) }));
  const open = keys.find((k) => k.secret === undefined);
  return (presented) => {
    if (presented === undefined) return open;
    const given = digest(presented);
    let found: KeyPolicy | undefined;
    for (const candidate of guarded) if (timingSafeEqual(given, candidate.digest)) found = candidate.key;
    return found;
  };
}

/** A constant-time check of a presented value against one expected value. */
export function matcher(expected: string): (presented: string | undefined) => boolean {
  const want = digest(expected);
  return (presented) => presented !== undefined && timingSafeEqual(digest(presented), want);
}
