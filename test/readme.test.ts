// The README's CI example, run as written (bash, from the repository) against
// a daemon started with the README's start command, `npm start`.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '..', '..');

/** The shell block that follows `<!-- ci-example -->` in the README. */
function ciExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- ci-example -->\n```sh\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(block, 'the README has a ci-example block');
  return block[1];
}

/** `npm start` in its own process group (npm, sh, node), resolved once the daemon listens. */
async function npmStart(): Promise<ChildProcess> {
  const npm = process.env.npm_execpath;
  const child = npm === undefined ? spawn('npm', ['start'], { cwd: ROOT, detached: true }) : spawn(process.execPath, [npm, 'start'], { cwd: ROOT, detached: true });
  const output: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.includes('"msg":"listening"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output.join('\n')}`)));
  });
  return child;
}

describe('README', function () {
  this.timeout(120000);
  let daemon: ChildProcess | undefined;

  after(async () => {
    if (daemon?.pid === undefined || daemon.exitCode !== null) return;
    const exited = once(daemon, 'exit');
    process.kill(-daemon.pid, 'SIGTERM');
    await exited;
  });

  it('its CI example runs as written against a daemon started with `npm start`', async () => {
    daemon = await npmStart();
    const env = { ...process.env };
    delete env.JAVASCRIPTD_URL;
    delete env.JAVASCRIPTD_SECRET;
    delete env.GITHUB_EVENT_PATH;
    const result = spawnSync('bash', ['-e', '-c', ciExample()], { cwd: ROOT, env, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, '#7 "feat(cli): run scripts from CI jobs" by octocat\n{\n  "ok": true,\n  "type": "feat"\n}\n');
  });
});
