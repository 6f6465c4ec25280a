// Unit tests of cutting client-chosen strings (src/text.ts). They start nothing.
import assert from 'node:assert/strict';
import { clip } from '../src/text.js';

describe('unit: text', () => {
  it('leaves a string up to the bound as it is', () => {
    assert.equal(clip(''), '');
    assert.equal(clip('x'.repeat(200)), 'x'.repeat(200));
    assert.equal(clip('abc', 3), 'abc');
  });

  it('cuts a longer one to the bound, saying how much was cut', () => {
    assert.equal(clip('x'.repeat(201)), `${'x'.repeat(200)}… [1 more characters]`);
    assert.equal(clip('abcdef', 2), 'ab… [4 more characters]');
  });
});
