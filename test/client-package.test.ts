// javascriptd-client as its users get it: `npm pack`ed, installed into an empty
// folder with the machine's Node 20 and its npm (not the Node 24 this project
// pins), then its CLI and a CommonJS and an ES module program run with that
// Node against a real daemon. And the daemon on that Node: one line, exit 2.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { satisfies } from '../src/cli/supported-node.js';
import { useDaemon } from './helpers/daemon.js';
import { describeWithEngine } from './helpers/engines.js';

const ROOT = join(__dirname, '..', '..');
const CLIENT = join(ROOT, 'packages', 'client');
const SECRET = 'client-package-secret';

interface Node20 {
  node: string;
  version: string;
  /** npm's JavaScript entry, run with `node`. */
  npm: string;
  npmVersion: string;
}

function output(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20000 });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** Names a Node 20 binary to use (e.g. npm's node@20 package, which .ci/run installs where the system has another Node). */
const NODE20_VARIABLE = 'JAVASCRIPTD_NODE20';

/**
 * The Node 20 named by JAVASCRIPTD_NODE20, with the npm that runs the tests; else the
 * machine's (PATH, then /usr/bin and /usr/local/bin; never a node_modules/.bin shim)
 * with the npm beside it.
 */
function findNode20(): Node20 | undefined {
  const named = process.env[NODE20_VARIABLE];
  if (named !== undefined && named !== '') {
    const version = output(named, ['--version']);
    const npmVersion = output(named, [fallbackNpm, '--version']);
    if (version?.startsWith('v20.') !== true || npmVersion === undefined)
      throw new Error(`${NODE20_VARIABLE}=${named} is not a Node 20 that runs npm (${version ?? 'it does not run'})`);
    return { node: named, version, npm: fallbackNpm, npmVersion };
  }
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'].filter(
    (dir) => dir !== '' && !dir.includes('node_modules'),
  );
  for (const dir of new Set(dirs)) {
    const node = join(dir, 'node');
    if (!existsSync(node)) continue;
    const version = output(node, ['--version']);
    if (version === undefined || !version.startsWith('v20.')) continue;
    const npm = [join(dir, 'npm'), join(dirname(realpathSync(node)), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find(
      (path) => existsSync(path),
    );
    if (npm === undefined) continue;
    const npmCli = realpathSync(npm);
    const npmVersion = output(node, [npmCli, '--version']);
    if (npmVersion !== undefined) return { node, version, npm: npmCli, npmVersion };
  }
  return undefined;
}

// The npm that runs the tests: with the Node JAVASCRIPTD_NODE20 names, or this project's where no Node 20 is installed.
const fallbackNpm = process.env.npm_execpath ?? join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const node20 = findNode20();
/** Why the tests that need a Node 20 cannot run here, or undefined. */
const node20Missing = () =>
  node20 === undefined
    ? `no Node 20 on PATH, /usr/bin or /usr/local/bin: install one, or set ${NODE20_VARIABLE} to a node binary (npm install node@20 has one)`
    : undefined;
// Where no Node 20 is installed, the package is still packed and installed: with this project's Node, and the titles say so.
const NODE = node20?.node ?? process.execPath;
const NPM = node20?.npm ?? fallbackNpm;
const WHICH =
  node20 === undefined
    ? `the pinned Node ${process.version} (no Node 20 installed)`
    : `Node ${node20.version} (${node20.node}) and its npm ${node20.npmVersion}`;

/** Only PATH (that Node's folder first, so `#!/usr/bin/env node` and npm's children run it) and HOME (npm's cache). */
function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: [dirname(NODE), '/usr/bin', '/bin'].join(delimiter), HOME: process.env.HOME ?? tmpdir(), ...extra };
}

function spawnNode(args: string[], cwd: string, extra: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(NODE, args, { cwd, env: environment(extra), encoding: 'utf8', timeout: 60000 });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(result.status, 0, `${what} exited ${result.status ?? result.signal}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

describe(`javascriptd-client, packed and installed with ${WHICH}`, function () {
  this.timeout(180000);
  let folder: string;
  let env: Record<string, string>;
  let bin: string;

  before(async () => {
    assert.ok(existsSync(join(CLIENT, 'dist', 'index.js')), 'packages/client is built (npm run build)');
  });
  const daemon = useDaemon(() => ({ SECRET, MAX_TIMEOUT: '5000' }));
  before(async () => {
    env = { JAVASCRIPTD_URL: daemon.url, JAVASCRIPTD_SECRET: SECRET };
    folder = mkdtempSync(join(tmpdir(), 'javascriptd-client-package-'));
    bin = join(folder, 'node_modules', 'javascriptd-client', 'bin', 'javascriptd-client');
  });

  after(async () => {
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  });

  it('packs only its build, bin and README', () => {
    const packed = spawnNode([NPM, 'pack', '--json', '--ignore-scripts', '--no-update-notifier', '--pack-destination', folder], CLIENT);
    const [pack] = JSON.parse(ok(packed, 'npm pack')) as {
      filename: string;
      size: number;
      unpackedSize: number;
      files: { path: string }[];
    }[];
    const files = pack.files.map((f) => f.path).sort();
    for (const expected of [
      'package.json',
      'README.md',
      'bin/javascriptd-client',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/index.mjs',
      'dist/index.d.mts',
      'dist/cli/index.js',
      'dist/cli/main.js',
    ]) {
      assert.ok(files.includes(expected), `the tarball has ${expected}: ${files.join(', ')}`);
    }
    assert.deepEqual(
      files.filter((path) => !/^(package\.json|README\.md|bin\/javascriptd-client|dist\/.*\.(js|mjs|d\.ts|d\.mts))$/.test(path)),
      [],
      'nothing else (no sources, tsconfig or node_modules)',
    );
    console.log(
      `      ${pack.filename}: ${(pack.size / 1024).toFixed(1)} kB, ${(pack.unpackedSize / 1024).toFixed(1)} kB unpacked, ${files.length} files`,
    );
  });

  it('installs into an empty folder with ws as its only dependency', () => {
    const [tarball] = readdirSync(folder).filter((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'packed');
    const started = performance.now();
    // --prefer-offline: ws from npm's cache when `npm ci` put it there, else from the registry.
    ok(
      spawnNode([NPM, 'install', '--no-audit', '--no-fund', '--no-update-notifier', '--prefer-offline', `./${tarball}`], folder),
      'npm install',
    );
    const took = performance.now() - started;
    const installed = readdirSync(join(folder, 'node_modules')).filter((name) => !name.startsWith('.'));
    assert.deepEqual(installed.sort(), ['javascriptd-client', 'ws']);
    const pkg = JSON.parse(readFileSync(join(folder, 'node_modules', 'javascriptd-client', 'package.json'), 'utf8')) as {
      engines: { node: string };
      dependencies: Record<string, string>;
    };
    assert.deepEqual(Object.keys(pkg.dependencies), ['ws']);
    assert.equal(satisfies(node20?.version ?? process.version, pkg.engines.node), true, `${pkg.engines.node} admits the Node it runs on`);
    console.log(`      npm install: ${Math.round(took)} ms`);
  });

  it('runs its CLI: --version, --help and run against the daemon', () => {
    assert.equal(ok(spawnNode([bin, '--version'], folder), '--version'), '0.1.0\n');
    const started = performance.now();
    const help = ok(spawnNode([bin, 'run', '--help'], folder), 'run --help');
    const took = performance.now() - started;
    assert.match(help, /^Usage: javascriptd-client run <file> \[options\]/);
    assert.match(ok(spawnNode([bin, '--help'], folder), '--help'), /javascriptd-client run --help/);
    writeFileSync(
      join(folder, 'check.js'),
      'function check(cb) { console.log("title", event.title); cb({ ok: /^feat/.test(event.title), n }); }',
    );
    writeFileSync(join(folder, 'event.json'), JSON.stringify({ title: 'feat: packed' }));
    const run = spawnNode([bin, 'run', 'check.js', '--call', 'check', '--event', 'event.json', '--global', 'n=3'], folder, env);
    assert.equal(ok(run, 'run'), 'title feat: packed\n{\n  "ok": true,\n  "n": 3\n}\n');
    assert.equal(run.stderr, '');
    writeFileSync(join(folder, 'throws.js'), 'throw new TypeError("bad title")');
    const thrown = spawnNode([bin, 'run', 'throws.js'], folder, env);
    assert.equal(thrown.status, 1, thrown.stderr);
    assert.match(thrown.stderr, /^javascriptd-client: 1000 TypeError: bad title\n/);
    const refused = spawnNode([bin, 'run', 'check.js'], folder, { ...env, JAVASCRIPTD_SECRET: 'not-the-secret' });
    assert.equal(refused.status, 4);
    assert.match(refused.stderr, /HTTP 401/);
    console.log(`      run --help: ${Math.round(took)} ms`);
  });

  it('runs as `npx javascriptd-client run`, as a CI job would', () => {
    const run = spawnNode(
      [
        NPM,
        'exec',
        '--no-update-notifier',
        '--offline',
        '--',
        'javascriptd-client',
        'run',
        'check.js',
        '--call',
        'check',
        '--event',
        'event.json',
        '--global',
        'n=4',
        '--json',
      ],
      folder,
      env,
    );
    assert.deepEqual((JSON.parse(ok(run, 'npx javascriptd-client run')) as { value: unknown }).value, { ok: true, n: 4 });
  });

  it('serves a CommonJS and an ES module program: execute, its errors, one class for both', () => {
    const body = `
      const rt = await connect(process.env.JAVASCRIPTD_URL, { secret: process.env.JAVASCRIPTD_SECRET });
      const result = await rt.execute({ code: 'function f(cb) { console.log("node", typeof process); cb(n * 2); }', call: 'f', globals: { n: 21 } });
      let error;
      try { await rt.execute({ code: 'null.x' }); } catch (e) { error = e; }
      await rt.close();
      console.log(JSON.stringify({ node: process.version, value: result.value, console: result.console, error: [error instanceof ExecutionError, error.code === ErrorCode.Exception, error.message] }));`;
    writeFileSync(
      join(folder, 'program.cjs'),
      `const { connect, ErrorCode, ExecutionError } = require('javascriptd-client');\n(async () => {${body}\n})().catch((e) => { console.error(e); process.exit(1); });\n`,
    );
    writeFileSync(
      join(folder, 'program.mjs'),
      `import { connect, ErrorCode, ExecutionError } from 'javascriptd-client';\nimport { createRequire } from 'node:module';\nif (createRequire(import.meta.url)('javascriptd-client').ExecutionError !== ExecutionError) throw new Error('import and require gave two ExecutionError classes');\n${body}\n`,
    );
    for (const program of ['program.cjs', 'program.mjs']) {
      const printed = JSON.parse(ok(spawnNode([program], folder, env), program)) as { node: string };
      assert.deepEqual(printed, {
        node: node20?.version ?? process.version,
        value: 42,
        console: ['node undefined'],
        error: [true, true, "TypeError: Cannot read properties of null (reading 'x')"],
      });
    }
  });

  it('types both entries: require (index.d.ts) and import (index.d.mts)', () => {
    const use = `
      const rt: Client = await connect('ws://127.0.0.1:1/', { secret: 's', reconnect: { retries: 1 } });
      const result: ExecutionResult = await rt.execute({ code: '1' }, { timeoutMs: 10 });
      const code: number = ErrorCode.Timeout;
      // @ts-expect-error code is required (were the types missing, this directive would be unused: an error)
      await rt.execute({ call: 'f' });
      void [result, code];`;
    const imports = 'connect, ErrorCode, type Client, type ExecutionResult';
    writeFileSync(join(folder, 'types.mts'), `import { ${imports} } from 'javascriptd-client';\n${use}\n`);
    writeFileSync(join(folder, 'types.cts'), `import { ${imports} } from 'javascriptd-client';\nexport async function main() {${use}\n}\n`);
    const tsconfig = {
      compilerOptions: {
        module: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      files: ['types.mts', 'types.cts'],
    };
    writeFileSync(join(folder, 'tsconfig.json'), JSON.stringify(tsconfig));
    // This project's TypeScript, run by this project's Node: the types are what is tested, not the compiler's Node.
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--explainFiles'], {
      cwd: folder,
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(
      tsc.status,
      0,
      tsc.stdout
        .split('\n')
        .filter((line) => line.includes('error'))
        .join('\n'),
    );
    // --explainFiles: each file, then why it is in (indented lines).
    const why = (file: string) => {
      const at = tsc.stdout.indexOf(`\n${file}\n`);
      return at < 0 ? `${file} is not in the program` : (/^\n(?:[ \t]+.*\n)*/.exec(tsc.stdout.slice(at + file.length + 1))?.[0] ?? '');
    };
    assert.match(why('node_modules/javascriptd-client/dist/index.d.mts'), /Imported via 'javascriptd-client' from file 'types\.mts'/);
    assert.match(why('node_modules/javascriptd-client/dist/index.d.ts'), /Imported via 'javascriptd-client' from file 'types\.cts'/);
  });
});

describeWithEngine(`the daemon, started with Node 20, which it does not support`, node20Missing, () => {
  for (const args of [
    ['bin/javascriptd', 'serve'],
    ['dist/src/cli.js', 'serve'],
    ['dist/src/cli.js', '--version'],
    ['bin/javascriptd', 'run', 'x.js'],
  ]) {
    it(`\`node ${args.join(' ')}\` says which Node it needs in one line and exits 2`, () => {
      const result = spawnNode(args, ROOT);
      const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
      const hint = args.includes('run') ? '; to run scripts from this Node, use javascriptd-client (npx javascriptd-client run …)' : '';
      assert.equal(result.stderr, `javascriptd: the daemon needs Node ${engines} (this is ${node20?.version})${hint}\n`);
      assert.equal(result.stdout, '');
      assert.equal(result.status, 2);
    });
  }
});

describe("the daemon's check of its Node version", () => {
  it('reads engines as npm does', () => {
    const cases: [string, string, boolean | undefined][] = [
      ['v24.21.0', '>=24 <25', true],
      ['v24.0.0', '>=24 <25', true],
      ['v20.20.2', '>=24 <25', false],
      ['v25.0.0', '>=24 <25', false],
      ['v25.9.1', '<=25', true],
      ['v26.0.0', '<=25', false],
      ['v20.0.0', '>20', false],
      ['v21.0.0', '>20', true],
      ['v20.5.0', '20', true],
      ['v20.5.0', '=20.5.0', true],
      ['v21.0.0', '>=20 <21 || >=22', false],
      ['v22.1.0', '>=20 <21 || >=22', true],
      ['v20.1.0', '^20', undefined],
    ];
    for (const [version, range, expected] of cases) assert.equal(satisfies(version, range), expected, `${version} in ${range}`);
  });
});

describe('npm pack -w javascriptd-client, in the repository as docs/clients.md says', () => {
  it('leaves a tarball that git does not show', function () {
    if (spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: ROOT }).status !== 0) this.skip();
    const packed = spawnSync(process.execPath, [fallbackNpm, 'pack', '-w', 'javascriptd-client', '--ignore-scripts', '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(packed.status, 0, packed.stderr);
    const [{ filename }] = JSON.parse(packed.stdout) as { filename: string }[];
    const tarball = join(ROOT, filename);
    try {
      assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);
      const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=all', '--', filename], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(status.status, 0, status.stderr);
      assert.equal(status.stdout, '', `git shows the tarball: ${status.stdout}`);
    } finally {
      rmSync(tarball, { force: true });
    }
  });
});
