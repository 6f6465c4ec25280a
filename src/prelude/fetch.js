// fetch, Request, Response and Headers for scripts. Bodies are held whole
// (text, JSON, bytes); the request itself is made by the daemon, which applies
// the key's outbound policy: here a fetch is only handed to `host` as plain
// data, and its answer comes back through `enter('fetched' | 'fetch-failed')`.
//
// Rules for this file. These are the script's own objects, in its own fresh
// context, evaluated on its first touch of a web API (web-apis.js): a script
// that replaced a built-in before changes only its own fetch. What goes out is
// bounded by the gate (fetch-gate.js), loaded with the prelude before any
// script runs; and the accessors the prelude needs (a body's bytes, a response
// made from the daemon's answer) are module-private, set in static blocks,
// never methods a script can call.
import { AbortController, AbortSignal, bytesOf, DOMException, TextDecoder, TextEncoder } from './web.js';

const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const StringCtor = String;
const PromiseCtor = Promise;
const PromiseResolve = Promise.resolve.bind(Promise);
const PromiseReject = Promise.reject.bind(Promise);
const TypeErrorCtor = TypeError;
const RangeErrorCtor = RangeError;
const Uint8ArrayCtor = Uint8Array;
const ArrayBufferIsView = ArrayBuffer.isView;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REDIRECT_MODES = ['follow', 'error', 'manual'];

/** A Request's or Response's bytes, for the prelude only (set in Body's static block). */
let bodyBytes;
/** A Response made from the daemon's answer, for the prelude only (set in Response's static block). */
let fetchedResponse;

export class Headers {
  #map = new Map();
  constructor(init) {
    if (init === undefined || init === null) return;
    if (init instanceof Headers) for (const [name, value] of init) this.append(name, value);
    else if (typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        const [name, value, ...rest] = pair;
        if (rest.length > 0 || value === undefined) throw new TypeErrorCtor('Headers pairs must have exactly two items');
        this.append(name, value);
      }
    } else for (const name of Object.keys(init)) this.append(name, init[name]);
  }
  #name(name) {
    const lower = StringCtor(name).toLowerCase();
    if (!TOKEN.test(lower)) throw new TypeErrorCtor(`'${name}' is not a valid header name`);
    return lower;
  }
  append(name, value) {
    const key = this.#name(name);
    const text = StringCtor(value).trim();
    const list = this.#map.get(key);
    if (list) list.push(text);
    else this.#map.set(key, [text]);
  }
  set(name, value) {
    this.#map.set(this.#name(name), [StringCtor(value).trim()]);
  }
  get(name) {
    const list = this.#map.get(this.#name(name));
    return list === undefined ? null : list.join(', ');
  }
  getSetCookie() {
    return [...(this.#map.get('set-cookie') ?? [])];
  }
  has(name) {
    return this.#map.has(this.#name(name));
  }
  delete(name) {
    this.#map.delete(this.#name(name));
  }
  forEach(callback, thisArg) {
    for (const [name, value] of this) callback.call(thisArg, value, name, this);
  }
  *entries() {
    for (const name of [...this.#map.keys()].sort()) {
      if (name === 'set-cookie') for (const value of this.#map.get(name)) yield [name, value];
      else yield [name, this.#map.get(name).join(', ')];
    }
  }
  *keys() {
    for (const [name] of this.entries()) yield name;
  }
  *values() {
    for (const [, value] of this.entries()) yield value;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
}

/** A body init as bytes, and the content type it implies. */
function extractBody(init) {
  if (init === undefined || init === null) return [null, null];
  if (typeof init === 'string') return [encoder.encode(init), 'text/plain;charset=UTF-8'];
  if (init instanceof ArrayBuffer || ArrayBufferIsView(init)) return [new Uint8ArrayCtor(bytesOf(init)), null];
  if (typeof globalThis.URLSearchParams === 'function' && init instanceof globalThis.URLSearchParams) {
    return [encoder.encode(StringCtor(init)), 'application/x-www-form-urlencoded;charset=UTF-8'];
  }
  return [encoder.encode(StringCtor(init)), 'text/plain;charset=UTF-8'];
}

class Body {
  #bytes;
  #used = false;
  constructor(bytes) {
    this.#bytes = bytes;
  }
  get body() {
    // Streams are not offered; read bodies with text(), json(), arrayBuffer() or bytes().
    return null;
  }
  get bodyUsed() {
    return this.#used;
  }
  #consume() {
    if (this.#used) return PromiseReject(new TypeErrorCtor('Body has already been used'));
    this.#used = true;
    return PromiseResolve(this.#bytes ?? new Uint8ArrayCtor(0));
  }
  static {
    bodyBytes = (body) => body.#bytes;
  }
  bytes() {
    return this.#consume().then((bytes) => new Uint8ArrayCtor(bytes));
  }
  arrayBuffer() {
    return this.#consume().then((bytes) => new Uint8ArrayCtor(bytes).buffer);
  }
  text() {
    return this.#consume().then((bytes) => decoder.decode(bytes));
  }
  json() {
    return this.text().then((text) => JSONParse(text));
  }
}

export class Request extends Body {
  #url;
  #method;
  #headers;
  #signal;
  #redirect;
  constructor(input, init = {}) {
    const source = input instanceof Request ? input : null;
    const url = new globalThis.URL(source ? source.url : StringCtor(input));
    if (url.username || url.password) throw new TypeErrorCtor('Request cannot be constructed from a URL that includes credentials');
    const method = init.method === undefined ? (source?.method ?? 'GET') : StringCtor(init.method);
    if (!TOKEN.test(method)) throw new TypeErrorCtor(`'${method}' is not a valid HTTP method`);
    const upper = method.toUpperCase();
    const normalized = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'].includes(upper) ? upper : method;
    const [bytes, type] = init.body !== undefined ? extractBody(init.body) : [source ? bodyBytes(source) : null, null];
    if (bytes !== null && (normalized === 'GET' || normalized === 'HEAD'))
      throw new TypeErrorCtor('Request with GET/HEAD method cannot have body');
    super(bytes);
    this.#url = url.href;
    this.#method = normalized;
    this.#headers = new Headers(init.headers ?? source?.headers);
    if (type !== null && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
    this.#signal = init.signal ?? source?.signal ?? new AbortController().signal;
    if (!(this.#signal instanceof AbortSignal)) throw new TypeErrorCtor('signal must be an AbortSignal');
    this.#redirect = init.redirect ?? source?.redirect ?? 'follow';
    if (!REDIRECT_MODES.includes(this.#redirect)) throw new TypeErrorCtor(`redirect must be one of ${REDIRECT_MODES.join(', ')}`);
  }
  get url() {
    return this.#url;
  }
  get method() {
    return this.#method;
  }
  get headers() {
    return this.#headers;
  }
  get signal() {
    return this.#signal;
  }
  get redirect() {
    return this.#redirect;
  }
  clone() {
    return new Request(this, { body: bodyBytes(this) ?? undefined });
  }
}

export class Response extends Body {
  #status;
  #statusText;
  #headers;
  #url = '';
  #redirected = false;
  #type = 'default';
  constructor(body = null, init = {}) {
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599)
      throw new RangeErrorCtor(`status ${init.status} is not in the range 200 to 599`);
    const [bytes, type] = extractBody(body);
    super(bytes);
    this.#status = status;
    this.#statusText = init.statusText === undefined ? '' : StringCtor(init.statusText);
    this.#headers = new Headers(init.headers);
    if (type !== null && !this.#headers.has('content-type')) this.#headers.set('content-type', type);
  }
  static json(data, init = {}) {
    const headers = new Headers(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new Response(JSONStringify(data), { ...init, headers });
  }
  static error() {
    const response = new Response(null, { status: 200 });
    response.#status = 0;
    response.#type = 'error';
    return response;
  }
  static redirect(url, status = 302) {
    if (![301, 302, 303, 307, 308].includes(status)) throw new RangeErrorCtor(`${status} is not a redirect status`);
    return new Response(null, { status, headers: { location: new globalThis.URL(url).href } });
  }
  static {
    fetchedResponse = (wire) => {
      const response = new Response(wire.body.length === 0 ? null : wire.body, {
        status: 200,
        statusText: wire.statusText,
        headers: wire.headers,
      });
      response.#status = wire.status;
      response.#url = wire.url;
      response.#redirected = wire.redirected;
      response.#type = 'basic';
      return response;
    };
  }
  get status() {
    return this.#status;
  }
  get ok() {
    return this.#status >= 200 && this.#status <= 299;
  }
  get statusText() {
    return this.#statusText;
  }
  get headers() {
    return this.#headers;
  }
  get url() {
    return this.#url;
  }
  get redirected() {
    return this.#redirected;
  }
  get type() {
    return this.#type;
  }
  clone() {
    if (this.bodyUsed) throw new TypeErrorCtor('Response body has already been used');
    const copy = fetchedResponse({
      status: this.#status,
      statusText: this.#statusText,
      headers: this.#headers,
      url: this.#url,
      redirected: this.#redirected,
      body: bodyBytes(this) ?? new Uint8ArrayCtor(0),
    });
    copy.#type = this.#type;
    return copy;
  }
}

/**
 * fetch for one execution. `gate.send` hands a request to the daemon, within
 * FETCH_MAX_REQUESTS, FETCH_MAX_BYTES and the gate's bounds (fetch-gate.js);
 * `settle` is how the answer comes back in.
 */
export function makeFetch(gate) {
  const pending = new Map();
  function fetch(input, init) {
    return new PromiseCtor((resolve, reject) => {
      const request = new Request(input, init);
      const signal = request.signal;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const id = gate.send(request.method, request.url, JSONStringify([...request.headers]), bodyBytes(request), request.redirect);
      const onAbort = () => {
        if (!pending.delete(id)) return;
        gate.abort(id);
        reject(signal.reason ?? new DOMException('This operation was aborted', 'AbortError'));
      };
      pending.set(id, { resolve, reject, signal, onAbort });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
  function settle(id, wire, message) {
    const entry = pending.get(id);
    if (entry === undefined) return;
    pending.delete(id);
    entry.signal.removeEventListener('abort', entry.onAbort);
    if (message !== undefined) entry.reject(new TypeErrorCtor(message));
    else entry.resolve(fetchedResponse(wire));
  }
  return { fetch, settle };
}
