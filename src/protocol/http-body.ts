// A JSON-RPC 2.0 body POSTed over HTTP: one request or a batch, answered with
// one reply (or one reply array) once everything in it has finished, and with
// nothing (204) when it holds notifications only. The same limits as a frame
// on a WebSocket: MAX_DEPTH, the batch's members, MAX_IN_FLIGHT, MAX_FRAME for
// the reply. No console is streamed: there is no frame to carry it ahead of
// the reply, which has every line anyway.
import type { Dispatcher } from './dispatcher.js';
import { jsonRpc } from './jsonrpc.js';

/** The reply to `body`, or undefined when it gets none; never rejects. */
export function answerBody(dispatcher: Dispatcher, body: string): Promise<string | undefined> {
  const incoming = jsonRpc.parse(body, dispatcher.frameLimits);
  return incoming.kind === 'batch'
    ? dispatcher.batch(jsonRpc, incoming.members)
    : dispatcher.reply(jsonRpc, incoming, Buffer.byteLength(body));
}
