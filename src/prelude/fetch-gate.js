// What a fetch hands to the host, bounded before it is copied out of the
// isolate. fetch.js builds requests with the script's own built-ins: it is
// evaluated on the script's first touch of a web API (web-apis.js), possibly
// after the script replaced some. This gate is part of the prelude's core,
// loaded before any script runs, with intrinsics captured then: whatever
// fetch.js hands it, only strings and bytes within the bounds below, and
// within FETCH_MAX_REQUESTS and FETCH_MAX_BYTES, reach `host`. The daemon
// checks them all the same (src/executor/host-ops.ts).
const ReflectApply = Reflect.apply;
const ReflectGetOwnPropertyDescriptor = Reflect.getOwnPropertyDescriptor;
const TypedArrayPrototype = Reflect.getPrototypeOf(Uint8Array.prototype);
const TypedArrayToStringTag = ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get;
const TypedArrayByteLength = ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, 'byteLength').get;
const TypedArrayBuffer = ReflectGetOwnPropertyDescriptor(TypedArrayPrototype, 'buffer').get;
const ArrayBufferByteLength = ReflectGetOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
const Uint8ArrayCtor = Uint8Array;
const TypeErrorCtor = TypeError;

/** Longest method, URL and header list (as JSON) a request may hand to the host, in characters. */
const MAX_METHOD = 64;
const MAX_URL = 65536;
const MAX_HEADERS = 65536;

/**
 * @param {(op: string, ...args: unknown[]) => void} host
 * @param {{ fetchMaxRequests: number, fetchMaxBytes: number }} limits
 */
export function makeFetchGate(host, limits) {
  let requests = 0;
  let sentBytes = 0;

  /** The text of why a request may not go out, or undefined. */
  function refusal(method, url, headers, size) {
    if (requests >= limits.fetchMaxRequests) return `more than ${limits.fetchMaxRequests} requests in one execution (FETCH_MAX_REQUESTS)`;
    if (typeof method !== 'string' || method.length > MAX_METHOD) return 'the method is not a short string';
    if (typeof url !== 'string') return 'the URL is not a string';
    if (url.length > MAX_URL) return `a URL of ${url.length} characters is longer than ${MAX_URL}`;
    if (typeof headers !== 'string') return 'the headers are not a string';
    if (headers.length > MAX_HEADERS) return `headers of ${headers.length} characters are longer than ${MAX_HEADERS}`;
    if (size < 0) return 'the body is not bytes';
    if (sentBytes + size > limits.fetchMaxBytes)
      return `request bodies of this execution would exceed ${limits.fetchMaxBytes} bytes (FETCH_MAX_BYTES)`;
    return undefined;
  }

  return {
    /**
     * Hands one request to the host: returns its id, or throws a TypeError
     * saying why it may not go out. Every request handed over counts, whether
     * the daemon's policy then refuses it or not; request bodies count together.
     */
    send(method, url, headers, body, redirect) {
      const bytes = body === null ? null : ownBytes(body);
      const size = bytes === null ? (body === null ? 0 : -1) : ReflectApply(TypedArrayByteLength, bytes, []);
      const refused = refusal(method, url, headers, size);
      if (refused !== undefined) throw new TypeErrorCtor(`fetch refused: ${refused}`);
      const id = ++requests;
      sentBytes += size;
      host('fetch', id, method, url, headers, bytes, typeof redirect === 'string' && redirect.length <= MAX_METHOD ? redirect : 'follow');
      return id;
    },
    abort(id) {
      if (typeof id === 'number') host('abort-fetch', id);
    },
  };
}

/** A Uint8Array holding exactly `body`'s bytes (a copy if it views part of a larger buffer), or null if it is not a Uint8Array. */
function ownBytes(body) {
  if (ReflectApply(TypedArrayToStringTag, body, []) !== 'Uint8Array') return null;
  // A view copies out with its whole buffer; a copy of its part only.
  let whole = false;
  try {
    whole =
      ReflectApply(TypedArrayByteLength, body, []) === ReflectApply(ArrayBufferByteLength, ReflectApply(TypedArrayBuffer, body, []), []);
  } catch {
    // Its buffer is shared: it is copied.
  }
  return whole ? body : new Uint8ArrayCtor(body);
}
