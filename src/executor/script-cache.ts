// Compiled scripts of one isolate, keyed by the SHA-256 of their source (made
// once by the daemon, see runtime/script.ts), so the same code sent again is
// not compiled again. Bounded by count and by source bytes; the least recently
// used go first. Scripts belong to their isolate: a replaced isolate starts
// with an empty cache.
import type ivm from 'isolated-vm';
import { Lru } from '../shared/lru.js';

const MAX_SCRIPTS = 256;
const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

export class ScriptCache {
  private readonly scripts = new Lru<ivm.Script>(MAX_SCRIPTS, MAX_SOURCE_BYTES, (script) => script.release());

  constructor(private readonly isolate: ivm.Isolate) {}

  /** The compiled script whose source's hash is `key`, if it is cached. */
  cached(key: string): ivm.Script | undefined {
    return this.scripts.get(key);
  }

  /** Compiles `code` (whose hash is `key`) on the isolate's thread, and caches it; a syntax error rejects. */
  async compile(code: string, key: string): Promise<ivm.Script> {
    return this.scripts.set(key, await this.isolate.compileScript(code, { filename: 'script.js' }), Buffer.byteLength(code));
  }
}
