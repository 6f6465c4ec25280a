// `npm run docs:settings`: writes docs/settings.md's tables from the settings
// table in src/config/ (bundled in memory by esbuild, so no build is needed);
// test/unit-settings-doc.test.ts fails while the doc holds older ones.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const { outputFiles } = await build({
  entryPoints: [join(root, 'src/config/settings-doc.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  packages: 'external',
  write: false,
  logLevel: 'silent',
});
const module = { exports: {} };
new Function('module', 'exports', 'require', outputFiles[0].text)(module, module.exports, createRequire(join(root, 'package.json')));
const doc = join(root, 'docs', 'settings.md');
const before = readFileSync(doc, 'utf8');
const after = module.exports.withSettingsTables(before);
if (after !== before) writeFileSync(doc, after);
process.stdout.write(`docs/settings.md: ${after === before ? 'up to date' : 'tables rewritten'}\n`);
