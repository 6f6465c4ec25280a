// Waiting for a condition instead of sleeping for a guess: the tests poll what
// they assert on, so a busy machine costs them time, never a wrong verdict.
import { setTimeout as delay } from 'node:timers/promises';

/** Resolves once `condition` holds (polled every 20 ms); rejects naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(20);
  }
}
