// Compiled scripts of one isolate, keyed by the SHA-256 of their source (made
// once by the daemon, see runtime/script.ts), so the same code sent again is
// not compiled again. Bounded by count and by source bytes; the least recently
// used go first. Scripts belong to their isolate: a replaced isolate starts
// with an empty cache.
import type ivm from 'isolated-vm';

const MAX_SCRIPTS = 256;
const MAX_SOURCE_BYTES = 32 * 1024 * 1024;

export class ScriptCache {
  private readonly scripts = new Map<string, { script: ivm.Script; bytes: number }>();
  private bytes = 0;

  constructor(private readonly isolate: ivm.Isolate) {}

  /** The compiled script of `code` (whose hash is `key`), compiled now if it is not cached; a syntax error throws. */
  get(code: string, key: string): ivm.Script {
    return this.cached(key) ?? this.remember(key, code, this.isolate.compileScriptSync(code, { filename: 'script.js' }));
  }

  /** The same, compiled on the isolate's thread: for an isolate that is busy. */
  async getAsync(code: string, key: string): Promise<ivm.Script> {
    return this.cached(key) ?? this.remember(key, code, await this.isolate.compileScript(code, { filename: 'script.js' }));
  }

  private cached(key: string): ivm.Script | undefined {
    const cached = this.scripts.get(key);
    if (cached === undefined) return undefined;
    // Re-inserting keeps the Map in least-recently-used order.
    this.scripts.delete(key);
    this.scripts.set(key, cached);
    return cached.script;
  }

  private remember(key: string, code: string, script: ivm.Script): ivm.Script {
    const bytes = Buffer.byteLength(code);
    this.scripts.set(key, { script, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.scripts) {
      if (oldest === key || (this.scripts.size <= MAX_SCRIPTS && this.bytes <= MAX_SOURCE_BYTES)) break;
      this.scripts.delete(oldest);
      this.bytes -= entry.bytes;
      entry.script.release();
    }
    return script;
  }
}
