// docs/settings.md's tables are generated from the settings table (as --help and
// config.schema.json are): this fails while the doc holds anything else there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../src/config/settings.js';
import { settingsTables, withSettingsTables } from '../src/config/settings-doc.js';

const DOC = join(__dirname, '..', '..', 'docs', 'settings.md');

describe('docs/settings.md', () => {
  it('holds the tables generated from the settings table (`npm run docs:settings` rewrites them)', () => {
    const doc = readFileSync(DOC, 'utf8');
    assert.ok(doc.includes(settingsTables()), 'docs/settings.md is out of date with src/config/: run npm run docs:settings');
    assert.equal(withSettingsTables(doc), doc);
  });

  it('has one row for every setting, with its default and help', () => {
    const tables = settingsTables();
    for (const s of SETTINGS) {
      const row = tables.split('\n').find((line) => line.startsWith(`| \`${s.env}\` |`));
      assert.ok(row, `a row for ${s.env}`);
      const fallback = s.defaultText ?? (s.schema as { default?: unknown }).default;
      if (fallback !== undefined) assert.ok(row.includes(String(fallback).split(' ')[0]), `${s.env}'s default in ${row}`);
    }
    assert.match(tables, /\| `PORT` \| 8765 \| integer, 0–65535 \| TCP port \(0 picks a free one\) \|/);
    assert.match(tables, /\| `LOG_LEVEL` \| info \| `fatal`, `error`, `warn`, `info`, `debug`, `trace` \| pino log level \|/);
    assert.match(tables, /or \\\* for any/, 'an asterisk escaped, not emphasis');
  });
});
