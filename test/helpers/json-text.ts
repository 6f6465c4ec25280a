// JSON built and read as text: deep nesting (JSON.stringify overflows its stack
// long before 5,000 levels, while JSON.parse and the daemon's frames must not),
// and a scanner that says how deep a frame is and where its top-level keys are.

/** `depth` nested arrays around `inner`: `[[[inner]]]`. */
export function nestedArrays(depth: number, inner = ''): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth);
}

/** `depth` nested objects around `inner`: `{"a":{"a":inner}}`; `inner` must be a JSON value. */
export function nestedObjects(depth: number, inner = '1', key = 'a'): string {
  return `{"${key}":`.repeat(depth) + inner + '}'.repeat(depth);
}

/** Arrays and objects alternating, `depth` levels in all, around the JSON value `inner`. */
export function nestedMixed(depth: number, inner = '0'): string {
  let open = '';
  let close = '';
  for (let level = 0; level < depth; level++) {
    if (level % 2 === 0) {
      open += '[';
      close = `]${close}`;
    } else {
      open += '{"k":';
      close = `}${close}`;
    }
  }
  return open + inner + close;
}

export interface JsonShape {
  /** The deepest nesting of arrays and objects (a top-level scalar is 0, `{}` is 1). */
  depth: number;
  /** Index of the first character at which nesting passes `limit`, if it does. */
  overLimitAt: number | undefined;
  /** Top-level object members by decoded name: index where each one's value starts (the last one of a duplicated name). */
  topLevelKeys: Map<string, number>;
}

/** Scans JSON text (well-formed or not) without parsing it into values. */
export function scanJson(text: string, limit = Infinity): JsonShape {
  let depth = 0;
  let deepest = 0;
  let overLimitAt: number | undefined;
  const topLevelKeys = new Map<string, number>();
  let topIsObject = false;
  let expectKey = false;
  let pendingKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && topIsObject && expectKey) {
        pendingKey = decodeString(text.slice(start, i + 1));
        expectKey = false;
      }
    } else if (c === '[' || c === '{') {
      if (depth === 0) topIsObject = c === '{';
      depth++;
      if (depth === 1) expectKey = topIsObject;
      if (depth > deepest) deepest = depth;
      if (depth > limit && overLimitAt === undefined) overLimitAt = i;
    } else if (c === ']' || c === '}') {
      depth--;
    } else if (depth === 1 && topIsObject) {
      if (c === ',') expectKey = true;
      else if (c === ':' && pendingKey !== undefined) {
        topLevelKeys.set(pendingKey, i + 1);
        pendingKey = undefined;
      }
    }
  }
  return { depth: deepest, overLimitAt, topLevelKeys };
}

function decodeString(token: string): string | undefined {
  try {
    return JSON.parse(token) as string;
  } catch {
    return undefined;
  }
}
