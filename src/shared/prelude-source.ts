// The scripts an isolate runs before the script it executes, with the
// factories of the key's allowlisted modules (or of all its runtime image's,
// whose code cache was made for them):
// - the bundled prelude (dist/prelude.js, built by scripts/build-prelude.mjs),
//   run in every context;
// - with shared module instances (MODULE_INSTANCES=shared), the library
//   realm's script (dist/library.js), run once in a context of its own; the
//   factories are then its, and the prelude holds none.
// Each is compiled once per isolate, from a V8 code cache kept next to the
// module bundles.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundledModule } from './module-files.js';

const PRELUDE = join(__dirname, '..', '..', 'prelude.js');
const LIBRARY = join(__dirname, '..', '..', 'library.js');

export type ModuleInstances = 'shared' | 'per-execution';

export interface ScriptSource {
  /** Script source whose completion value is its entry function, bound to the module factories. */
  source: string;
  /** Where the V8 code cache of `source` lives. */
  cacheFile: string;
}

export interface PreludeSource extends ScriptSource {
  /**
   * The modules scripts may require: the prelude's own, or fewer (a key narrowing
   * its runtime image's, whose prelude and code cache hold them all).
   */
  allowed: readonly string[];
  /** With shared module instances: the library realm's script (`makeModules`), which holds the factories. */
  library: ScriptSource | undefined;
}

export function preludeSource(
  modules: readonly BundledModule[],
  cacheDir: string,
  instances: ModuleInstances,
  allowed = modules.map((m) => m.name),
): PreludeSource {
  const factories = modules.map(
    ({ name, file }) => `${JSON.stringify(name)}: function (module, exports, require) {\n${readFileSync(file, 'utf8')}\n}`,
  );
  const shared = instances === 'shared' && factories.length > 0;
  return {
    ...script('prelude', PRELUDE, 'javascriptdPrelude.setup', shared ? [] : factories, cacheDir),
    allowed,
    library: shared ? script('library', LIBRARY, 'javascriptdLibrary.makeModules', factories, cacheDir) : undefined,
  };
}

function script(name: string, bundle: string, entry: string, factories: string[], cacheDir: string): ScriptSource {
  // The bundle's "use strict" opens the function: the factories run in strict mode, in either script.
  const source = [
    '(() => {',
    readFileSync(bundle, 'utf8'),
    `const modules = { __proto__: null, ${factories.join(',\n')} };`,
    `return ${entry}.bind(undefined, modules);`,
    '})()',
  ].join('\n');
  const hash = createHash('sha256').update(source).update(process.version).digest('hex').slice(0, 16);
  return { source, cacheFile: join(cacheDir, `${name}-${hash}.v8cache`) };
}

/** Code caches read so far: every isolate a sandbox makes compiles from the same file (written whole at start-up, named by its source's hash). */
const readCaches = new Map<string, ArrayBuffer>();

export function readCodeCache(script: ScriptSource): ArrayBuffer | undefined {
  const read = readCaches.get(script.cacheFile);
  if (read !== undefined) return read;
  if (!existsSync(script.cacheFile)) return undefined;
  const bytes = new Uint8Array(readFileSync(script.cacheFile)).buffer;
  readCaches.set(script.cacheFile, bytes);
  return bytes;
}
