// The shared-secret check on the WebSocket upgrade.
import { createHash, timingSafeEqual } from 'node:crypto';

export const SECRET_HEADER = 'x-runtime-secret';

/** Returns a constant-time check of a presented header value against `secret`. */
export function secretCheck(secret: string): (presented: string | string[] | undefined) => boolean {
  // Comparing digests keeps the comparison constant-time whatever the lengths.
  const expected = createHash('sha256').update(secret).digest();
  return (presented) => {
    if (typeof presented !== 'string') return false;
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected);
  };
}
