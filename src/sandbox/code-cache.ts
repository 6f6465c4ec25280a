// The prelude's V8 code cache, written by the daemon at start-up (and by
// `javascriptd prepare` into an image) unless it is there already, so that
// sandbox processes only read it.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import ivm from 'isolated-vm';
import type { PreludeSource } from '../shared/prelude-source.js';
import { writeToCache } from './module-bundler.js';

/** Compiles the prelude once to write its code cache; throws ConfigError if the cache cannot be written. */
export async function prepareCodeCache(prelude: PreludeSource): Promise<void> {
  if (existsSync(prelude.cacheFile)) return;
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  try {
    const script = (await isolate.compileScript(prelude.source, {
      filename: 'javascriptd:prelude',
      produceCachedData: true,
    })) as ivm.Script & ivm.CachedDataResult;
    if (script.cachedData !== undefined)
      writeToCache(dirname(prelude.cacheFile), prelude.cacheFile, new Uint8Array(script.cachedData.copy()));
  } finally {
    isolate.dispose();
  }
}
