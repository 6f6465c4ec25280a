// JSON.parse with a bound on nesting depth, checked on the text before any
// value is built. JSON.parse itself copes with any depth, but it takes
// superlinear time on deep input, and whatever handles the value next
// (JSON.stringify of a reply, V8 serialization to a sandbox) recurses and
// would overflow the stack.

export type ParsedJson =
  | { ok: true; value: unknown }
  /**
   * `outline`, for a frame that is only too deep: the frame with everything
   * nested deeper than the bound replaced by null, enough to address a reply.
   */
  | { ok: false; reason: string; outline?: unknown };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

export function parseBoundedJson(text: string, maxDepth: number): ParsedJson {
  // Each level needs an opening bracket: shorter texts cannot be too deep.
  const deep = text.length > maxDepth ? deepRanges(text, maxDepth) : [];
  if (deep.length === 0) return parse(text);
  const reason = `nested deeper than ${maxDepth} levels (MAX_DEPTH)`;
  const outline = parse(withNull(text, deep));
  return outline.ok ? { ok: false, reason, outline: outline.value } : { ok: false, reason };
}

function parse(text: string): ParsedJson {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : 'unparsable' };
  }
}

/** The [start, end) ranges of the values that open at depth maxDepth + 1. */
function deepRanges(text: string, maxDepth: number): [number, number][] {
  const ranges: [number, number][] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < text.length && text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth === maxDepth + 1) start = i;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth-- === maxDepth + 1) ranges.push([start, i + 1]);
    }
  }
  if (depth > maxDepth) ranges.push([start, text.length]);
  return ranges;
}

function withNull(text: string, ranges: readonly [number, number][]): string {
  const parts: string[] = [];
  let from = 0;
  for (const [start, end] of ranges) {
    parts.push(text.slice(from, start), 'null');
    from = end;
  }
  parts.push(text.slice(from));
  return parts.join('');
}
