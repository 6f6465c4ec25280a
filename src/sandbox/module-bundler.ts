// Allowlisted modules: each package is resolved in MODULE_PATH, bundled once
// with esbuild into a CommonJS body an isolate can evaluate (ESM-only packages
// included), and cached on disk by name and version.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname } from 'node:path';
import { build, stop as stopEsbuild } from 'esbuild';
import { ConfigError } from '../config/config-error.js';
import { type BundledModule, bundleFile } from '../shared/module-files.js';

const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const NODE_BUILTINS = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

/** The global node_modules folder, where `npm install -g` puts packages. */
export function globalModulePath(): string {
  return execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
}

/** Bundles every module in `names` (cached); throws ConfigError listing every one that cannot be used. */
export async function bundleModules(names: readonly string[], modulePath: string, cacheDir: string): Promise<BundledModule[]> {
  const problems = new Set<string>();
  const bundled: BundledModule[] = [];
  for (const name of names) {
    try {
      bundled.push(await bundleModule(name, modulePath, cacheDir));
    } catch (error) {
      if (error instanceof ConfigError) for (const problem of error.problems) problems.add(problem);
      else problems.add(`MODULES: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  // esbuild keeps a service process; the daemon needs it only at start-up.
  await stopEsbuild();
  if (problems.size > 0) throw new ConfigError([...problems]);
  return bundled;
}

/**
 * Writes `file` into the module cache whole (a reader never sees half of it).
 * Only what is missing is written, so a cache prepared in an image is never
 * written to; a write refused is a ConfigError saying what to mount or change.
 */
export function writeToCache(cacheDir: string, file: string, data: string | Uint8Array): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(temporary, data);
    renameSync(temporary, file);
  } catch (error) {
    throw notWritable(cacheDir, error);
  }
}

function notWritable(cacheDir: string, error: unknown): ConfigError {
  // A recursive mkdir on a read-only file system fails with ENOENT: ask the deepest folder that exists.
  let existing = cacheDir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const code = writeDenied(existing) ?? (error as NodeJS.ErrnoException).code;
  if (code === 'EROFS')
    return new ConfigError([
      `MODULE_CACHE ${cacheDir} is not writable (read-only file system): mount a tmpfs there, e.g. docker run --tmpfs ${existing}`,
    ]);
  if (code === 'EACCES' || code === 'EPERM') {
    return new ConfigError([
      `MODULE_CACHE ${cacheDir} is not writable (permission denied to uid ${process.getuid?.()}): make it writable for that user, or set MODULE_CACHE to a folder that is`,
    ]);
  }
  return new ConfigError([`MODULE_CACHE ${cacheDir} could not be written: ${error instanceof Error ? error.message : String(error)}`]);
}

function writeDenied(folder: string): string | undefined {
  try {
    accessSync(folder, constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

async function bundleModule(name: string, modulePath: string, cacheDir: string): Promise<BundledModule> {
  if (NODE_BUILTINS.includes(name)) throw new Error(`'${name}' is a Node builtin; scripts cannot use builtins`);
  if (!PACKAGE_NAME.test(name)) throw new Error(`'${name}' is not an npm package name`);
  const bundle = bundleFile(name, modulePath, cacheDir);
  if (bundle === undefined) throw new Error(`'${name}' is not installed in ${modulePath}`);
  if (!existsSync(bundle.file)) {
    const result = await build({
      stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: modulePath, loader: 'js' },
      bundle: true,
      write: false,
      format: 'cjs',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      nodePaths: [modulePath],
      // Builtins stay as require() calls; at run time they fail naming the builtin.
      external: NODE_BUILTINS,
      define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
      logLevel: 'silent',
    }).catch((error: unknown) => {
      const messages = (error as { errors?: { text: string }[] }).errors?.map((e) => e.text) ?? [String(error)];
      throw new Error(`'${name}' could not be bundled: ${messages.join('; ')}`);
    });
    writeToCache(cacheDir, bundle.file, result.outputFiles[0].text);
  }
  return bundle;
}
