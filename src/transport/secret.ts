// The shared-secret check on the WebSocket upgrade: the secret a connection
// presents selects its key.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { KeyPolicy } from '../config.js';

export const SECRET_HEADER = 'x-runtime-secret';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Returns a function mapping a presented header value to its key, or undefined
 * (refuse). Every key's secret is compared, in constant time, whatever matches.
 */
export function keyResolver(keys: readonly KeyPolicy[]): (presented: string | string[] | undefined) => KeyPolicy | undefined {
  const guarded = keys.filter((k) => k.secret !== undefined).map((key) => ({ key, digest: digest(key.secret as string) }));
  const open = keys.find((k) => k.secret === undefined);
  return (presented) => {
    if (presented === undefined || presented === '') return open;
    if (typeof presented !== 'string') return undefined;
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
