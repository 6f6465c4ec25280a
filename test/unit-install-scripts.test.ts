// `npm ci` on a fresh clone reads cleanly: every dependency with an install
// script is approved or denied in package.json's allowScripts, so npm does not
// list it as "not yet covered by allowScripts" (README: Set up).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

describe('install scripts', () => {
  it('are each approved or denied in package.json (allowScripts), so npm ci asks about none', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const { allowScripts = {} } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    assert.ok(withScripts.length > 0, 'the lockfile lists packages with install scripts');
    assert.deepEqual(
      withScripts.filter((name) => !(name in allowScripts)),
      [],
      'packages with install scripts missing from allowScripts',
    );
  });
});
