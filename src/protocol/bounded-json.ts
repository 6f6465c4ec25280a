// JSON.parse with a bound on nesting depth, checked on the text before any
// value is built. JSON.parse itself copes with any depth, but it takes
// superlinear time on deep input, and whatever handles the value next
// (JSON.stringify of a reply, V8 serialization to a sandbox) recurses and
// would overflow the stack. The same scan marks where each element of a
// top-level array lies in the text, so that a JSON-RPC batch's members can be
// counted at their own size.

/** [start, end) indexes into a text. */
export type Span = [number, number];

export type ParsedJson =
  /**
   * `separators`, for a top-level array: the indexes of its opening bracket,
   * its commas and its closing bracket, so element i lies between separators
   * i and i + 1 (whitespace around it included).
   */
  | { ok: true; value: unknown; separators?: number[] }
  /**
   * `outline`, for a frame that is only too deep: the frame with everything
   * nested deeper than the bound replaced by null, enough to address a reply.
   */
  | { ok: false; reason: string; outline?: unknown };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

export function parseBoundedJson(text: string, maxDepth: number): ParsedJson {
  const array = text.charCodeAt(firstNonSpace(text)) === OPEN_BRACKET;
  // Each level needs an opening bracket: shorter texts cannot be too deep.
  const { deep, separators } = array || text.length > maxDepth ? scan(text, maxDepth, array) : { deep: [], separators: undefined };
  if (deep.length === 0) {
    const parsed = parse(text);
    return parsed.ok && separators !== undefined ? { ...parsed, separators } : parsed;
  }
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

/**
 * One pass over the text: the spans of the values that open at depth
 * maxDepth + 1, and (`array`: the text is one) the separators of the top-level
 * array's elements (a flat list: a batch may have millions).
 */
function scan(text: string, maxDepth: number, array: boolean): { deep: Span[]; separators: number[] | undefined } {
  const deep: Span[] = [];
  const separators: number[] | undefined = array ? [] : undefined;
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < text.length && text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth === maxDepth + 1) start = i;
      if (depth === 1) separators?.push(i);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      // The closing bracket ends the last element, or (nothing but whitespace since the opening one) an empty array.
      if (depth === 1 && separators !== undefined && (separators.length > 1 || firstNonSpace(text, separators[0] + 1) < i))
        separators.push(i);
      if (depth-- === maxDepth + 1) deep.push([start, i + 1]);
    } else if (c === COMMA && depth === 1) {
      separators?.push(i);
    }
  }
  if (depth > maxDepth) deep.push([start, text.length]);
  return { deep, separators };
}

/** The index of the first character from `from` on that is not JSON whitespace (text.length if none). */
function firstNonSpace(text: string, from = 0): number {
  let i = from;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
  }
  return i;
}

function withNull(text: string, ranges: readonly Span[]): string {
  const parts: string[] = [];
  let from = 0;
  for (const [start, end] of ranges) {
    parts.push(text.slice(from, start), 'null');
    from = end;
  }
  parts.push(text.slice(from));
  return parts.join('');
}
