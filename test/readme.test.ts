// The examples of the README and of docs/*.md, run as written (from the
// repository root) against a daemon started with the README's start command,
// `npm start`, on a free port (PORT=0) that they reach through JAVASCRIPTD_URL.
// Every fenced block is marked right before it: `<!-- example: NAME -->` runs,
// `<!-- not run: WHY -->` says why it does not; an unmarked block fails the
// suite. How an example runs follows its language: `sh` in bash and `js` as an
// ES module in node, each with its expected output (and the executions it
// makes) here; `text`, a transcript (→ sent, ← received), over a WebSocket,
// every frame received compared with the one written; `json`, a CONFIG file,
// validated against config.schema.json.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import Ajv from 'ajv';
import WebSocket from 'ws';
import { until } from './helpers/poll.js';

const ROOT = join(__dirname, '..', '..');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

interface Expected {
  /** Its standard output, with every `"time":…` of a --json reply written `"time":T`. */
  stdout: string;
  /** The executions the daemon logs for it. */
  executions: number;
}

const DOUBLE_JS = 'hi\n[\n  2,\n  4,\n  6\n]\n';
const EXPECTED: Record<string, Expected> = {
  'first-cli': { stdout: `${DOUBLE_JS}hi\n42\n`, executions: 2 },
  'first-client': { stdout: "{ total: 20 } [ 'order 7' ]\n", executions: 1 },
  'first-curl': { stdout: '{"jsonrpc":"2.0","id":1,"result":{"value":42,"console":["hi"],"time":T}}', executions: 1 },
  client: {
    stdout: [
      "{ total: 20 } [ 'order 7' ]",
      "1000 TypeError: Cannot read properties of null (reading 'x') []",
      'live: step 1',
      'live: step 2',
      'live: step 3',
      '',
    ].join('\n'),
    executions: 3,
  },
  'client-cli': { stdout: DOUBLE_JS, executions: 1 },
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
  file: string;
  /** The NAME of `<!-- example: NAME -->`. */
  name: string | undefined;
  /** Why it is not run, from `<!-- not run: WHY -->`. */
  notRun: string | undefined;
  lang: string;
  code: string;
}

function blocks(): Block[] {
  const found: Block[] = [];
  for (const file of DOCS) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const match of text.matchAll(/(?:<!-- (?:example: ([\w-]+)|not run: ([^\n]+?)) -->\n)?^```(\w*)\n([\s\S]*?)\n```$/gm)) {
      found.push({ file, name: match[1], notRun: match[2], lang: match[3], code: match[4] });
    }
  }
  return found;
}

const EXAMPLES = blocks().filter((block) => block.name !== undefined);
const RUNNERS = ['sh', 'js', 'text', 'json'];

interface StartedDaemon {
  process: ChildProcess;
  url: string;
  /** Its stdout lines so far (JSON log lines). */
  lines: string[];
}

/**
 * `npm start` on a free port, in its own process group (npm, sh, node), resolved
 * once the daemon listens. Scripts may import lodash (docs/scripts.md's module
 * transcript), from this repository's node_modules.
 */
async function npmStart(): Promise<StartedDaemon> {
  const npm = process.env.npm_execpath;
  const env = { ...process.env, PORT: '0', MODULES: 'lodash', MODULE_PATH: join(ROOT, 'node_modules'), LOG_FORMAT: 'json' };
  const options = { cwd: ROOT, detached: true, env };
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

/** Executions the daemon has answered: its metrics count each before its reply is sent (its log line may come later: lines are buffered). */
async function executions(daemon: StartedDaemon): Promise<number> {
  const metrics = await (await fetch(new URL('/metrics', daemon.url.replace(/^ws/, 'http')))).text();
  return [...metrics.matchAll(/^javascriptd_executions_total\{[^}]*\} (\d+)$/gm)].reduce((sum, [, n]) => sum + Number(n), 0);
}

const timeless = (text: string) => text.replace(/"time":[\d.e+-]+/g, '"time":T');

/** Sends each `→` line over a WebSocket and compares each `←` line with the next frame received, in order. */
async function runTranscript(url: string, transcript: string): Promise<void> {
  const ws = new WebSocket(url);
  const received: string[] = [];
  ws.on('message', (data: Buffer) => received.push(data.toString()));
  await once(ws, 'open');
  try {
    let next = 0;
    for (const line of transcript.split('\n')) {
      const [arrow, frame] = [line.slice(0, 1), line.slice(2)];
      if (arrow === '→') ws.send(frame);
      else {
        assert.equal(arrow, '←', `a transcript line is → or ←: ${line}`);
        const index = next++;
        await until(() => received.length > index || ws.readyState !== WebSocket.OPEN, `the frame ${frame}`);
        assert.equal(timeless(received[index] ?? '(the connection closed)'), timeless(frame));
      }
    }
    assert.equal(received.length, next, `no frame beyond the transcript's: ${received.slice(next).join('\n')}`);
  } finally {
    ws.close();
  }
}

describe('README and docs/*.md examples', function () {
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

  it('marks every block as an example or says why it is not run, and each example has a runner and its expected output', () => {
    const all = blocks();
    assert.ok(all.length >= 20, `found ${all.length} blocks`);
    for (const block of all) {
      const where = `${block.file}, the ${block.lang} block:\n${block.code.slice(0, 300)}`;
      assert.ok(
        block.name !== undefined || block.notRun !== undefined,
        `not marked <!-- example: NAME --> or <!-- not run: WHY -->: ${where}`,
      );
      if (block.name !== undefined) assert.ok(RUNNERS.includes(block.lang), `no runner for ${block.lang}: ${where}`);
    }
    const names = EXAMPLES.map((block) => block.name!);
    assert.equal(new Set(names).size, names.length, `example names are unique: ${names.join(', ')}`);
    const withOutput = EXAMPLES.filter((block) => block.lang === 'sh' || block.lang === 'js').map((block) => block.name);
    assert.deepEqual(withOutput.sort(), Object.keys(EXPECTED).sort());
  });

  it('names only files of examples/ that exist', () => {
    for (const file of DOCS) {
      const named = new Set(readFileSync(join(ROOT, file), 'utf8').match(/\bexamples\/[\w./-]*\w/g) ?? []);
      for (const path of named) assert.ok(existsSync(join(ROOT, path)), `${file} names ${path}, which does not exist`);
    }
  });

  it('links only to files that exist, and to headings they have', () => {
    /** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
    const slug = (heading: string) =>
      heading
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-');
    const anchors = (file: string) => new Set([...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((match) => slug(match[1])));
    let checked = 0;
    for (const file of DOCS) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split('#');
        const linked = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path);
        assert.ok(existsSync(linked), `${file} links to ${target}, which does not exist`);
        if (anchor !== undefined) assert.ok(anchors(linked).has(anchor), `${file} links to ${target}: no such heading`);
        checked++;
      }
    }
    assert.ok(checked > 20, `${checked} links checked`);
  });

  it("the README's client example prints the first call's value, and finds the daemon at JAVASCRIPTD_URL", () => {
    const code = EXAMPLES.find((block) => block.name === 'first-client')?.code ?? '';
    assert.match(code, /process\.env\.JAVASCRIPTD_URL/);
    assert.equal(EXPECTED['first-client'].stdout, "{ total: 20 } [ 'order 7' ]\n");
  });

  for (const { file, name, lang, code } of EXAMPLES) {
    if (lang === 'text') {
      it(`runs the "${name}" transcript of ${file} over a WebSocket, frame by frame`, async () => {
        await runTranscript(daemon!.url, code);
      });
    } else if (lang === 'json') {
      it(`validates the "${name}" CONFIG file of ${file} against config.schema.json`, () => {
        const validate = new Ajv().compile(JSON.parse(readFileSync(join(ROOT, 'config.schema.json'), 'utf8')) as object);
        assert.ok(validate(JSON.parse(code)), JSON.stringify(validate.errors));
      });
    } else {
      it(`runs the "${name}" example of ${file} as written, against a daemon started with \`npm start\``, async () => {
        const expected = EXPECTED[name!];
        assert.ok(expected, `no expected output for the example ${name}`);
        const env: NodeJS.ProcessEnv = { ...process.env, JAVASCRIPTD_URL: daemon!.url };
        delete env.JAVASCRIPTD_SECRET;
        delete env.GITHUB_EVENT_PATH;
        const before = await executions(daemon!);
        const [command, args] =
          lang === 'js' ? [process.execPath, ['--input-type=module']] : ['bash', ['-e', '-o', 'pipefail', '-c', code]];
        const result = spawnSync(command, args, {
          cwd: ROOT,
          env,
          input: lang === 'js' ? code : undefined,
          encoding: 'utf8',
          timeout: 60000,
        });
        assert.equal(result.status, 0, `${name} exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
        assert.equal(timeless(result.stdout), expected.stdout, result.stderr);
        // It ran on this daemon (not on one a developer left on the default port).
        assert.equal((await executions(daemon!)) - before, expected.executions, `executions answered by the test's daemon for ${name}`);
      });
    }
  }
});
