// JSON-RPC 2.0 on the same endpoint: chosen when a connection's first frame is a
// JSON-RPC request. Batches are refused.
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import { type Dialect, type Incoming, isObject, isRequestId, parseJson, type ReplyTarget } from './dialect.js';

/** Whether a connection's first frame asks for this dialect. */
export function looksLikeJsonRpc(frame: string): boolean {
  const parsed = parseJson(frame);
  if (!parsed.ok) return false;
  const first = Array.isArray(parsed.value) ? parsed.value[0] : parsed.value;
  return isObject(first) && first.jsonrpc === '2.0';
}

export const jsonRpc: Dialect = {
  name: 'jsonrpc',

  parse(frame: string): Incoming {
    const parsed = parseJson(frame);
    if (!parsed.ok) return { kind: 'invalid', target: { id: null }, error: errors.parseError(parsed.reason) };
    const msg = parsed.value;
    if (Array.isArray(msg)) {
      return { kind: 'invalid', target: { id: null }, error: errors.invalidRequest('batch requests are not supported') };
    }
    if (!isObject(msg)) return { kind: 'invalid', target: { id: null }, error: errors.invalidRequest('a request must be a JSON object') };
    const hasId = 'id' in msg;
    if (hasId && msg.id !== null && !isRequestId(msg.id)) {
      return { kind: 'invalid', target: { id: null }, error: errors.invalidRequest('id must be a string, a number or null') };
    }
    const target: ReplyTarget | undefined = hasId ? { id: (msg.id as ReplyTarget['id']) ?? null } : undefined;
    if (msg.jsonrpc !== '2.0') return { kind: 'invalid', target: target ?? { id: null }, error: errors.invalidRequest('jsonrpc must be "2.0"') };
    if (typeof msg.method !== 'string') {
      return { kind: 'invalid', target: target ?? { id: null }, error: errors.invalidRequest('method must be a string') };
    }
    return { kind: 'request', target, method: msg.method, params: msg.params };
  },

  result(target: ReplyTarget, result: unknown): string {
    return JSON.stringify({ jsonrpc: '2.0', id: target.id, result });
  },

  error(target: ReplyTarget, error: RpcError): string {
    return JSON.stringify({ jsonrpc: '2.0', id: target.id, error: error.toWire() });
  },
};
