// Waiting for something to have happened, instead of sleeping a fixed time and
// hoping it has: a fixed sleep is too short on a busy machine and wastes time on
// an idle one.
import { setTimeout as delay } from 'node:timers/promises';

/** Resolves once `condition()` holds, checking every 20 ms; throws `${what}: not within ${timeoutMs} ms` if it never does. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(20);
  }
}

/** Resolves with what `probe()` finds once it finds something (not undefined), checking every 20 ms; throws as `until` does. */
export async function found<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  let value: T | undefined;
  await until(
    () => {
      value = probe();
      return value !== undefined;
    },
    what,
    timeoutMs,
  );
  return value as T;
}
