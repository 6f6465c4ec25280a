// Which module files a Node process loaded: a preload hook writes require.cache's
// keys to stderr as it exits. How the tests check that a process (the sandbox,
// `javascriptd health`) does not load what it does not use.
import { type SpawnSyncOptions, type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const hook = join(mkdtempSync(join(tmpdir(), 'javascriptd-loaded-')), 'loaded.js');
writeFileSync(hook, "process.on('exit', () => process.stderr.write(JSON.stringify(Object.keys(require.cache))));");

/** Runs node with `args` to completion; `loaded` is every module file it loaded (CommonJS and ES modules alike). */
export function loadedBy(args: string[], options: SpawnSyncOptions = {}): { run: SpawnSyncReturns<string>; loaded: string[] } {
  const run = spawnSync(process.execPath, ['--no-node-snapshot', '-r', hook, ...args], { timeout: 20000, ...options, encoding: 'utf8' });
  const loaded = JSON.parse(run.stderr.slice(run.stderr.lastIndexOf('["'))) as string[];
  return { run, loaded };
}
