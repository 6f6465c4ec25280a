// `javascriptd run` (the daemon's CLI) and `javascriptd-client run` (the
// client package's) as child processes against a real daemon: output, --json,
// every exit code, the secret from the environment, usage errors, the spinner
// on a terminal (util-linux `script` gives it one) and --help of every command.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Command, run } from 'javascriptd-client/cli';
import { health, images, prepare, schema, serve } from '../src/cli/daemon-commands.js';
import { CLI, executionLines, freePort, type RunningDaemon, runCli, startDaemon } from './helpers/daemon.js';
import { Gates, startHttpServer, type TestServer } from './helpers/http-server.js';
import { loadedBy } from './helpers/loaded.js';
import { until } from './helpers/poll.js';

const SECRET = 'cli-test-secret';
const dir = mkdtempSync(join(tmpdir(), 'javascriptd-cli-'));
const CLIENT = join(__dirname, '..', '..', 'packages', 'client');

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The two CLIs with a `run` command, as node's arguments before the command's. */
const CLIS = [
  { program: 'javascriptd', node: ['--no-node-snapshot', CLI] },
  { program: 'javascriptd-client', node: [join(CLIENT, 'bin', 'javascriptd-client')] },
];

/** Runs a CLI to completion with only `env` (and PATH) as its environment. */
function spawnCli(node: string[], args: string[], env: Record<string, string>, input?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...node, ...args], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 20000,
    input,
  });
}

for (const { program, node } of CLIS)
  describe(`${program} run`, function () {
    this.timeout(30000);
    let daemon: RunningDaemon;
    let env: Record<string, string>;
    let server: TestServer;
    const gates = new Gates();

    const cli = (args: string[], extraEnv: Record<string, string> = {}) => spawnCli(node, ['run', ...args], { ...env, ...extraEnv });

    before(async () => {
      server = await startHttpServer({ '/gate/*': gates.route });
      daemon = await startDaemon({ SECRET, MAX_TIMEOUT: '5000', FETCH_ALLOW: `GET ${server.origin}/gate/*` });
      env = { JAVASCRIPTD_URL: daemon.url, JAVASCRIPTD_SECRET: SECRET };
    });

    after(async () => {
      await daemon?.stop();
      await server?.close();
    });

    it('prints the console lines, then the value as JSON, and exits 0', () => {
      const script = file('ok.js', 'console.log("one"); console.log("two", { a: 1 }); ({ answer: 42 })');
      const result = cli([script]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'one\ntwo { a: 1 }\n{\n  "answer": 42\n}\n');
      assert.equal(result.stderr, '', 'nothing on stderr when it is not a terminal');
    });

    it('--json prints the whole reply as one JSON document', () => {
      const result = cli([file('json.js', 'console.log("x"); [1, 2]'), '--json']);
      assert.equal(result.status, 0);
      const reply = JSON.parse(result.stdout) as { value: unknown; console: string[]; time: number };
      assert.deepEqual(reply.value, [1, 2]);
      assert.deepEqual(reply.console, ['x']);
      assert.equal(typeof reply.time, 'number');
    });

    it('--call, --caller, --globals, --event and --global set up the script', () => {
      const script = file(
        'handler.js',
        'function handle(prefix, cb) { cb({ prefix, repo: event.repository.full_name, team, retries, label }); }',
      );
      const caller = file('caller.js', '(callee, cb) => callee("ci:", cb)');
      const globals = file('globals.json', JSON.stringify({ team: 'core', retries: 1 }));
      const event = file('event.json', JSON.stringify({ repository: { full_name: 'acme/app' } }));
      const result = cli([
        script,
        '--call',
        'handle',
        '--caller',
        caller,
        '--globals',
        globals,
        '--event',
        event,
        '--global',
        'retries=3',
        '--global',
        'label=nightly build',
      ]);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { prefix: 'ci:', repo: 'acme/app', team: 'core', retries: 3, label: 'nightly build' });
    });

    /** Starts `run`, handing each line of its stdout to `onLine` as it comes; resolves with them and the exit status. */
    const runLive = (args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => {}) => {
      const child = spawn(process.execPath, [...node, 'run', ...args], {
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        onLine(line, child);
      });
      return once(child, 'close').then(([status]) => ({ status: status as number | null, lines, stderr: () => stderr }));
    };

    it('prints console lines as the script prints them, then the value', async () => {
      // It waits at its gate, which opens when its first line is out: printed at the end, that line would never come (1002 at 5 s).
      const script = file(
        'ticks.js',
        `async function h() { console.log("tick", 1); await fetch("${server.origin}/gate/ticks"); console.log("tick", 2); return "done"; }`,
      );
      const { status, lines, stderr } = await runLive([script, '--call', 'h', '--timeout', '5000'], (line) => {
        if (line === 'tick 1') gates.release('ticks');
      });
      assert.equal(status, 0, stderr());
      assert.deepEqual(lines, ['tick 1', 'tick 2', '"done"']);
    });

    it('--usage prints what the run cost on stderr', () => {
      const result = cli([file('cost.js', 'console.log("abc"); const end = Date.now() + 50; while (Date.now() < end) {} 1'), '--usage']);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'abc\n1\n');
      const usage = result.stderr.match(
        /^usage: cpu ([\d.]+) ms, wall ([\d.]+) ms, heap \d+ B, 0 fetches \(0 B out, 0 B in\), console 4 B$/m,
      );
      assert.ok(usage !== null, result.stderr);
      // Some CPU, at most the wall time; the wall time at least the loop's 50 ms.
      const [cpu, wall] = [Number(usage[1]), Number(usage[2])];
      assert.ok(cpu > 0 && cpu <= wall + 5 && wall >= 45, result.stderr);
    });

    it('Ctrl-C cancels the execution in the daemon, then exits 130', async () => {
      const code = 'function h(cb) { console.log("spinning"); for (;;) {} }';
      const script = file('spin.js', code);
      const { status, stderr } = await runLive([script, '--call', 'h', '--timeout', '5000'], (line, child) => {
        if (line === 'spinning') child.kill('SIGINT');
      });
      assert.equal(status, 130, stderr());
      assert.match(stderr(), /cancelled/);
      // Its own line, by its code's hash: the daemon's lines are buffered, so an earlier test's may come after this one started.
      const execution = () => executionLines(daemon, code)[0];
      await until(() => execution() !== undefined, 'the execution logged');
      assert.equal(execution()?.code, 1007, 'the daemon cancelled it, well before its 5 s time limit');
    });

    it('reads the script from standard input with "-"', () => {
      const result = spawnCli(node, ['run', '-'], env, '"from stdin"');
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, '"from stdin"\n');
    });

    it("exits 1 on an exception, printing the message once, the stack's frames in the file's own name and the console", () => {
      const path = file('throws.js', 'console.log("got here");\nfunction explode() { throw new TypeError("boom"); }\nexplode();');
      const result = cli([path]);
      assert.equal(result.status, 1);
      assert.equal(result.stdout, 'got here\n');
      assert.equal(
        result.stderr,
        `${program}: 1000 TypeError: boom\n    at explode (${path}:2:28)\n    at ${path}:3:1\n`,
        "the stack's first line, the message, is not printed again",
      );
      // A TypeScript syntax error: its position, in the file's name, once.
      const syntax = file('broken.ts', 'const x: number = ;\n');
      assert.equal(cli([syntax]).stderr, `${program}: 1000 SyntaxError: Unexpected ";" [${syntax}:1:19]\n`);
      // From standard input there is no file name: the daemon's stays.
      assert.match(spawnCli(node, ['run', '-', '--typescript'], env, 'const x: number = ;').stderr, /\[script\.ts:1:19\]/);
    });

    it('exits 2 when --call names no function, saying which it looked for; 3 on a timeout', () => {
      const missing = cli([file('nofn.js', 'function handler(cb) { cb(1); }'), '--call', 'hanlder']);
      assert.equal(missing.status, 2);
      assert.equal(missing.stderr, `${program}: 1001 Not implemented: no function "hanlder" in the script\n`);
      const notExported = cli([file('nofn.mjs', 'export function handler(cb) { cb(1); }'), '--call', 'hanlder']);
      assert.equal(notExported.stderr, `${program}: 1001 Not implemented: no exported function "hanlder" in the module\n`);
      // --json is the daemon's reply as sent: the message the original javascriptd's clients compare.
      const json = cli([file('nofn2.js', '1'), '--call', 'hanlder', '--json']);
      assert.deepEqual(JSON.parse(json.stdout), { error: { code: 1001, message: 'Not implemented' } });
      const timeout = cli([file('loop.js', 'console.log("looping"); while (true) {}'), '--timeout', '100', '--json']);
      assert.equal(timeout.status, 3);
      const reply = JSON.parse(timeout.stdout) as { error: { code: number; data: { console: string[] } } };
      assert.equal(reply.error.code, 1002);
      assert.deepEqual(reply.error.data.console, ['looping']);
    });

    it('exits 4 when it cannot connect or is refused; the secret comes only from JAVASCRIPTD_SECRET', async () => {
      const script = file('one.js', '1');
      const nobody = cli([script, '--url', `ws://127.0.0.1:${await freePort()}/`]);
      assert.equal(nobody.status, 4);
      assert.match(nobody.stderr, /cannot connect/);
      const noSecret = spawnCli(node, ['run', script], { JAVASCRIPTD_URL: daemon.url });
      assert.equal(noSecret.status, 4);
      assert.match(noSecret.stderr, /HTTP 401/);
      const wrong = cli([script], { JAVASCRIPTD_SECRET: 'not-it' });
      assert.equal(wrong.status, 4);
      assert.ok(!wrong.stderr.includes('not-it') && !wrong.stdout.includes('not-it'), 'the secret is never printed');
      for (const flag of [['--secret', SECRET], [`--secret=${SECRET}`]]) {
        const refused = cli([script, ...flag]);
        assert.equal(refused.status, 5, 'there is no --secret flag to leak into process lists');
        assert.equal(
          refused.stderr,
          `${program}: --secret is not an option: pass the secret in JAVASCRIPTD_SECRET (a command line shows in process lists)\n` +
            `Usage: ${program} run <file> [options] (\`${program} run --help\` lists them)\n`,
        );
      }
    });

    it('exits 5 on usage errors, saying what is wrong in one line and how the command is called in another', () => {
      for (const args of [
        [],
        ['missing-file.js'],
        [file('u.js', '1'), '--timeout', 'soon'],
        [file('u2.js', '1'), '--global', 'novalue'],
        [file('u3.js', '1'), '--globals', file('bad.json', '{nope')],
        [file('u4.js', '1'), '--url', 'http://x/'],
        [file('u5.js', '1'), '--frobnicate'],
      ]) {
        const result = cli(args);
        assert.equal(result.status, 5, `${args.join(' ')}: ${result.stderr}`);
        const lines = result.stderr.split('\n');
        assert.equal(lines.length, 3, result.stderr);
        assert.match(lines[0], new RegExp(`^${program}: `));
        assert.equal(lines[1], `Usage: ${program} run <file> [options] (\`${program} run --help\` lists them)`);
      }
      assert.match(cli([file('u6.js', '1'), '--frobnicate']).stderr, new RegExp(`^${program}: unknown option --frobnicate\n`));
    });

    it('shows a spinner with the elapsed time on a terminal, and nothing when piped', () => {
      const script = file('slow.js', 'function f(cb) { setTimeout(() => cb("done"), 700); }');
      const command = [process.execPath, ...node, 'run', script, '--call', 'f'].map((part) => `'${part}'`).join(' ');
      const onTerminal = spawnSync('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
      assert.equal(onTerminal.status, 0, onTerminal.stderr);
      assert.match(onTerminal.stdout, /\r⠋ running .*slow\.js on ws:\/\/\S+ 0\.\ds\r⠙ running /);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequence that erases a terminal line is what is checked.
      assert.match(onTerminal.stdout, /\r\x1b\[2K"done"/, 'the spinner erases itself before the value');
      assert.match(onTerminal.stdout, /"done"/);
      const piped = cli([script, '--call', 'f']);
      assert.equal(piped.stdout, '"done"\n');
      assert.doesNotMatch(piped.stderr, /[⠋⠙⠹⠸]/);
    });
  });

describe('javascriptd --help', () => {
  const commands: Command[] = [serve, run, health, prepare, schema, images];

  it('describes every command from the table that parses its flags', () => {
    for (const command of commands) {
      const result = runCli([command.name, '--help']);
      assert.equal(result.status, 0, command.name);
      assert.match(result.stdout, new RegExp(`^Usage: javascriptd ${command.name}`));
      for (const name of Object.keys(command.options)) assert.match(result.stdout, new RegExp(`--${name}\\b`), `${command.name} --${name}`);
    }
    const overview = runCli(['--help']);
    for (const command of commands) assert.match(overview.stdout, new RegExp(`^  ${command.name} `, 'm'));
  });
});

describe('javascriptd health, --help and run --help', function () {
  this.timeout(30000);
  // What only serve (and prepare, images) use: the HEALTHCHECK runs `health` every 10 s.
  const HEAVY =
    /node_modules[\\/](isolated-vm|ajv|esbuild|ws|pino|prom-client|undici|dockerode)[\\/]|src[\\/](daemon|log|sandbox[\\/].*)\.js$/;
  const heavy = (args: string[], port: number) => {
    const { run, loaded } = loadedBy([CLI, ...args], { env: { PATH: process.env.PATH, PORT: String(port) } });
    return { run, heavy: loaded.filter((file) => HEAVY.test(file)), loaded };
  };

  it('health exits 0 when /healthz answers 200, 1 when nothing answers, and loads none of the daemon', async () => {
    const daemon = await startDaemon();
    try {
      const up = heavy(['health'], daemon.port);
      assert.equal(up.run.status, 0, up.run.stderr);
      assert.equal(up.run.stdout, `http://127.0.0.1:${daemon.port}/healthz: 200\n`);
      assert.ok(
        up.loaded.some((file) => file.endsWith('daemon-commands.js')),
        'the hook saw the CLI',
      );
      assert.deepEqual(up.heavy, []);
    } finally {
      await daemon.stop();
    }
    const port = await freePort();
    const down = heavy(['health'], port);
    assert.equal(down.run.status, 1);
    assert.equal(down.run.stdout, `http://127.0.0.1:${port}/healthz: no answer\n`);
    assert.deepEqual(down.heavy, []);
  });

  it('--help and run --help load none of the daemon, nor the client', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['run', '--help']]) {
      const help = heavy(args, 0);
      assert.equal(help.run.status, 0, args.join(' '));
      assert.deepEqual(help.heavy, [], args.join(' '));
      assert.ok(!help.loaded.some((file) => file.endsWith('client.js')), args.join(' '));
    }
  });
});

describe('javascriptd-client --help, --version', () => {
  const client = (args: string[]) => spawnCli(CLIS[1].node, args, {});

  it('describes its one command, run, and prints the package version', () => {
    const overview = client(['--help']);
    assert.equal(overview.status, 0);
    assert.match(overview.stdout, /^Usage: javascriptd-client run <file> \[options\]/);
    const help = client(['run', '--help']);
    assert.equal(help.status, 0);
    for (const name of Object.keys(run.options)) assert.match(help.stdout, new RegExp(`--${name}\\b`), `--${name}`);
    const pkg = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(client(['--version']).stdout, `${pkg.version}\n`);
  });

  it("exits 5 without a command or with one of the daemon's", () => {
    const none = client([]);
    assert.equal(none.status, 5);
    assert.equal(
      none.stderr,
      'javascriptd-client: javascriptd-client needs a command: run <file>\nUsage: javascriptd-client run <file> [options] (`javascriptd-client run --help` lists them)\n',
    );
    const serve = client(['serve']);
    assert.equal(serve.status, 5);
    assert.match(serve.stderr, /unknown command: serve \(javascriptd-client runs scripts only; the daemon is the javascriptd command\)/);
  });
});
