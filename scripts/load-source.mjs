// The project's TypeScript source loaded without a build: bundled in memory by
// esbuild (packages left to node_modules) and evaluated as CommonJS. For the
// scripts that must not wait for `npm run build` (check-settings.mjs,
// settings-doc.mjs).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';

export const root = join(import.meta.dirname, '..');

/** The exports of the source esbuild's `input` (`entryPoints` or `stdin`) names. */
export async function loadSource(input) {
  const { outputFiles } = await build({
    ...input,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const module = { exports: {} };
  new Function('module', 'exports', 'require', outputFiles[0].text)(module, module.exports, createRequire(join(root, 'package.json')));
  return module.exports;
}
