// Unit tests of the compiled-script cache (src/executor/script-cache.ts) with a
// stand-in for the isolate, which records compiles and releases. They start
// nothing: no daemon, no isolate.
import assert from 'node:assert/strict';
import type ivm from 'isolated-vm';
import { ScriptCache } from '../src/executor/script-cache.js';

interface FakeScript {
  code: string;
  released: boolean;
  release(): void;
}

function fakeIsolate(): { isolate: ivm.Isolate; compiled: FakeScript[] } {
  const compiled: FakeScript[] = [];
  const compile = (code: string): FakeScript => {
    const script = { code, released: false, release: () => (script.released = true) };
    compiled.push(script);
    return script;
  };
  const isolate = { compileScript: async (code: string) => compile(code) };
  return { isolate: isolate as unknown as ivm.Isolate, compiled };
}

describe('unit: script cache', () => {
  it('keeps a compiled script by its hash', async () => {
    const { isolate, compiled } = fakeIsolate();
    const cache = new ScriptCache(isolate);
    assert.equal(cache.cached('h1'), undefined);
    const first = await cache.compile('1 + 1', 'h1');
    assert.equal(cache.cached('h1'), first);
    await cache.compile('2 + 2', 'h2');
    assert.equal(cache.cached('h2'), compiled[1] as unknown as ivm.Script);
    assert.deepEqual(
      compiled.map((s) => s.code),
      ['1 + 1', '2 + 2'],
    );
  });

  it('releases the least recently used script past 256 of them', async () => {
    const { isolate, compiled } = fakeIsolate();
    const cache = new ScriptCache(isolate);
    for (let i = 0; i <= 256; i++) await cache.compile(`${i}`, `h${i}`);
    assert.deepEqual(
      compiled.filter((s) => s.released).map((s) => s.code),
      ['0'],
    );
    assert.equal(cache.cached('h0'), undefined, 'the evicted script is no longer cached');
    assert.notEqual(cache.cached('h1'), undefined);
  });
});
