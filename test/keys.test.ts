// Several keys from a CONFIG file: the secret a connection presents selects its
// policy; bad files are refused whole.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { CONFIG_FILE_SCHEMA } from '../src/config/config-file-schema.js';
import { TestClient } from './helpers/client.js';
import { assertListsProblems, metricsText, runCli, useDaemon } from './helpers/daemon.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';
import { until } from './helpers/poll.js';

const MODULE_PATH = join(__dirname, '..', '..', 'node_modules');
const dir = mkdtempSync(join(tmpdir(), 'javascriptd-keys-'));

function writeConfig(name: string, config: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** Isolates of `key` replaced so far (for `reason`, or for any), from /metrics. */
function recycled(metrics: string, key: string, reason?: string): number {
  const series = new RegExp(`^javascriptd_isolates_recycled_total\\{key="${key}",reason="${reason ?? '[^"]+'}"\\} (\\d+)$`, 'gm');
  return [...metrics.matchAll(series)].reduce((sum, match) => sum + Number(match[1]), 0);
}

describe('keys and policies', () => {
  let server: TestServer;
  let config: string;

  before(async () => {
    server = await startHttpServer({ '/data': (_req, res) => res.end('{"n":1}') });
    config = writeConfig('two-keys.json', {
      keys: {
        ci: { secret: 'secret-of-ci', modules: ['lodash'], fetchAllow: [`GET ${server.origin}/data`], timeout: 2000, poolSize: 1 },
        customer: { secretEnv: 'CUSTOMER_SECRET', poolSize: 2, memoryLimit: 32, resultLimit: 100 },
      },
    });
  });
  const daemon = useDaemon(() => ({
    CONFIG: config,
    CUSTOMER_SECRET: 'secret-of-customer',
    MODULE_PATH,
    MODULE_CACHE: join(dir, 'cache'),
    // With secrets set, /metrics answers only with its token.
    METRICS_TOKEN: 'metrics-token',
  }));
  after(async () => {
    await server?.close();
  });

  const as = (secret: string) => TestClient.connect(daemon.url, { headers: { 'x-runtime-secret': secret } });
  const code = () => `(async () => [typeof require('lodash').chunk, (await (await fetch('${server.origin}/data')).json()).n])()`;

  it('lets key A require its modules and fetch its URLs', async () => {
    const client = await as('secret-of-ci');
    assert.deepEqual((await client.execute({ code: code() })).payload?.value, ['function', 1]);
    await client.close();
  });

  it('refuses key B what only key A may do', async () => {
    const client = await as('secret-of-customer');
    const reply = await client.execute({ code: code() });
    assert.equal(reply.error?.message, "Error: module 'lodash' is not allowed");
    // This key's RESULT_LIMIT is 100 bytes.
    const fetched = await client.execute({ code: `fetch('${server.origin}/data').then(() => 'fetched', (e) => e.message.slice(0, 60))` });
    assert.match(String(fetched.payload?.value), /^fetch refused: no FETCH_ALLOW rule allows GET/);
    await client.close();
  });

  it("applies each key's limits", async () => {
    const customer = await as('secret-of-customer');
    const big = await customer.execute({ code: '"x".repeat(200)' });
    assert.equal(big.error?.code, 1005);
    const ci = await as('secret-of-ci');
    assert.equal((await ci.execute({ code: '"x".repeat(200)' })).payload?.value, 'x'.repeat(200));
    const slow = await ci.execute({ code: 'console.log("spinning"); while (true) {}' });
    assert.equal(slow.error?.code, 1002);
    assert.equal(slow.error?.data?.timeout, 2000, "the key's TIMEOUT");
    await Promise.all([customer.close(), ci.close()]);
  });

  it('refuses a connection without a known secret', async () => {
    await assert.rejects(TestClient.connect(daemon.url), /401/);
    await assert.rejects(as('secret-of-nobody'), /401/);
  });

  it('never shares a sandbox process between keys', () => {
    const sandboxes = execFileSync('pgrep', ['-P', String(daemon.process.pid)])
      .toString()
      .trim()
      .split('\n');
    assert.equal(sandboxes.length, 3, 'one for ci and two for customer');
    const listening = daemon.logs().find((line) => line.msg === 'listening') as { keys: { name: string; poolSize: number }[] };
    assert.deepEqual(
      listening.keys.map((k) => [k.name, k.poolSize]),
      [
        ['ci', 1],
        ['customer', 2],
      ],
    );
  });

  it("fails no execution of either key when key B's memory bomb and wedging script lose their own isolates", async () => {
    const [ci, customer] = await Promise.all([as('secret-of-ci'), as('secret-of-customer')]);
    const sleeper = (i: number) => ({
      code: `function h(cb) { console.log("sleeper", ${i}); setTimeout(() => cb(${i}), 600); }`,
      call: 'h',
      stream: true,
    });
    const ciSleepers = Array.from({ length: 8 }, (_, i) => ci.execute(sleeper(i)));
    const customerSleepers = Array.from({ length: 8 }, (_, i) => customer.execute(sleeper(i)));
    // All sixteen asleep (their lines streamed) before B's faults.
    const asleep = (client: TestClient) => client.streamed.flatMap((s) => s.lines).length;
    await until(() => asleep(ci) === 8 && asleep(customer) === 8, 'the sixteen sleepers started');
    const before = await metricsText(daemon, 'metrics-token');
    const [bombed, wedged] = await Promise.all([
      customer.execute({ code: 'const a = []; for (;;) a.push(new Array(1e6).fill(0));' }),
      customer.execute({ code: 'function h(cb) { cb("answered"); for (;;) {} }', call: 'h' }),
    ]);
    assert.equal(bombed.error?.code, 1003);
    assert.equal(wedged.payload?.value, 'answered');
    for (const sleepers of [ciSleepers, customerSleepers]) {
      assert.deepEqual(
        (await Promise.all(sleepers)).map((reply) => [reply.payload?.value, reply.payload?.console]),
        Array.from({ length: 8 }, (_, i) => [i, [`sleeper ${i}`]]),
      );
    }
    // Each ran once: a second run would have streamed its line again.
    assert.deepEqual([asleep(ci), asleep(customer)], [8, 8]);
    const after = await metricsText(daemon, 'metrics-token');
    assert.deepEqual(
      [
        recycled(after, 'customer', 'memory-limit') - recycled(before, 'customer', 'memory-limit'),
        recycled(after, 'customer', 'still-running') - recycled(before, 'customer', 'still-running'),
      ],
      [1, 1],
      "B's two isolates lost",
    );
    assert.equal(recycled(after, 'ci') - recycled(before, 'ci'), 0, "none of A's isolates lost");
    await Promise.all([ci.close(), customer.close()]);
  });

  it('ships config.schema.json, the schema the daemon validates with', () => {
    const shipped: unknown = JSON.parse(readFileSync(join(__dirname, '..', '..', 'config.schema.json'), 'utf8'));
    assert.deepEqual(shipped, JSON.parse(JSON.stringify(CONFIG_FILE_SCHEMA)));
    const validate = new Ajv().compile(shipped as object);
    assert.ok(validate({ keys: { a: { secret: 's', modules: ['lodash'], fetchAllow: ['GET https://x.example/**'] } } }));
    assert.ok(!validate({ keys: { a: { secret: 's', secretEnv: 'S' } } }));
  });

  it('refuses a bad CONFIG whole, listing every problem', () => {
    const bad = writeConfig('bad.json', {
      keys: {
        a: { secret: 'same', fetchAllow: ['GET'], timeout: 5000, maxTimeout: 1000 },
        b: { secret: 'same', modules: ['no-such-module-xyz'] },
        c: { secretEnv: 'UNSET_SECRET_VARIABLE' },
      },
    });
    const run = runCli([], { PORT: '0', CONFIG: bad, MODULE_PATH, MODULE_CACHE: join(dir, 'cache') });
    assert.equal(run.status, 2);
    assertListsProblems(run.stderr, [
      'key "a": TIMEOUT must not exceed MAX_TIMEOUT',
      'two keys have the same secret',
      'key "c": environment variable UNSET_SECRET_VARIABLE (secretEnv) is not set',
    ]);
    assert.doesNotMatch(run.stdout, /listening/);
    const schemaErrors = runCli([], { PORT: '0', CONFIG: writeConfig('typo.json', { keys: { a: { secrte: 'x', timeout: 'soon' } } }) });
    assert.equal(schemaErrors.status, 2);
    assert.match(schemaErrors.stderr, /\/keys\/a has no setting "secrte" \(did you mean secret\?\)/);
    assert.match(schemaErrors.stderr, /\/keys\/a\/timeout must be an integer/);
  });

  it("lists the settings' problems and the keys' modules and fetch rules together", () => {
    const bad = writeConfig('many-problems.json', {
      keys: {
        a: { secretEnv: 'UNSET_SECRET_VARIABLE', modules: ['no-such-module-xyz'] },
        b: { secret: 'b', modules: ['fs'], fetchAllow: ['GET'], timeout: 5000, maxTimeout: 1000 },
      },
    });
    const run = runCli([], { PORT: '0', CONFIG: bad, MODULE_PATH, MODULE_CACHE: join(dir, 'cache') });
    assert.equal(run.status, 2);
    assertListsProblems(run.stderr, [
      'key "a": environment variable UNSET_SECRET_VARIABLE (secretEnv) is not set',
      'key "a": MODULES: \'no-such-module-xyz\' is not installed in',
      'key "b": MODULES: \'fs\' is a Node builtin',
      'key "b": FETCH_ALLOW',
      'key "b": TIMEOUT must not exceed MAX_TIMEOUT',
    ]);
  });

  it('refuses the single-key policy settings next to CONFIG', () => {
    const run = runCli([], {
      CONFIG: writeConfig('ok.json', { keys: { a: { secret: 's' } } }),
      SECRET: 'x',
      FETCH_ALLOW: 'GET https://x.example/',
    });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /SECRET cannot be combined with CONFIG/);
    assert.match(run.stderr, /FETCH_ALLOW cannot be combined with CONFIG/);
  });
});
