// JSON-RPC 2.0 on the same endpoint: chosen when a connection's first frame is a
// JSON-RPC request or batch. A batch is answered with one array holding a reply
// for each request that has an id; one of notifications only gets no reply.
// Console lines streamed ahead of a reply are notifications (runtime.console)
// naming the request's id.

import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import { parseBoundedJson } from './bounded-json.js';
import { type Dialect, type FrameLimits, type Incoming, isObject, isRequestId, type Message, type ReplyTarget } from './dialect.js';

/** Whether a connection's first frame asks for this dialect. */
export function looksLikeJsonRpc(frame: string, maxDepth: number): boolean {
  const parsed = parseBoundedJson(frame, maxDepth);
  const value = parsed.ok ? parsed.value : parsed.outline;
  const first = Array.isArray(value) ? value[0] : value;
  return isObject(first) && first.jsonrpc === '2.0';
}

export const jsonRpc: Dialect = {
  parse(frame: string, { maxDepth, maxBatchMembers }: FrameLimits): Incoming {
    const parsed = parseBoundedJson(frame, maxDepth);
    if (!parsed.ok) {
      if (parsed.outline === undefined) return { kind: 'invalid', target: { id: null }, error: errors.parseError(parsed.reason) };
      const id = isObject(parsed.outline) ? parsed.outline.id : undefined;
      return { kind: 'invalid', target: { id: isRequestId(id) ? id : null }, error: errors.invalidRequest(parsed.reason) };
    }
    if (!Array.isArray(parsed.value)) return message(parsed.value);
    if (parsed.value.length === 0) return { kind: 'invalid', target: { id: null }, error: errors.invalidRequest('an empty batch') };
    // Refused before its members are looked at: many tiny members would each make a reply (and an error).
    if (parsed.value.length > maxBatchMembers)
      return { kind: 'invalid', target: { id: null }, error: errors.batchTooLarge(parsed.value.length) };
    // The scan that checked the depth found each member's text: its length is what the member weighs, not a share of the frame.
    const { separators = [] } = parsed;
    return {
      kind: 'batch',
      members: parsed.value.map((member, i) => ({
        message: message(member),
        bytes: Buffer.byteLength(frame.slice(separators[i] + 1, separators[i + 1])),
      })),
    };
  },

  result(target: ReplyTarget, resultJson: string): string {
    return `{"jsonrpc":"2.0","id":${JSON.stringify(target.id)},"result":${resultJson}}`;
  },

  error(target: ReplyTarget, error: RpcError): string {
    return JSON.stringify({ jsonrpc: '2.0', id: target.id, error: error.toWire() });
  },

  console(target: ReplyTarget, lines: string[]): string {
    return JSON.stringify({ jsonrpc: '2.0', method: 'runtime.console', params: { id: target.id, console: lines } });
  },
};

/** One request object, alone or in a batch. */
function message(msg: unknown): Message {
  if (!isObject(msg)) return { kind: 'invalid', target: { id: null }, error: errors.invalidRequest('a request must be a JSON object') };
  const hasId = 'id' in msg;
  if (hasId && msg.id !== null && !isRequestId(msg.id)) {
    return { kind: 'invalid', target: { id: null }, error: errors.invalidRequest('id must be a string, a number or null') };
  }
  const target: ReplyTarget | undefined = hasId ? { id: (msg.id as ReplyTarget['id']) ?? null } : undefined;
  if (msg.jsonrpc !== '2.0')
    return { kind: 'invalid', target: target ?? { id: null }, error: errors.invalidRequest('jsonrpc must be "2.0"') };
  if (typeof msg.method !== 'string') {
    return { kind: 'invalid', target: target ?? { id: null }, error: errors.invalidRequest('method must be a string') };
  }
  return { kind: 'request', target, method: msg.method, params: msg.params };
}
