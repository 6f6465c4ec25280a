// The README's shell examples, run as written (bash, from the repository root)
// against a daemon started with the README's start command, `npm start`, on a
// free port (PORT=0) that the examples reach through JAVASCRIPTD_URL. A block is
// an example when `<!-- example: NAME -->` comes right before it; each one has
// its expected output, and the number of executions it makes, here.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { until } from './helpers/poll.js';

const ROOT = join(__dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Expected {
  /** Its standard output, with every `"time":…` of a --json reply written `"time":T`. */
  stdout: string;
  /** The executions the daemon logs for it. */
  executions: number;
}

const EXPECTED: Record<string, Expected> = {
  shell: {
    stdout: [
      'hi',
      '[\n  2,\n  4,\n  6\n]',
      '{"value":[2,4,6],"console":["hi"],"time":T}',
      '42',
      'order 7: 2 items, 31 EUR before 10% off',
      '{\n  "order": 7,\n  "total": 27.9,\n  "currency": "EUR"\n}',
      '',
    ].join('\n'),
    executions: 4,
  },
  ci: {
    stdout: '#7 "feat(cli): run scripts from CI jobs" by octocat\n{\n  "ok": true,\n  "type": "feat"\n}\n',
    executions: 1,
  },
  curl: {
    stdout: '{"jsonrpc":"2.0","id":1,"result":{"value":42,"console":["hi"],"time":T}}',
    executions: 1,
  },
};

interface Block {
  /** The NAME of `<!-- example: NAME -->`, or undefined for a block that is not run. */
  name: string | undefined;
  lang: string;
  code: string;
}

function blocks(): Block[] {
  const found: Block[] = [];
  for (const match of README.matchAll(/(?:<!-- example: ([\w-]+) -->\n)?```(\w*)\n([\s\S]*?)\n```/g)) {
    found.push({ name: match[1], lang: match[2], code: match[3] });
  }
  return found;
}

const EXAMPLES = blocks().filter((block) => block.name !== undefined);

interface StartedDaemon {
  process: ChildProcess;
  url: string;
  /** Its stdout lines so far (JSON log lines). */
  lines: string[];
}

/** `npm start` on a free port, in its own process group (npm, sh, node), resolved once the daemon listens. */
async function npmStart(): Promise<StartedDaemon> {
  const npm = process.env.npm_execpath;
  const options = { cwd: ROOT, detached: true, env: { ...process.env, PORT: '0' } };
  const child = npm === undefined ? spawn('npm', ['start'], options) : spawn(process.execPath, [npm, 'start'], options);
  const output: string[] = [];
  const lines: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      lines.push(line);
      const listening = /"msg":"listening"/.test(line) ? (JSON.parse(line) as { url: string }).url : undefined;
      if (listening !== undefined) resolve(listening);
    });
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output.join('\n')}`)));
  });
  return { process: child, url, lines };
}

function executions(daemon: StartedDaemon): number {
  return daemon.lines.filter((line) => line.includes('"msg":"execution"')).length;
}

describe('README', function () {
  this.timeout(120000);
  let daemon: StartedDaemon | undefined;

  before(async () => {
    daemon = await npmStart();
  });

  after(async () => {
    const child = daemon?.process;
    if (child?.pid === undefined || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  });

  it('marks every shell block that runs javascriptd (its CLI, or curl) as an example, and each example has its expected output here', () => {
    for (const block of blocks()) {
      if (block.lang === 'sh' && /\bjavascriptd run\b|^curl\b/m.test(block.code)) {
        assert.ok(block.name !== undefined, `this shell block is not marked <!-- example: NAME -->:\n${block.code}`);
      }
    }
    for (const block of EXAMPLES) assert.equal(block.lang, 'sh', `the example ${block.name} is a shell block`);
    assert.deepEqual(EXAMPLES.map((block) => block.name).sort(), Object.keys(EXPECTED).sort());
  });

  it('names only files of examples/ that exist', () => {
    const named = new Set(README.match(/\bexamples\/[\w./-]*\w/g) ?? []);
    assert.ok(named.size > 0);
    for (const path of named) assert.ok(existsSync(join(ROOT, path)), `the README names ${path}, which does not exist`);
  });

  for (const { name, code } of EXAMPLES) {
    it(`runs its "${name}" example as written, against a daemon started with \`npm start\``, async () => {
      const expected = EXPECTED[name!];
      assert.ok(expected, `no expected output for the example ${name}`);
      const env: NodeJS.ProcessEnv = { ...process.env, JAVASCRIPTD_URL: daemon!.url };
      delete env.JAVASCRIPTD_SECRET;
      delete env.GITHUB_EVENT_PATH;
      const before = executions(daemon!);
      const result = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', code], { cwd: ROOT, env, encoding: 'utf8', timeout: 60000 });
      assert.equal(result.status, 0, `${name} exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
      assert.equal(result.stdout.replace(/"time":[\d.e+-]+/g, '"time":T'), expected.stdout, result.stderr);
      // It ran on this daemon (not on one a developer left on the default port). A
      // reply can overtake its log line, so wait for the lines a moment.
      await until(() => executions(daemon!) - before >= expected.executions, `the executions of ${name} logged`);
      assert.equal(executions(daemon!) - before, expected.executions, `executions logged by the test's daemon for ${name}`);
    });
  }
});
