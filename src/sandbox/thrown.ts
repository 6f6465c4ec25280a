// Turning what escapes the isolate into a Thrown record for a 1000 reply.
import { inspect } from 'node:util';
import type { Thrown } from '../errors.js';

const BOUNDARY = '<isolated-vm boundary>';
const PRELUDE_FILE = 'javascriptd:prelude';

/** The script's frames only: no prelude frames, nothing of the daemon past the isolate boundary. */
export function cleanStack(stack: string): string {
  const frames: string[] = [];
  for (const line of stack.split('\n')) {
    if (line.includes(BOUNDARY)) break;
    if (!line.includes(PRELUDE_FILE)) frames.push(line);
  }
  return frames.join('\n');
}

/**
 * A value isolated-vm threw on the host: a copy of an Error (syntax errors,
 * unhandled rejections, top-level throws) or a primitive.
 */
export function fromHost(value: unknown): Thrown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: cleanStack(value.stack ?? '') };
  }
  return { name: 'Error', message: `Uncaught ${inspect(value, { depth: 2 })}`, stack: '' };
}
