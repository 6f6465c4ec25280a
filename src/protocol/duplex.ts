// Duplex "SIMPLEX/1.0" with the json codec, as progrium/duplex and the original
// javascriptd speak it: {type:"req",method,id?,payload,more?,ext?} in,
// {type:"rep",id,payload|error,ext?} out. Console lines streamed ahead of a
// reply use Duplex's own streaming form: replies of the same id with more:true.

import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import { parseBoundedJson } from './bounded-json.js';
import { type Dialect, type FrameLimits, type Incoming, isObject, isRequestId, type ReplyTarget } from './dialect.js';

export const DUPLEX_HANDSHAKE = 'SIMPLEX/1.0;json';
export const DUPLEX_ACCEPT = '+OK';

export const duplex: Dialect = {
  parse(frame: string, { maxDepth }: FrameLimits): Incoming {
    // Duplex peers ignore empty frames.
    if (frame === '') return { kind: 'ignore' };
    const parsed = parseBoundedJson(frame, maxDepth);
    if (!parsed.ok) {
      if (parsed.outline === undefined) return { kind: 'invalid', target: undefined, error: errors.parseError(parsed.reason) };
      // Too deep: answered by id when the outline has one, without echoing the (deep) ext.
      const id = isObject(parsed.outline) ? parsed.outline.id : undefined;
      return { kind: 'invalid', target: isRequestId(id) ? { id } : undefined, error: errors.invalidRequest(parsed.reason) };
    }
    const msg = parsed.value;
    if (!isObject(msg)) return { kind: 'invalid', target: undefined, error: errors.invalidRequest('a message must be a JSON object') };
    if (msg.id !== undefined && !isRequestId(msg.id)) {
      return { kind: 'invalid', target: undefined, error: errors.invalidRequest('id must be a number or a string') };
    }
    const target: ReplyTarget | undefined = msg.id === undefined ? undefined : { id: msg.id, ext: msg.ext };
    if (msg.type === 'rep') {
      // This server never calls its peer, so a reply answers nothing.
      return { kind: 'invalid', target: undefined, error: errors.invalidRequest('unexpected reply: this server makes no calls') };
    }
    if (msg.type !== 'req') return { kind: 'invalid', target, error: errors.invalidRequest('type must be "req"') };
    if (typeof msg.method !== 'string') return { kind: 'invalid', target, error: errors.invalidRequest('method must be a string') };
    return { kind: 'request', target, method: msg.method, params: msg.payload };
  },

  result(target: ReplyTarget, resultJson: string): string {
    return `{"type":"rep","id":${JSON.stringify(target.id)},"payload":${resultJson}${ext(target)}}`;
  },

  error(target: ReplyTarget, error: RpcError): string {
    return `{"type":"rep","id":${JSON.stringify(target.id)},"error":${JSON.stringify(error.toWire())}${ext(target)}}`;
  },

  console(target: ReplyTarget, lines: string[]): string {
    return `{"type":"rep","id":${JSON.stringify(target.id)},"payload":{"console":${JSON.stringify(lines)}},"more":true${ext(target)}}`;
  },
};

/** Duplex replies carry the request's ext back. */
function ext(target: ReplyTarget): string {
  return target.ext === undefined ? '' : `,"ext":${JSON.stringify(target.ext)}`;
}
