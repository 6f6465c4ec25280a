// Allowlisted modules: real packages from node_modules (lodash, the ESM-only
// camelcase, graceful-fs which needs `fs`), bundled by the real daemon.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestClient } from './helpers/client.js';
import { type RunningDaemon, runCli, startDaemon } from './helpers/daemon.js';

const MODULE_PATH = join(__dirname, '..', '..', 'node_modules');

describe('allowlisted modules', () => {
  let daemon: RunningDaemon;
  let client: TestClient;
  const cache = mkdtempSync(join(tmpdir(), 'javascriptd-modules-'));

  before(async () => {
    daemon = await startDaemon({ MODULES: 'lodash, camelcase, graceful-fs', MODULE_PATH, MODULE_CACHE: cache });
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
    await daemon?.stop();
  });

  it('requires a CommonJS package', async () => {
    const reply = await client.execute({ code: 'const _ = require("lodash"); [_.chunk([1, 2, 3, 4, 5], 2), _.VERSION]' });
    assert.deepEqual(reply.payload?.value, [[[1, 2], [3, 4], [5]], '4.18.1']);
  });

  it('requires an ESM-only package, as its namespace', async () => {
    const reply = await client.execute({ code: 'const camelCase = require("camelcase").default; camelCase("foo-bar_baz")' });
    assert.equal(reply.payload?.value, 'fooBarBaz');
  });

  it('gives each execution a frozen instance that an earlier one could not change, and one instance within an execution', async () => {
    const refused = await client.execute({ code: '"use strict"; const _ = require("lodash"); _.leaked = "from an earlier execution"; 1' });
    assert.equal(refused.error?.message, 'TypeError: Cannot add property leaked, object is not extensible');
    await client.execute({ code: 'const _ = require("lodash"); try { _.mixin({ evil: () => 1 }); } catch {} 1' });
    const reply = await client.execute({ code: 'const _ = require("lodash"); [typeof _.leaked, typeof _.evil, require("lodash") === _]' });
    assert.deepEqual(reply.payload?.value, ['undefined', 'undefined', true]);
  });

  it('fails a package that needs a Node builtin with an error naming the builtin', async () => {
    const reply = await client.execute({ code: 'require("graceful-fs")' });
    assert.equal(reply.error?.code, 1000);
    assert.equal(reply.error?.message, "Error: module 'graceful-fs' needs the Node builtin 'fs', which scripts cannot use");
  });

  it('refuses names not on the list, relative paths and builtins', async () => {
    for (const name of [
      'dayjs',
      './lodash',
      '../node_modules/lodash',
      '/etc/passwd',
      'fs',
      'node:fs',
      'child_process',
      'net',
      'http',
      'lodash/fp',
      '__proto__',
      'constructor',
    ]) {
      const reply = await client.execute({ code: `require(${JSON.stringify(name)})` });
      assert.equal(reply.error?.message, `Error: module '${name}' is not allowed`, name);
    }
  });

  it('caches bundles on disk by name and version, and reuses them', async () => {
    const files = readdirSync(cache)
      .filter((f) => f.endsWith('.js'))
      .sort();
    assert.deepEqual(
      files.map((f) => f.replace(/-[0-9a-f]{12}\.js$/, '')),
      ['camelcase@9.0.0', 'graceful-fs@4.2.12', 'lodash@4.18.1'],
    );
    const caches = readdirSync(cache)
      .filter((f) => f.endsWith('.v8cache'))
      .map((f) => f.replace(/-[0-9a-f]{16}\.v8cache$/, ''))
      .sort();
    // The library realm's script, and the prelude without the modules (shared) and with them (per-execution).
    assert.deepEqual(caches, ['library', 'prelude', 'prelude'], 'the code caches are written');
    const before = files.map((f) => statSync(join(cache, f)).mtimeMs);
    const again = await startDaemon({ MODULES: 'lodash, camelcase, graceful-fs', MODULE_PATH, MODULE_CACHE: cache });
    try {
      assert.deepEqual(
        files.map((f) => statSync(join(cache, f)).mtimeMs),
        before,
      );
      const reply = await (await TestClient.connect(again.url)).execute({ code: 'require("lodash").VERSION' });
      assert.equal(reply.payload?.value, '4.18.1');
    } finally {
      await again.stop();
    }
  });

  it('refuses to start when an allowed module is missing or is a builtin, listing each', () => {
    const run = runCli([], { PORT: '0', MODULES: 'lodash,no-such-package-xyz,fs,../evil', MODULE_PATH, MODULE_CACHE: cache });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /MODULES: 'no-such-package-xyz' is not installed in /);
    assert.match(run.stderr, /MODULES: 'fs' is a Node builtin; scripts cannot use builtins/);
    assert.match(run.stderr, /MODULES: '\.\.\/evil' is not an npm package name/);
    assert.doesNotMatch(run.stdout, /listening/);
  });
});
