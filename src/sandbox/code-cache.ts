// The V8 code caches of the prelude and of the library realm's script,
// written by the daemon at start-up (and by `javascriptd prepare` into an
// image) unless they are there already, so that sandbox processes only read them.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import ivm from 'isolated-vm';
import type { PreludeSource, ScriptSource } from '../shared/prelude-source.js';
import { writeToCache } from './module-bundler.js';

/** Compiles each script once to write its code cache; throws ConfigError if a cache cannot be written. */
export async function prepareCodeCache(prelude: PreludeSource): Promise<void> {
  await writeCodeCache(prelude, 'javascriptd:prelude');
  if (prelude.library !== undefined) await writeCodeCache(prelude.library, 'javascriptd:library');
}

async function writeCodeCache(script: ScriptSource, filename: string): Promise<void> {
  if (existsSync(script.cacheFile)) return;
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  try {
    const compiled = (await isolate.compileScript(script.source, { filename, produceCachedData: true })) as ivm.Script &
      ivm.CachedDataResult;
    if (compiled.cachedData !== undefined)
      writeToCache(dirname(script.cacheFile), script.cacheFile, new Uint8Array(compiled.cachedData.copy()));
  } finally {
    isolate.dispose();
  }
}
