// `npm run docs:settings`: writes docs/settings.md's tables from the settings
// table in src/config/ (bundled in memory by esbuild, so no build is needed);
// test/unit-settings-doc.test.ts fails while the doc holds older ones.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSource, root } from './load-source.mjs';

const { withSettingsTables } = await loadSource({ entryPoints: [join(root, 'src/config/settings-doc.ts')] });
const doc = join(root, 'docs', 'settings.md');
const before = readFileSync(doc, 'utf8');
const after = withSettingsTables(before);
if (after !== before) writeFileSync(doc, after);
process.stdout.write(`docs/settings.md: ${after === before ? 'up to date' : 'tables rewritten'}\n`);
