// Unit tests of the bounded LRU map (src/shared/lru.ts) behind the script and
// source caches. They start nothing: no daemon, no isolate.
import assert from 'node:assert/strict';
import { Lru } from '../src/shared/lru.js';

/** An Lru that records what it evicts. */
function lru(maxEntries: number, maxBytes: number): { cache: Lru<string>; evicted: string[] } {
  const evicted: string[] = [];
  return { cache: new Lru<string>(maxEntries, maxBytes, (value) => evicted.push(value)), evicted };
}

describe('unit: lru', () => {
  it('returns what was set, and undefined for what was not', () => {
    const { cache } = lru(4, 100);
    assert.equal(cache.set('a', 'A', 1), 'A');
    assert.equal(cache.get('a'), 'A');
    assert.equal(cache.get('b'), undefined);
  });

  it('evicts the least recently used past the entry bound, a get counting as a use', () => {
    const { cache, evicted } = lru(2, 100);
    cache.set('a', 'A', 1);
    cache.set('b', 'B', 1);
    cache.get('a');
    cache.set('c', 'C', 1);
    assert.deepEqual(evicted, ['B']);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 'A');
    assert.equal(cache.get('c'), 'C');
  });

  it('evicts as many as the byte bound needs, oldest first', () => {
    const { cache, evicted } = lru(100, 10);
    cache.set('a', 'A', 4);
    cache.set('b', 'B', 4);
    cache.set('c', 'C', 2);
    assert.deepEqual(evicted, []);
    cache.set('d', 'D', 8);
    assert.deepEqual(evicted, ['A', 'B']);
    assert.equal(cache.get('c'), 'C');
  });

  it('always keeps the newest entry, even one larger than the whole bound', () => {
    const { cache, evicted } = lru(2, 10);
    cache.set('a', 'A', 1);
    cache.set('huge', 'H', 50);
    assert.deepEqual(evicted, ['A']);
    assert.equal(cache.get('huge'), 'H');
    cache.set('b', 'B', 1);
    assert.deepEqual(evicted, ['A', 'H']);
  });

  it('replacing a key counts its bytes once, without telling onEvict of the old value', () => {
    const { cache, evicted } = lru(10, 10);
    cache.set('a', 'A1', 6);
    cache.set('a', 'A2', 6);
    assert.deepEqual(evicted, []);
    assert.equal(cache.get('a'), 'A2');
    cache.set('b', 'B', 4);
    assert.deepEqual(evicted, [], 'a (6) and b (4) fit in 10 bytes: the replaced 6 are no longer counted');
  });
});
