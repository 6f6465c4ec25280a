// What every fuzz suite here shares: the seed (FUZZ_SEED, or a random one,
// printed in each suite's title), the daemon's settings and limits they run
// under, and the check that a reply frame is well formed.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { ErrorCode } from '../../src/errors.js';

export const SEED = seedFromEnv();
/** MAX_DEPTH at its default; MAX_FRAME small so frames over it are cheap to send. */
export const LIMITS = { maxDepth: 128, maxFrameBytes: 262144 };
export const DAEMON_ENV = {
  // Busy loops end fast, and no script may ask for more than a second.
  TIMEOUT: '200',
  MAX_TIMEOUT: '1000',
  MAX_FRAME: String(LIMITS.maxFrameBytes),
  MAX_DEPTH: String(LIMITS.maxDepth),
  CONSOLE_LIMIT: '4096',
  RESULT_LIMIT: '65536',
};
export const CODES = new Set<number>(Object.values(ErrorCode));
/** How long after its last expected reply a connection must stay silent (no duplicate, no stray reply). */
export const QUIET_MS = 250;
export const REPLY_TIMEOUT_MS = 20000;

export type Dialect = 'duplex' | 'jsonrpc';

/** Parses a reply frame and checks its shape; returns it. */
export function wellFormed(dialect: Dialect, frame: string, where: string): Record<string, unknown> {
  const parsed = parse(frame);
  const fail = (why: string) => assert.fail(`${where}: malformed reply (${why}): ${frame.slice(0, 600)}`);
  if (!parsed.ok || !isObject(parsed.value)) return fail('not a JSON object');
  const reply = parsed.value;
  const [outcome, allowed] =
    dialect === 'duplex' ? ['payload', ['type', 'id', 'payload', 'error', 'ext']] : ['result', ['jsonrpc', 'id', 'result', 'error']];
  if (dialect === 'duplex' ? reply.type !== 'rep' : reply.jsonrpc !== '2.0') fail('wrong type or jsonrpc');
  if (!(dialect === 'duplex' ? isRequestId(reply.id) : reply.id === null || isRequestId(reply.id))) fail('no usable id');
  const extra = Object.keys(reply).filter((k) => !allowed.includes(k));
  if (extra.length > 0) fail(`unexpected members ${extra.join(', ')}`);
  if (outcome in reply === 'error' in reply) fail(`not exactly one of ${outcome} and error`);
  if ('error' in reply) {
    const error = reply.error;
    if (!isObject(error) || !CODES.has(error.code as number)) fail('an error without a known code');
    if (typeof (error as Record<string, unknown>).message !== 'string') fail('an error without a message');
    const data = (error as Record<string, unknown>).data;
    if (data !== undefined && !isObject(data)) fail('error data that is not an object');
  } else {
    const result = reply[outcome];
    if (!isObject(result) || !('value' in result)) fail('a result without a value');
    const { console, time } = result as Record<string, unknown>;
    if (!Array.isArray(console) || !console.every((line) => typeof line === 'string')) fail('console is not a list of strings');
    if (typeof time !== 'number' || !(time >= 0)) fail('time is not a number');
  }
  return reply;
}

export function parse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isRequestId(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

export function seedFromEnv(): number {
  const given = process.env.FUZZ_SEED;
  if (given === undefined || given === '') return randomInt(2 ** 31);
  const seed = Number(given);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`FUZZ_SEED must be a non-negative integer, not ${given}`);
  return seed;
}
