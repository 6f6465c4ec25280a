// Unit tests of the bounds a TypeScript or module source is held to before
// esbuild sees it (src/runtime/source-bounds.ts): the bracket-depth scan skips
// what is not code (strings, template text, comments, regexes) and counts what
// is. They start nothing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstTooDeep, outOfBounds } from '../src/runtime/source-bounds.js';

/** The deepest nesting the scan counts in `code`. */
function depth(code: string): number {
  let limit = 0;
  while (firstTooDeep(code, limit) !== -1) limit++;
  return limit;
}

describe('unit: source bounds', () => {
  it('counts (), [], {} and where the first one too deep opens', () => {
    assert.equal(depth('1 + 2'), 0);
    assert.equal(depth('f(a[{ b: (1) }])'), 4);
    assert.equal(depth('(1)(2)[3]{4}'), 1);
    assert.equal(firstTooDeep('x = ((( 1 )))', 2), 6);
    assert.equal(firstTooDeep(`${'('.repeat(1_000_000)}1${')'.repeat(1_000_000)}`, 1000), 1000);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    assert.equal(depth(`f("((((", '[[[[', "\\"((((", '\\'{{{{')`), 1);
    assert.equal(depth('"))))))"; ((1))'), 2, 'closers in a string do not lower the count');
  });

  it('skips template text and counts each ${ } as a level, nested templates included', () => {
    assert.equal(depth('`(((( [[[[ {{{{ \\${ ((`'), 0);
    assert.equal(depth('`a ${ (b) } c ((((`'), 2);
    assert.equal(depth('`${ `${ `${ x }` }` }`'), 3);
    assert.equal(depth('`${ { a: `}}}}` } }` + ((1))'), 2, 'a `}` in a nested template does not close anything');
    assert.equal(depth('tag`((((`((1))'), 2);
  });

  it('skips line and block comments; an unterminated block comment runs to the end', () => {
    assert.equal(depth('// ((((((\n(1) /* [[[[[[ */ [2]'), 1);
    assert.equal(depth('(1) /* ((((((('), 1);
    assert.equal(depth('/** ({[ */ /* */ ((1))'), 2);
  });

  it('skips regex literals, classes and escapes included, and counts the brackets of a division', () => {
    assert.equal(depth('x = /((((/.test(y)'), 1);
    assert.equal(depth('f(/[(((]/, /\\(\\(\\(/g)'), 1);
    assert.equal(depth('re = /[/(((]/ ; ((1))'), 2, 'a slash inside a class does not end the regex');
    assert.equal(depth('return /((((/'), 0);
    assert.equal(depth('export default /((((/;'), 0);
    assert.equal(depth('if (x) {} /(((((/.exec(y)'), 1, 'after a block, a regex');
    assert.equal(depth('a / (b) / ((c))'), 2, 'after a name, a division');
    assert.equal(depth('(a) / ((b)) / c'), 2, 'after a closing paren, a division');
    assert.equal(depth('x = 4 / 2 / ((1))'), 2, 'after a number, a division');
  });

  it('ends an unterminated string or regex at its line, as esbuild refuses it there', () => {
    assert.equal(depth('"((((\n((1))'), 2);
    assert.equal(depth('x = /((((\n((1))'), 2);
  });

  it("lets real code through: lodash, esbuild's API, CodeMirror, a 1 MB browser bundle and Node's type declarations nest under 30 levels", () => {
    const root = join(__dirname, '..', '..', 'node_modules');
    const files = [
      'lodash/lodash.js',
      'esbuild/lib/main.js',
      '@codemirror/view/dist/index.js',
      'puppeteer-core/lib/es5-iife/puppeteer-core-browser.js',
      '@types/node/fs.d.ts',
    ];
    for (const file of files) {
      const code = readFileSync(join(root, file), 'utf8');
      const deepest = depth(code);
      assert.ok(deepest > 3 && deepest < 30, `${file}: ${deepest} levels`);
    }
  });

  it('names the bound and where it was hit: the line and column, or the file for the size', () => {
    const limits = { maxBytes: 100, maxDepth: 3 };
    assert.equal(outOfBounds('(((1)))', 7, 'module.ts', limits), undefined);
    assert.deepEqual(outOfBounds('let a;\nlet b = [[{ c: (1) }]];', 25, 'script.ts', limits), {
      name: 'RangeError',
      message: 'nested deeper than 3 levels (MAX_SOURCE_DEPTH) [script.ts:2:16]',
      stack: 'RangeError: nested deeper than 3 levels (MAX_SOURCE_DEPTH) [script.ts:2:16]',
    });
    assert.equal(
      outOfBounds('1', 101, 'module.js', limits)?.message,
      'source of 101 bytes is larger than MAX_SOURCE_BYTES (100) [module.js]',
    );
  });
});
