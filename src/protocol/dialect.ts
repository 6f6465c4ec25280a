// What the two wire dialects (Duplex and JSON-RPC 2.0) have in common: turning a
// frame into a request, and a result or error into a reply frame.
import type { RpcError } from '../errors.js';

export type RequestId = string | number;

/** Where a reply goes. `id` null is JSON-RPC's "could not tell which request". */
export interface ReplyTarget {
  id: RequestId | null;
  ext?: unknown;
}

/** One message of a frame. */
export type Message =
  /** `target` undefined: a notification, executed but never answered. */
  | { kind: 'request'; target: ReplyTarget | undefined; method: string; params: unknown }
  /** `target` undefined: the frame cannot be answered and is dropped with a warning. */
  | { kind: 'invalid'; target: ReplyTarget | undefined; error: RpcError }
  | { kind: 'ignore' };

/** One message of a batch, with the UTF-8 bytes of its own text in the frame (what it is charged against QUEUE_BYTES). */
export interface BatchMember {
  message: Message;
  bytes: number;
}

/** A frame: one message, or (JSON-RPC) a batch of them, answered together in one array. */
export type Incoming = Message | { kind: 'batch'; members: BatchMember[] };

/** What a frame may hold. */
export interface FrameLimits {
  /** MAX_DEPTH: nothing nested deeper is accepted. */
  maxDepth: number;
  /** The most members a JSON-RPC batch may have: each must have room for a reply in the batch's reply frame. */
  maxBatchMembers: number;
}

export interface Dialect {
  /** Turns a frame into a request, within `limits`. */
  parse(frame: string, limits: FrameLimits): Incoming;
  /** A reply carrying `resultJson`, the result as JSON text (spliced in as it is, never parsed again). */
  result(target: ReplyTarget, resultJson: string): string;
  error(target: ReplyTarget, error: RpcError): string;
  /** A frame carrying console lines of a request still running, ahead of its reply. */
  console(target: ReplyTarget, lines: string[]): string;
}

/** Where the reply to a message goes; undefined for one that gets none (a notification, a frame that cannot be answered). */
export function replyTarget(message: Message): ReplyTarget | undefined {
  return message.kind === 'ignore' ? undefined : message.target;
}

export function isRequestId(value: unknown): value is RequestId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
