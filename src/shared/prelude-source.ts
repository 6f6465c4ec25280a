// The script every context runs before the script it executes: the bundled
// prelude (dist/prelude.js, built by scripts/build-prelude.mjs) and the
// factories of the key's allowlisted modules (or of all its runtime image's,
// whose code cache was made for them). It is compiled once per isolate, from a
// V8 code cache kept next to the module bundles.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundledModule } from './module-files.js';

const BUNDLE = join(__dirname, '..', '..', 'prelude.js');

export interface PreludeSource {
  /** Script source whose completion value is `setup`, bound to the module factories. */
  source: string;
  /** Where the V8 code cache of `source` lives. */
  cacheFile: string;
  /**
   * The modules scripts may require: the prelude's own, or fewer (a key narrowing
   * its runtime image's, whose prelude and code cache hold them all).
   */
  allowed: readonly string[];
}

export function preludeSource(modules: readonly BundledModule[], cacheDir: string, allowed = modules.map((m) => m.name)): PreludeSource {
  const factories = modules.map(
    ({ name, file }) => `${JSON.stringify(name)}: function (module, exports, require) {\n${readFileSync(file, 'utf8')}\n}`,
  );
  const source = [
    '(() => {',
    readFileSync(BUNDLE, 'utf8'),
    `const modules = { __proto__: null, ${factories.join(',\n')} };`,
    'return javascriptdPrelude.setup.bind(undefined, modules);',
    '})()',
  ].join('\n');
  const hash = createHash('sha256').update(source).update(process.version).digest('hex').slice(0, 16);
  return { source, cacheFile: join(cacheDir, `prelude-${hash}.v8cache`), allowed };
}

export function readCodeCache(prelude: PreludeSource): ArrayBuffer | undefined {
  if (!existsSync(prelude.cacheFile)) return undefined;
  const bytes = readFileSync(prelude.cacheFile);
  return new Uint8Array(bytes).buffer;
}
