// Console line formatting inside the isolate, close to Node's util.format.
// Runs after untrusted code, so it only uses intrinsics captured at load time.
import inspect from 'object-inspect';

const { isError } = Error;
const StringCtor = String;
const NumberCtor = Number;
const { parseInt: ParseInt, parseFloat: ParseFloat } = Number;
const JSONStringify = JSON.stringify;
const ReflectApply = Reflect.apply;
const StringPrototypeCharCodeAt = String.prototype.charCodeAt;
const StringPrototypeSlice = String.prototype.slice;

const INSPECT_OPTIONS = { depth: 3, indent: null };

function show(value) {
  if (typeof value === 'string') return value;
  if (isError(value)) {
    const stack = value.stack;
    if (typeof stack === 'string' && stack !== '') return stack;
  }
  return inspect(value, INSPECT_OPTIONS);
}

function specifier(code, arg) {
  switch (code) {
    case 115: // %s
      return typeof arg === 'bigint' ? `${arg}n` : typeof arg === 'object' && arg !== null ? inspect(arg, { depth: 1 }) : StringCtor(arg);
    case 100: // %d
      return typeof arg === 'bigint' ? `${arg}n` : typeof arg === 'object' ? 'NaN' : StringCtor(NumberCtor(arg));
    case 105: // %i
      return typeof arg === 'bigint' ? `${arg}n` : StringCtor(ParseInt(arg));
    case 102: // %f
      return StringCtor(ParseFloat(arg));
    case 106: // %j
      try {
        return StringCtor(JSONStringify(arg));
      } catch {
        return '[Circular]';
      }
    case 111: // %o
    case 79: // %O
      return inspect(arg, INSPECT_OPTIONS);
    case 99: // %c: CSS, ignored as in Node
      return '';
    default:
      return undefined;
  }
}

/** Formats console arguments into one line, as util.format does. */
export function format(args) {
  let out = '';
  let next = 0;
  const first = args[0];
  if (typeof first === 'string' && args.length > 1) {
    next = 1;
    let last = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (ReflectApply(StringPrototypeCharCodeAt, first, [i]) !== 37) continue; // '%'
      const code = ReflectApply(StringPrototypeCharCodeAt, first, [i + 1]);
      let piece;
      if (code === 37) piece = '%';
      else if (next < args.length) {
        piece = specifier(code, args[next]);
        if (piece !== undefined) next++;
      }
      if (piece === undefined) continue;
      out += ReflectApply(StringPrototypeSlice, first, [last, i]) + piece;
      last = i + 2;
      i++;
    }
    out += ReflectApply(StringPrototypeSlice, first, [last]);
  }
  for (let i = next; i < args.length; i++) {
    out += (i === 0 ? '' : ' ') + show(args[i]);
  }
  return out;
}
