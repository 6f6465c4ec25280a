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
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "loud"',
      'MAX_DEPTH must be <= 1000, got 1001',
      'PORT must be an integer, got "x"',
      'TIMEOUT must not exceed MAX_TIMEOUT, got 5000 and 100',
      'TLS_CERT needs TLS_KEY',
    ]);
  });

  it('echoes the value of a setting it refuses, and says what it accepts', () => {
    const { problems } = readConfig({ TIMEOUT: 'abc', PLAYGROUND: 'maybe', EXECUTOR: 'docker', SANDBOX_CPUS: 'two', MODULES: ',' });
    assert.deepEqual(problems.sort(), [
      'EXECUTOR must be one of process, container, got "docker"',
      'PLAYGROUND must be true or false (also 1/yes/on or 0/no/off), got "maybe"',
      'SANDBOX_CPUS must be a number, got "two"',
      'TIMEOUT must be an integer, got "abc"',
    ]);
    // A value of any length is echoed cut short.
    const [long] = readConfig({ TIMEOUT: 'x'.repeat(10_000) }).problems;
    assert.ok(long.length < 200, long);
  });

  it('reads a boolean spelt true/false, 1/0, yes/no or on/off, in any case', () => {
    for (const [given, read] of [
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['Yes', true],
      ['on', true],
      ['false', false],
      ['False', false],
      ['0', false],
      ['no', false],
      ['OFF', false],
    ] as const) {
      const { config, problems } = readConfig({ PLAYGROUND: given, NOLOGS: given });
      assert.deepEqual(problems, [], given);
      assert.deepEqual([config.playground, config.noLogs], [read, read], given);
    }
  });

  it('warns of a variable that looks like a setting: misspelt, in lower case, or with the JAVASCRIPTD_ prefix', () => {
    const { warnings, problems } = readConfig({
      TIMOUT: '5000',
      MAX_TIMOUET: '9000',
      log_level: 'debug',
      SECERT: 's',
      JAVASCRIPTD_PORT: '9000',
      JAVASCRIPTD_WHATEVER: '1',
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(warnings, [
      'TIMOUT is not a setting, and is ignored: did you mean TIMEOUT?',
      'MAX_TIMOUET is not a setting, and is ignored: did you mean MAX_TIMEOUT?',
      'log_level is not a setting, and is ignored: did you mean LOG_LEVEL?',
      'SECERT is not a setting, and is ignored: did you mean SECRET?',
      'JAVASCRIPTD_PORT is not a setting, and is ignored: did you mean PORT?',
      'JAVASCRIPTD_WHATEVER is not a setting, and is ignored: settings have no prefix (javascriptd --help lists them)',
    ]);
  });

  it("does not warn of a shell's, CI's or Kubernetes' own variables, nor of the CLI's (unless it looks meant for the daemon)", () => {
    const env = {
      HOME: '/root',
      HOSTNAME: 'vm',
      PATH: '/bin',
      PWD: '/',
      LOGNAME: 'root',
      NODE_PATH: '/x',
      NODE_ENV: 'production',
      NO_COLOR: '1',
      TERM: 'xterm',
      CI: 'true',
      GITHUB_EVENT_PATH: '/e.json',
      JAVASCRIPTD_URL: 'ws://127.0.0.1:8765/',
      JAVASCRIPTD_PORT: 'tcp://10.0.0.7:8765',
      JAVASCRIPTD_PORT_8765_TCP: 'tcp://10.0.0.7:8765',
      JAVASCRIPTD_SERVICE_HOST: '10.0.0.7',
    };
    assert.deepEqual(readConfig(env).warnings, []);
    assert.deepEqual(readConfig({ ...env, JAVASCRIPTD_SECRET: 's', SECRET: 't' }).warnings, []);
    assert.deepEqual(readConfig({ ...env, JAVASCRIPTD_SECRET: 's' }).warnings, [
      'JAVASCRIPTD_SECRET is read by `javascriptd run`, not by the daemon: its secret is SECRET, which is not set',
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
      'MAX_SOURCE_BYTES must be >= 1, got 0',
      'MAX_SOURCE_DEPTH must be <= 100000, got 100001',
      'TRANSFORM_MEMORY must be >= 64, got 32',
      'TRANSFORM_TIMEOUT must be >= 100, got 10',
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
      ['/keys/a/memoryLimit must be an integer, got "lots"'],
    );
    // A misspelt setting is named with the one meant; a secret is never echoed.
    assert.deepEqual(
      readConfig({ CONFIG: configFile({ keys: { a: { secret: 12345, timout: 5 } } }) }).problems.map((p) => p.replace(/^CONFIG \S+: /, '')),
      ['/keys/a has no setting "timout" (did you mean timeout?)', '/keys/a/secret must be text'],
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
      'key "e": TIMEOUT must not exceed MAX_TIMEOUT, got 9000 and 100',
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
    const warned = new ConfigError(['no SECRET is set'], ['SECERT is not a setting, and is ignored: did you mean SECRET?']);
    assert.equal(
      warned.message,
      'invalid settings:\n  no SECRET is set\n  (warning) SECERT is not a setting, and is ignored: did you mean SECRET?',
    );
  });
});
