// Where an allowlisted module's bundle lives in the module cache: named by the
// package's name and version and by what made it, so the daemon (which makes
// bundles, src/sandbox/module-bundler.ts) and a sandbox process (which only
// reads them) find the same file without the sandbox loading esbuild.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BundledModule {
  name: string;
  version: string;
  /** A file holding the module's CommonJS body, run as `function (module, exports, require)`. */
  file: string;
}

/** Bump when the bundling changes, so cached bundles are made again. */
const BUNDLE_FORMAT = 1;
/** esbuild's version, read from its manifest rather than by loading it. */
const BUNDLER = (JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')) as { version: string }).version;

/** The bundle file of package `name` installed in `modulePath`, or undefined if it is not installed. */
export function bundleFile(name: string, modulePath: string, cacheDir: string): BundledModule | undefined {
  const manifest = join(modulePath, name, 'package.json');
  if (!existsSync(manifest)) return undefined;
  const version = String((JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  const tag = createHash('sha256').update(`${BUNDLE_FORMAT}\0${BUNDLER}\0${modulePath}`).digest('hex').slice(0, 12);
  return { name, version, file: join(cacheDir, `${name.replace('/', '+')}@${version}-${tag}.js`) };
}

/** The bundles a sandbox process loads: made beforehand by the daemon or `javascriptd prepare`. */
export function cachedBundles(names: readonly string[], modulePath: string, cacheDir: string): BundledModule[] {
  return names.map((name) => {
    const bundle = bundleFile(name, modulePath, cacheDir);
    if (bundle === undefined || !existsSync(bundle.file))
      throw new Error(`no bundle of module '${name}' in ${cacheDir}: the daemon or javascriptd prepare makes it`);
    return bundle;
  });
}
