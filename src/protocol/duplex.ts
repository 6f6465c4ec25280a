// Duplex "SIMPLEX/1.0" with the json codec, as progrium/duplex and the original
// javascriptd speak it: {type:"req",method,id?,payload,more?,ext?} in,
// {type:"rep",id,payload|error,ext?} out.
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import { type Dialect, type Incoming, isObject, isRequestId, parseJson, type ReplyTarget } from './dialect.js';

export const DUPLEX_HANDSHAKE = 'SIMPLEX/1.0;json';
export const DUPLEX_ACCEPT = '+OK';

export const duplex: Dialect = {
  name: 'duplex',

  parse(frame: string): Incoming {
    // Duplex peers ignore empty frames.
    if (frame === '') return { kind: 'ignore' };
    const parsed = parseJson(frame);
    if (!parsed.ok) return { kind: 'invalid', target: undefined, error: errors.parseError(parsed.reason) };
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

  result(target: ReplyTarget, result: unknown): string {
    return JSON.stringify(withExt({ type: 'rep', id: target.id, payload: result }, target));
  },

  error(target: ReplyTarget, error: RpcError): string {
    return JSON.stringify(withExt({ type: 'rep', id: target.id, error: error.toWire() }, target));
  },
};

function withExt(message: Record<string, unknown>, target: ReplyTarget): Record<string, unknown> {
  // Duplex replies carry the request's ext back.
  return target.ext === undefined ? message : { ...message, ext: target.ext };
}
