// Web-platform APIs for scripts: encoders, events and aborts, crypto. Part of
// the web-apis group (web-apis.js), evaluated on a script's first touch of one
// of them. Randomness and digests come from the host (`hostSync`), which gets
// and returns bytes only.
// Rule: these are the script's own objects in its own fresh context, so they
// may use its built-ins (a script that replaces String changes only its own
// TextEncoder); what reaches `hostSync` is bytes and names the host checks, and
// the promises handed back are made with intrinsics captured at load. Internal
// accessors are module-private, set in static blocks.
import { Event, EventTarget, getEventAttributeValue, setEventAttributeValue } from 'event-target-shim';

export { Event, EventTarget };

const ReflectDefineProperty = Reflect.defineProperty;
const Uint8ArrayCtor = Uint8Array;
const ArrayBufferIsView = ArrayBuffer.isView;
const StringFromCharCode = String.fromCharCode;
const MathMin = Math.min;
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const RangeErrorCtor = RangeError;
const PromiseResolve = Promise.resolve.bind(Promise);
const PromiseReject = Promise.reject.bind(Promise);

const DOM_CODES = { AbortError: 20, TimeoutError: 23, QuotaExceededError: 22, NotSupportedError: 9 };

export class DOMException extends ErrorCtor {
  constructor(message = '', name = 'Error') {
    super(message);
    ReflectDefineProperty(this, 'name', { value: String(name), writable: true, configurable: true });
  }
  get code() {
    return DOM_CODES[this.name] ?? 0;
  }
}

/** Bytes of a BufferSource, as a view on the same memory. */
export function bytesOf(source) {
  if (source instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && source instanceof SharedArrayBuffer))
    return new Uint8ArrayCtor(source);
  if (ArrayBufferIsView(source)) return new Uint8ArrayCtor(source.buffer, source.byteOffset, source.byteLength);
  throw new TypeErrorCtor('expected an ArrayBuffer or a view of one');
}

export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }
  encode(input = '') {
    const text = String(input);
    const out = new Uint8ArrayCtor(text.length * 3);
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out[n++] = c;
      else if (c < 0x800) {
        out[n++] = 0xc0 | (c >> 6);
        out[n++] = 0x80 | (c & 63);
      } else if (c < 0x10000) {
        out[n++] = 0xe0 | (c >> 12);
        out[n++] = 0x80 | ((c >> 6) & 63);
        out[n++] = 0x80 | (c & 63);
      } else {
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 63);
        out[n++] = 0x80 | ((c >> 6) & 63);
        out[n++] = 0x80 | (c & 63);
      }
    }
    return out.slice(0, n);
  }
  encodeInto(input, destination) {
    const bytes = this.encode(input);
    const written = MathMin(bytes.length, destination.length);
    destination.set(bytes.subarray(0, written));
    return { read: String(input).length, written };
  }
}

export class TextDecoder {
  #fatal;
  #ignoreBOM;
  constructor(label = 'utf-8', options = {}) {
    if (!['utf-8', 'utf8', 'unicode-1-1-utf-8'].includes(String(label).trim().toLowerCase())) {
      throw new RangeErrorCtor(`The "${label}" encoding is not supported; only utf-8 is`);
    }
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
  }
  get encoding() {
    return 'utf-8';
  }
  get fatal() {
    return this.#fatal;
  }
  get ignoreBOM() {
    return this.#ignoreBOM;
  }
  decode(input) {
    if (input === undefined) return '';
    const bytes = bytesOf(input);
    let i = !this.#ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    let out = '';
    const invalid = () => {
      if (this.#fatal) throw new TypeErrorCtor('The encoded data was not valid utf-8');
      return 0xfffd;
    };
    while (i < bytes.length) {
      const b = bytes[i];
      const need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
      let c = need === 0 ? b : need === 1 ? b & 31 : need === 2 ? b & 15 : b & 7;
      let ok = need >= 0 && i + need < bytes.length;
      for (let k = 1; ok && k <= need; k++) {
        const next = bytes[i + k];
        if ((next & 0xc0) !== 0x80) ok = false;
        else c = (c << 6) | (next & 63);
      }
      if (ok && ((need === 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (need === 3 && (c < 0x10000 || c > 0x10ffff)))) ok = false;
      if (!ok) {
        c = invalid();
        i++;
      } else i += need + 1;
      if (c > 0xffff) {
        c -= 0x10000;
        out += StringFromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 1023));
      } else out += StringFromCharCode(c);
    }
    return out;
  }
}

let abortSignal;

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  static abort(reason) {
    const controller = new AbortController();
    controller.abort(reason);
    return controller.signal;
  }
  static timeout(ms) {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new DOMException('The operation timed out.', 'TimeoutError')), ms);
    return controller.signal;
  }
  static any(signals) {
    const controller = new AbortController();
    for (const signal of signals) {
      if (signal.aborted) {
        controller.abort(signal.reason);
        break;
      }
      signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    }
    return controller.signal;
  }
  get aborted() {
    return this.#aborted;
  }
  get reason() {
    return this.#reason;
  }
  get onabort() {
    return getEventAttributeValue(this, 'abort');
  }
  set onabort(handler) {
    setEventAttributeValue(this, 'abort', handler);
  }
  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }
  static {
    abortSignal = (signal, reason) => {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
      signal.dispatchEvent(new Event('abort'));
    };
  }
}

export class AbortController {
  #signal = new AbortSignal();
  get signal() {
    return this.#signal;
  }
  abort(reason) {
    abortSignal(this.#signal, reason);
  }
}

const DIGESTS = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

export function makeCrypto(hostSync) {
  const getRandomValues = (array) => {
    if (!ArrayBufferIsView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
      throw new DOMException('getRandomValues needs an integer typed array', 'TypeMismatchError');
    }
    if (array.byteLength > 65536) throw new DOMException(`${array.byteLength} bytes asked, at most 65536 at a time`, 'QuotaExceededError');
    bytesOf(array).set(hostSync('random', array.byteLength));
    return array;
  };
  return {
    getRandomValues,
    randomUUID() {
      const b = getRandomValues(new Uint8ArrayCtor(16));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      let hex = '';
      for (let i = 0; i < 16; i++) hex += (b[i] + 0x100).toString(16).slice(1) + (i === 3 || i === 5 || i === 7 || i === 9 ? '-' : '');
      return hex;
    },
    subtle: {
      digest(algorithm, data) {
        const name = String(typeof algorithm === 'string' ? algorithm : algorithm?.name).toUpperCase();
        const hash = DIGESTS[name];
        if (hash === undefined) return PromiseReject(new DOMException(`digest algorithm ${name} is not supported`, 'NotSupportedError'));
        try {
          return PromiseResolve(hostSync('digest', hash, new Uint8ArrayCtor(bytesOf(data))).buffer);
        } catch (error) {
          return PromiseReject(error);
        }
      },
    },
  };
}
