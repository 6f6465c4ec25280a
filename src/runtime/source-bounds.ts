// The bounds a TypeScript or module source is held to before esbuild is handed
// it: its size (MAX_SOURCE_BYTES) and how deep its brackets nest
// (MAX_SOURCE_DEPTH). esbuild's parser recurses once per level, about 2 KB of
// stack each: a million nested parentheses grow its service process to 1 GB
// and kill it with every transform it has in hand, where V8 refuses the same as
// a classic script with a RangeError. A source over a bound is that RangeError,
// a 1000, naming the bound and where it was hit.
//
// The depth scan is linear and is not a parser. It counts (), [], {} and a
// template's ${ }, and skips comments, strings, template text and regular
// expressions, telling a regex from a division by the token before it (after
// `)` a division, after `}` a regex), as far as ordinary code needs. Where that
// guess is wrong it may count the brackets of a regex or a string (an
// over-count: a source refused that would have run) or miss some until the end
// of that line; and nesting without brackets (`a.b.b.b…`, `!!!!…x`, TypeScript's
// `A<A<…>>`) is not counted at all. What gets past it reaches the supervised
// service (esbuild-service.ts), where it costs only the transforms in hand.
import type { Thrown } from '../errors.js';

export interface SourceLimits {
  /** MAX_SOURCE_BYTES: UTF-8 bytes of source. */
  maxBytes: number;
  /** MAX_SOURCE_DEPTH: levels of bracket nesting. */
  maxDepth: number;
}

/** What a source over a bound throws, naming the bound and where it was hit; undefined within them. `bytes`: its UTF-8 size. */
export function outOfBounds(code: string, bytes: number, file: string, limits: SourceLimits): Thrown | undefined {
  if (bytes > limits.maxBytes) return rangeError(`source of ${bytes} bytes is larger than MAX_SOURCE_BYTES (${limits.maxBytes}) [${file}]`);
  const at = firstTooDeep(code, limits.maxDepth);
  if (at === -1) return undefined;
  const { line, column } = position(code, at);
  return rangeError(`nested deeper than ${limits.maxDepth} levels (MAX_SOURCE_DEPTH) [${file}:${line}:${column}]`);
}

function rangeError(message: string): Thrown {
  return { name: 'RangeError', message, stack: `RangeError: ${message}` };
}

enum Char {
  LineFeed = 10,
  CarriageReturn = 13,
  Space = 32,
  DoubleQuote = 34,
  Dollar = 36,
  SingleQuote = 39,
  OpenParen = 40,
  CloseParen = 41,
  Star = 42,
  Slash = 47,
  Digit0 = 48,
  Digit9 = 57,
  UpperA = 65,
  UpperZ = 90,
  OpenBracket = 91,
  Backslash = 92,
  CloseBracket = 93,
  Underscore = 95,
  Backtick = 96,
  LowerA = 97,
  LowerZ = 122,
  OpenBrace = 123,
  CloseBrace = 125,
}

/** Words after which a `/` starts a regex rather than divides. */
const BEFORE_EXPRESSION = new Set([
  'await',
  'case',
  'default',
  'delete',
  'do',
  'else',
  'in',
  'instanceof',
  'new',
  'of',
  'return',
  'throw',
  'typeof',
  'void',
  'yield',
]);

const LONGEST_KEYWORD = 'instanceof'.length;

/** What an open level is: a bracket, or a template's `${` (whose `}` goes back into the template's text). */
const BRACKET = 0;
const SUBSTITUTION = 1;

/** The offset of the first bracket nested deeper than `maxDepth` levels, or -1 if there is none. */
export function firstTooDeep(code: string, maxDepth: number): number {
  const open: number[] = [];
  const end = code.length;
  let regexAllowed = true;
  let i = 0;
  while (i < end) {
    const c = code.charCodeAt(i);
    if (c <= Char.Space) {
      i++;
    } else if (c === Char.OpenParen || c === Char.OpenBracket || c === Char.OpenBrace) {
      open.push(BRACKET);
      if (open.length > maxDepth) return i;
      regexAllowed = true;
      i++;
    } else if (c === Char.CloseParen || c === Char.CloseBracket) {
      open.pop();
      regexAllowed = false;
      i++;
    } else if (c === Char.Backtick || (c === Char.CloseBrace && open.at(-1) === SUBSTITUTION)) {
      // A template's text, from its backtick or from the `}` that ends one of its substitutions.
      if (c === Char.CloseBrace) open.pop();
      const next = templateText(code, i + 1);
      i = next.at;
      regexAllowed = next.substitution;
      if (next.substitution) {
        open.push(SUBSTITUTION);
        if (open.length > maxDepth) return i - 2;
      }
    } else if (c === Char.CloseBrace) {
      open.pop();
      regexAllowed = true;
      i++;
    } else if (c === Char.SingleQuote || c === Char.DoubleQuote) {
      i = stringEnd(code, i);
      regexAllowed = false;
    } else if (c === Char.Slash) {
      const next = code.charCodeAt(i + 1);
      if (next === Char.Slash) {
        i = lineEnd(code, i);
      } else if (next === Char.Star) {
        const close = code.indexOf('*/', i + 2);
        i = close === -1 ? end : close + 2;
      } else if (regexAllowed) {
        i = regexEnd(code, i);
        regexAllowed = false;
      } else {
        regexAllowed = true;
        i++;
      }
    } else if (isWordChar(c)) {
      const start = i;
      i++;
      while (i < end && isWordChar(code.charCodeAt(i))) i++;
      // Only a lowercase word of keyword length can be one (a cheap test: most words are not looked up).
      const length = i - start;
      regexAllowed =
        c >= Char.LowerA && c <= Char.LowerZ && length >= 2 && length <= LONGEST_KEYWORD && BEFORE_EXPRESSION.has(code.slice(start, i));
    } else {
      // An operator or other punctuation: an expression may follow.
      regexAllowed = true;
      i++;
    }
  }
  return -1;
}

/** Scans a template's text from `from` to its closing backtick or its next `${`: where the code resumes, and which it was. */
function templateText(code: string, from: number): { at: number; substitution: boolean } {
  let i = from;
  while (i < code.length) {
    const c = code.charCodeAt(i);
    if (c === Char.Backslash) i += 2;
    else if (c === Char.Backtick) return { at: i + 1, substitution: false };
    else if (c === Char.Dollar && code.charCodeAt(i + 1) === Char.OpenBrace) return { at: i + 2, substitution: true };
    else i++;
  }
  return { at: code.length, substitution: false };
}

/** The end of the string literal opening at `from`; one left open ends with its line, as esbuild refuses it there. */
function stringEnd(code: string, from: number): number {
  const quote = code.charCodeAt(from);
  let i = from + 1;
  while (i < code.length) {
    const c = code.charCodeAt(i);
    if (c === Char.Backslash) i += 2;
    else if (c === quote) return i + 1;
    else if (c === Char.LineFeed || c === Char.CarriageReturn) return i;
    else i++;
  }
  return code.length;
}

/** The end of the regex literal opening at `from` (its flags are read as a word); a `/` inside a class does not end it. */
function regexEnd(code: string, from: number): number {
  let inClass = false;
  let i = from + 1;
  while (i < code.length) {
    const c = code.charCodeAt(i);
    if (c === Char.Backslash) i += 2;
    else if (c === Char.LineFeed || c === Char.CarriageReturn) return i;
    else if (c === Char.Slash && !inClass) return i + 1;
    else {
      if (c === Char.OpenBracket) inClass = true;
      else if (c === Char.CloseBracket) inClass = false;
      i++;
    }
  }
  return code.length;
}

function lineEnd(code: string, from: number): number {
  const newline = code.indexOf('\n', from);
  return newline === -1 ? code.length : newline;
}

/** Identifier and number characters; anything past ASCII is taken for one (Unicode identifiers). */
function isWordChar(c: number): boolean {
  return (
    (c >= Char.LowerA && c <= Char.LowerZ) ||
    (c >= Char.UpperA && c <= Char.UpperZ) ||
    (c >= Char.Digit0 && c <= Char.Digit9) ||
    c === Char.Underscore ||
    c === Char.Dollar ||
    c > 127
  );
}

/** 1-based line and column (in UTF-16 code units) of `offset`. */
function position(code: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = code.indexOf('\n'); i !== -1 && i < offset; i = code.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
