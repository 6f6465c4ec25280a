// Unit tests of the depth bound every frame is parsed under (src/protocol/bounded-json.ts). They start nothing.
import assert from 'node:assert/strict';
import { parseBoundedJson } from '../src/protocol/bounded-json.js';

const nested = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('unit: parseBoundedJson', () => {
  it('parses JSON up to the depth bound exactly as JSON.parse does', () => {
    for (const text of ['1', '"x"', 'null', '{"a":[1,{"b":[]}],"c":"}"}', nested(8)]) {
      const parsed = parseBoundedJson(text, 8);
      assert.ok(parsed.ok);
      assert.deepEqual(parsed.value, JSON.parse(text));
    }
  });

  it('marks where each element of a top-level array lies in the text, and nothing for any other value', () => {
    const text = ' [ 1 ,"a,]\\\\\\"",{"b":[2,3]},[[]] ] ';
    const parsed = parseBoundedJson(text, 8);
    assert.ok(parsed.ok);
    const separators = parsed.separators ?? [];
    assert.deepEqual(
      separators.slice(1).map((end, i) => text.slice(separators[i] + 1, end)),
      [' 1 ', '"a,]\\\\\\""', '{"b":[2,3]}', '[[]] '],
    );
    assert.deepEqual(parseBoundedJson('[ ]', 8), { ok: true, value: [], separators: [0] });
    assert.deepEqual(parseBoundedJson('{"a":[1,2]}', 8), { ok: true, value: { a: [1, 2] } });
  });

  it('refuses one level past the bound, naming MAX_DEPTH', () => {
    const parsed = parseBoundedJson(nested(9), 8);
    assert.equal(parsed.ok, false);
    assert.equal(!parsed.ok && parsed.reason, 'nested deeper than 8 levels (MAX_DEPTH)');
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ code: '[[[[[[[[[[{{{{{{{{"\\"]]]', n: [[1]] });
    assert.deepEqual(parseBoundedJson(text, 3), { ok: true, value: JSON.parse(text) });
  });

  it('keeps an outline of a frame that is only too deep, enough to address a reply', () => {
    const text = `{"type":"req","id":7,"payload":{"globals":{"a":${nested(5000)}}},"ext":${nested(5000)}}`;
    const parsed = parseBoundedJson(text, 4);
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.outline, { type: 'req', id: 7, payload: { globals: { a: [null] } }, ext: [[[null]]] });
  });

  it('never hands a too-deep text to JSON.parse (which takes superlinear time on it), only its outline', () => {
    const text = nested(1_000_000);
    const parse = JSON.parse;
    const parsedLengths: number[] = [];
    JSON.parse = (source: string) => {
      parsedLengths.push(source.length);
      return parse(source);
    };
    try {
      const parsed = parseBoundedJson(text, 128);
      assert.ok(!parsed.ok && parsed.outline !== undefined);
    } finally {
      JSON.parse = parse;
    }
    assert.deepEqual(parsedLengths, [128 * 2 + 'null'.length]);
  });

  it("reports malformed JSON with the parser's message, and gives no outline", () => {
    const parsed = parseBoundedJson('{"a":', 8);
    assert.ok(!parsed.ok);
    assert.match(parsed.reason, /JSON/);
    assert.equal(parsed.outline, undefined);
    const deepAndBroken = parseBoundedJson(`{"a":${nested(20)}`, 8);
    assert.ok(!deepAndBroken.ok);
    assert.equal(deepAndBroken.reason, 'nested deeper than 8 levels (MAX_DEPTH)');
    assert.equal(deepAndBroken.outline, undefined);
  });
});
