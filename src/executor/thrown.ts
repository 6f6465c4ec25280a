// Turning what escapes the isolate into a Thrown record for a 1000 reply.
import { inspect } from 'node:util';
import type { Thrown } from '../errors.js';
import { clip } from '../text.js';

/** Longest name, message and stack of an error reply, in characters; the isolate cuts them before they leave it. */
export const ERROR_TEXT = { nameChars: 256, messageChars: 4096, stackChars: 12288 };

const BOUNDARY = '<isolated-vm boundary>';
const PRELUDE_FILE = 'javascriptd:prelude';

/** The script's frames only (no prelude frames, nothing of the daemon past the isolate boundary), within ERROR_TEXT. */
export function cleanStack(stack: string): string {
  const frames: string[] = [];
  for (const line of clip(stack, ERROR_TEXT.stackChars).split('\n')) {
    if (line.includes(BOUNDARY)) break;
    if (!line.includes(PRELUDE_FILE)) frames.push(line);
  }
  return frames.join('\n');
}

/** A Thrown record within ERROR_TEXT, whatever the isolate sent. */
export function thrown(name: string, message: string, stack: string): Thrown {
  return { name: clip(name, ERROR_TEXT.nameChars), message: clip(message, ERROR_TEXT.messageChars), stack: cleanStack(stack) };
}

/**
 * A value isolated-vm threw on the host: a copy of an Error (syntax errors,
 * unhandled rejections, top-level throws) or a primitive.
 */
export function fromHost(value: unknown): Thrown {
  if (value instanceof Error) return thrown(value.name, value.message, value.stack ?? '');
  const shown = typeof value === 'string' ? clip(value, ERROR_TEXT.messageChars) : value;
  return thrown('Error', `Uncaught ${inspect(shown, { depth: 2 })}`, '');
}
