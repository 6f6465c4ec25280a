// The web APIs of web.js and fetch.js, as one group scripts get on first
// touch: prelude.js installs each name in WEB_APIS as a global accessor that
// evaluates the group (scripts/build-prelude.mjs bundles it apart, as
// `javascriptd:web-apis`) and replaces itself with the value. Most scripts
// never touch them, and every fresh context would otherwise evaluate them.
import { Headers, makeFetch, Request, Response } from './fetch.js';
import { AbortController, AbortSignal, DOMException, Event, EventTarget, makeCrypto, TextDecoder, TextEncoder } from './web.js';

/**
 * @param {{ send: Function, abort: Function }} gate what a fetch may hand to the host (fetch-gate.js)
 * @param {(op: string, ...args: unknown[]) => Uint8Array} hostSync random bytes and digests
 */
export function webApis(gate, hostSync) {
  const fetcher = makeFetch(gate);
  return {
    values: {
      TextEncoder,
      TextDecoder,
      AbortController,
      AbortSignal,
      EventTarget,
      Event,
      DOMException,
      crypto: makeCrypto(hostSync),
      Headers,
      Request,
      Response,
      fetch: fetcher.fetch,
    },
    settle: fetcher.settle,
  };
}
