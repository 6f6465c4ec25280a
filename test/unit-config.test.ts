// Unit tests of settings (src/config/read-config.ts readConfig): an env object in, the
// config and every problem out. They start nothing: no daemon; CONFIG files
// are written to a temporary folder.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../src/config/config-error.js';
import { readConfig } from '../src/config/read-config.js';

describe('unit: config', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'javascriptd-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let files = 0;
  /** The path of a CONFIG file holding `content` (JSON unless a string). */
  const configFile = (content: unknown) => {
    const path = join(dir, `config-${files++}.json`);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  it('fills every default from an empty environment, one key with nothing allowed, on loopback', () => {
    const { config, problems } = readConfig({});
    assert.deepEqual(problems, []);
    assert.equal(config.port, 8765);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.keys.length, 1);
    const [key] = config.keys;
    assert.equal(key.name, 'default');
    assert.equal(key.secret, undefined);
    assert.deepEqual([key.modules, key.fetchAllow, key.fetchAllowPrivate], [[], [], []]);
    assert.equal(key.timeoutMs, 3000);
    assert.equal(key.poolSize, availableParallelism());
    // A sandbox a core, computing three executions at once: four MEMORY_LIMITs and 128 MB.
    assert.equal(key.sandboxMemoryMb, 4 * 128 + 128);
  });

  it('reads numbers, booleans and comma lists from strings; an empty value is unset', () => {
    const { config, problems } = readConfig({
      PORT: '0',
      NOLOGS: 'true',
      MODULES: ' lodash, ,dayjs ',
      MEMORY_LIMIT: '',
      SECRET: 's',
      POOL_SIZE: '3',
    });
    assert.deepEqual(problems, []);
    assert.equal(config.port, 0);
    assert.equal(config.noLogs, true);
    assert.equal(config.host, undefined, 'every key has a secret: all interfaces');
    assert.deepEqual(config.keys[0].modules, ['lodash', 'dayjs']);
    assert.equal(config.keys[0].memoryLimitMb, 128);
    assert.equal(config.keys[0].poolSize, 3);
  });

  it('sizes a sandbox for every execution it computes at once at its heap limit, unless SANDBOX_MEMORY is set', () => {
    const cores = availableParallelism();
    // One sandbox a core computes three executions at once: room for four heaps, and 128 MB for the rest.
    assert.equal(readConfig({ MEMORY_LIMIT: '128', POOL_SIZE: String(cores) }).config.keys[0].sandboxMemoryMb, 4 * 128 + 128);
    // One sandbox for all the cores computes three a core.
    assert.equal(readConfig({ MEMORY_LIMIT: '128', POOL_SIZE: '1' }).config.keys[0].sandboxMemoryMb, (3 * cores + 1) * 128 + 128);
    assert.equal(readConfig({ MEMORY_LIMIT: '8' }).config.keys[0].sandboxMemoryMb, 384);
    assert.equal(readConfig({ MEMORY_LIMIT: '8', SANDBOX_MEMORY: '64' }).config.keys[0].sandboxMemoryMb, 64);
  });

  it('lists every problem at once, by environment name', () => {
    const { problems } = readConfig({
      PORT: 'x',
      TLS_CERT: 'cert.pem',
      LOG_LEVEL: 'loud',
      TIMEOUT: '5000',
      MAX_TIMEOUT: '100',
      MAX_DEPTH: '1001',
    });
    assert.deepEqual(problems.sort(), [
      'LOG_LEVEL must be equal to one of the allowed values',
      'MAX_DEPTH must be <= 1000',
      'PORT must be integer',
      'TIMEOUT must not exceed MAX_TIMEOUT',
      'TLS_CERT needs TLS_KEY',
    ]);
  });

  it('bounds TypeScript and module sources and esbuild by default, within limits', () => {
    const { config, problems } = readConfig({});
    assert.deepEqual(problems, []);
    assert.deepEqual(
      [config.maxSourceBytes, config.maxSourceDepth, config.transformTimeoutMs, config.transformMemoryMb],
      [4194304, 1000, 10000, 512],
    );
    const wrong = readConfig({ MAX_SOURCE_BYTES: '0', MAX_SOURCE_DEPTH: '100001', TRANSFORM_TIMEOUT: '10', TRANSFORM_MEMORY: '32' });
    assert.deepEqual(wrong.problems.sort(), [
      'MAX_SOURCE_BYTES must be >= 1',
      'MAX_SOURCE_DEPTH must be <= 100000',
      'TRANSFORM_MEMORY must be >= 64',
      'TRANSFORM_TIMEOUT must be >= 100',
    ]);
  });

  it('wants MAX_UNSENT to hold a whole reply twice over', () => {
    const { problems } = readConfig({ MAX_UNSENT: '65536', MAX_FRAME: '4194304' });
    assert.deepEqual(problems, ['MAX_UNSENT must be at least 2752512 (half of MAX_FRAME + RESULT_LIMIT + CONSOLE_LIMIT)']);
  });

  it('reads ALLOWED_ORIGINS and ALLOWED_HOSTS in the form browsers send them; none by default', () => {
    const empty = readConfig({}).config;
    assert.deepEqual([empty.allowedOrigins, empty.allowedHosts], [[], []]);
    const { config, problems } = readConfig({
      ALLOWED_ORIGINS: 'HTTPS://App.Example:443, http://[::1]:3000, chrome-extension://abcdef, *',
      ALLOWED_HOSTS: 'JavaScriptd.Internal., 10.0.0.5, ::1, [fe80::1], *',
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(config.allowedOrigins, ['https://app.example', 'http://[::1]:3000', 'chrome-extension://abcdef', '*']);
    assert.deepEqual(config.allowedHosts, ['javascriptd.internal', '10.0.0.5', '[::1]', '[fe80::1]', '*']);
  });

  it('refuses an entry of ALLOWED_ORIGINS or ALLOWED_HOSTS that is not an origin or a host name, echoing it', () => {
    const { problems } = readConfig({
      ALLOWED_ORIGINS: 'https://app.example/,null,app.example,https://user@app.example,https://app.example:99999',
      ALLOWED_HOSTS: 'http://javascriptd.internal,javascriptd.internal:8765,[::1]:8765,a/b',
    });
    const origin = (entry: string) =>
      `ALLOWED_ORIGINS: "${entry}" is not an origin, scheme://host[:port] without a path (e.g. https://app.example), nor * for any`;
    const host = (entry: string) =>
      `ALLOWED_HOSTS: "${entry}" is not a host name or IP address without scheme or port (e.g. javascriptd.internal), nor * for any`;
    assert.deepEqual(problems, [
      ...['https://app.example/', 'null', 'app.example', 'https://user@app.example', 'https://app.example:99999'].map(origin),
      ...['http://javascriptd.internal', 'javascriptd.internal:8765', '[::1]:8765', 'a/b'].map(host),
    ]);
  });

  it('refuses to run without a secret when ALLOW_NO_SECRET=false', () => {
    assert.match(readConfig({ ALLOW_NO_SECRET: 'false' }).problems.join('\n'), /^no SECRET is set/);
    assert.deepEqual(readConfig({ ALLOW_NO_SECRET: 'false', SECRET: 's' }).problems, []);
  });

  it('reads keys from a CONFIG file, each taking what it leaves out from the environment', () => {
    const path = configFile({
      keys: {
        ci: { secretEnv: 'CI_SECRET', timeout: 100, fetchAllow: ['GET https://x.example/**'] },
        web: { secret: 'w', modules: ['lodash'] },
      },
    });
    const { config, problems } = readConfig({ CONFIG: path, CI_SECRET: 'c', MEMORY_LIMIT: '64' });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      config.keys.map((k) => [k.name, k.secret, k.timeoutMs, k.memoryLimitMb, k.modules, k.fetchAllow]),
      [
        ['ci', 'c', 100, 64, [], ['GET https://x.example/**']],
        ['web', 'w', 3000, 64, ['lodash'], []],
      ],
    );
  });

  it('lists the problems of a CONFIG file and of its keys', () => {
    const unreadable = join(dir, 'missing.json');
    assert.match(readConfig({ CONFIG: unreadable }).problems[0], /^CONFIG .*missing\.json: ENOENT/);
    assert.match(readConfig({ CONFIG: configFile('{"keys":') }).problems[0], /^CONFIG .*: .*JSON/);
    assert.deepEqual(
      readConfig({ CONFIG: configFile({ keys: { a: { secret: 's', memoryLimit: 'lots' } } }) }).problems.map((p) =>
        p.replace(/^CONFIG \S+: /, ''),
      ),
      ['/keys/a/memoryLimit must be integer'],
    );
    const keys = {
      a: { secret: 'same' },
      b: { secret: 'same' },
      c: {},
      d: {},
      e: { secretEnv: 'UNSET_SECRET', timeout: 9000, maxTimeout: 100 },
    };
    assert.deepEqual(readConfig({ CONFIG: configFile({ keys }) }).problems.sort(), [
      'at most one key may have no secret',
      'key "e": TIMEOUT must not exceed MAX_TIMEOUT',
      'key "e": environment variable UNSET_SECRET (secretEnv) is not set',
      'two keys have the same secret',
    ]);
    assert.deepEqual(
      readConfig({
        CONFIG: configFile({ keys: { a: { secret: 'a' } } }),
        SECRET: 'x',
        FETCH_ALLOW: 'GET https://x.example/',
      }).problems.sort(),
      [
        'FETCH_ALLOW cannot be combined with CONFIG: set it per key in the file',
        'SECRET cannot be combined with CONFIG: set it per key in the file',
      ],
    );
  });

  it('says every problem in the message of a ConfigError', () => {
    const error = new ConfigError(['PORT must be integer', 'TLS_CERT needs TLS_KEY']);
    assert.equal(error.message, 'invalid settings:\n  PORT must be integer\n  TLS_CERT needs TLS_KEY');
    assert.deepEqual(error.problems, ['PORT must be integer', 'TLS_CERT needs TLS_KEY']);
  });
});
