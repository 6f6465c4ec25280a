// What the daemon says to the person starting it: a wrong setting before the
// build, a variable that looks like a setting, which addresses it listens on,
// refused connections, and human logs at a terminal (util-linux `script` gives
// it one) with JSON elsewhere.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ThrottledWarning } from '../src/transport/throttled-warning.js';
import { CLI, type LogLine, startDaemon } from './helpers/daemon.js';
import { until } from './helpers/poll.js';
import { upgrade } from './helpers/raw-http.js';

const ROOT = join(__dirname, '..', '..');

describe('messages', function () {
  this.timeout(60000);

  describe('settings', () => {
    it('npm start says a wrong setting, echoing it, before it builds', () => {
      const started = spawnSync('npm', ['start'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TIMEOUT: 'abc', TIMOUT: '5' },
        encoding: 'utf8',
        timeout: 60000,
      });
      assert.equal(started.status, 2, started.stderr);
      assert.match(started.stderr, /^javascriptd: invalid settings:\n {2}TIMEOUT must be an integer, got "abc"\n/m);
      assert.match(started.stderr, /\(warning\) TIMOUT is not a setting, and is ignored: did you mean TIMEOUT\?/);
      // npm echoes each script it runs: the build's never ran.
      assert.doesNotMatch(`${started.stdout}${started.stderr}`, /tsc -p/);
    });

    it('logs a warning, naming the setting meant, for a variable that looks like one; and starts', async () => {
      const daemon = await startDaemon({ TIMOUT: '5000', JAVASCRIPTD_MAX_FRAME: '9' });
      try {
        const warnings = daemon
          .logs()
          .filter((line) => line.level === 40)
          .map((line) => line.msg);
        assert.ok(warnings.includes('TIMOUT is not a setting, and is ignored: did you mean TIMEOUT?'), warnings.join('\n'));
        assert.ok(
          warnings.includes('JAVASCRIPTD_MAX_FRAME is not a setting, and is ignored: did you mean MAX_FRAME?'),
          warnings.join('\n'),
        );
      } finally {
        await daemon.stop();
      }
    });
  });

  describe('the log', () => {
    const listening = (lines: LogLine[]) => lines.find((line) => line.msg === 'listening');

    it('says at start-up which addresses it listens on, and whether a secret guards them', async () => {
      const open = await startDaemon();
      const guarded = await startDaemon({ HOST: '0.0.0.0', SECRET: 'start-up-secret' });
      try {
        const loopback = listening(open.logs());
        assert.deepEqual(loopback?.addresses, [`127.0.0.1:${open.port}`]);
        assert.equal(loopback?.everyInterface, false);
        assert.equal(loopback?.secretRequired, false);
        const everywhere = listening(guarded.logs());
        const ipv4 = Object.values(networkInterfaces())
          .flatMap((entries) => entries ?? [])
          .filter((entry) => entry.family === 'IPv4')
          .map((entry) => `${entry.address}:${guarded.port}`);
        assert.deepEqual(everywhere?.addresses, ipv4);
        assert.ok(ipv4.includes(`127.0.0.1:${guarded.port}`));
        assert.equal(everywhere?.everyInterface, true);
        assert.equal(everywhere?.secretRequired, true);
      } finally {
        await Promise.all([open.stop(), guarded.stop()]);
      }
    });

    it('logs a refused secret at warn, without the secret or the header that carried it, a line per reason and interval', async () => {
      const secret = 'the-right-secret';
      const daemon = await startDaemon({ SECRET: secret });
      const wrong = 'not-the-secret-4f1d';
      try {
        const attempts: Record<string, string>[] = [
          { 'x-runtime-secret': wrong },
          { authorization: `Bearer ${wrong}` },
          { 'sec-websocket-protocol': `javascriptd, javascriptd.secret.${Buffer.from(wrong).toString('base64url')}` },
          { 'x-runtime-secret': wrong },
          { 'x-runtime-secret': wrong, authorization: 'Bearer other' },
          {},
        ];
        for (const headers of attempts) assert.equal((await upgrade(daemon.url, headers)).status, 401);
        const refusals = () => daemon.logs().filter((line) => String(line.msg).startsWith('refused a WebSocket upgrade (401)'));
        await until(() => refusals().length >= 3, 'the refusals logged');
        const byReason = new Map(refusals().map((line) => [line.reason, line]));
        assert.deepEqual([...byReason.keys()].sort(), ['missing secret', 'the secrets presented differ', 'wrong secret']);
        for (const line of byReason.values()) {
          assert.equal(line.level, 40);
          assert.match(String(line.remote), /^(::1|(::ffff:)?127\.0\.0\.1)$/, 'the address it came from');
        }
        // Four wrong secrets: fewer lines (one unless ten seconds passed between them).
        assert.ok(refusals().filter((line) => line.reason === 'wrong secret').length < 4);
        const output = daemon.output.join('\n');
        for (const leak of [wrong, Buffer.from(wrong).toString('base64url'), secret, 'Bearer'])
          assert.ok(!output.includes(leak), `the log holds ${leak}`);
      } finally {
        await daemon.stop();
      }
    });

    it('counts, on the next line, the warnings held back within the interval', () => {
      const lines: Record<string, unknown>[] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
      let now = 0;
      const warnings = new ThrottledWarning(log, 10_000, () => now);
      for (const at of [0, 1, 2, 9_999]) {
        now = at;
        warnings.warn('wrong secret', { reason: 'wrong secret' }, 'refused');
      }
      warnings.warn('missing secret', { reason: 'missing secret' }, 'refused');
      now = 10_000;
      warnings.warn('wrong secret', { reason: 'wrong secret' }, 'refused');
      assert.deepEqual(
        lines.map(({ reason, unlogged }) => ({ reason, unlogged })),
        [
          { reason: 'wrong secret', unlogged: undefined },
          { reason: 'missing secret', unlogged: undefined },
          { reason: 'wrong secret', unlogged: 3 },
        ],
      );
    });

    /** Runs `javascriptd serve` (with `env`) on a terminal, util-linux `script`'s; stops it with Ctrl-C once it listens. Its output. */
    async function serveOnTerminal(env: Record<string, string>): Promise<string> {
      const command = `'${process.execPath}' --no-node-snapshot '${CLI}' serve`;
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        env: { PATH: process.env.PATH, PORT: '0', POOL_SIZE: '1', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'close');
      try {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: colours are escape sequences.
        await until(() => /listening[\s\S]*\n\S/.test(output.replace(/\x1b\[[0-9;]*m/g, '')), 'the daemon listening');
      } finally {
        // Ctrl-C, through the terminal: the daemon stops as on SIGINT.
        child.stdin.write('\x03');
        await exited;
      }
      // biome-ignore lint/suspicious/noControlCharactersInRegex: as above.
      return output.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r\n/g, '\n');
    }

    it('writes lines for a person at a terminal, JSON elsewhere or with LOG_FORMAT=json, with the same fields', async () => {
      const pretty = await serveOnTerminal({ TIMOUT: '5' });
      assert.doesNotMatch(pretty, /\{"level"/);
      assert.match(pretty, /^\[[\d:.]+\] WARN \(javascriptd\/\d+\): TIMOUT is not a setting, and is ignored: did you mean TIMEOUT\?$/m);
      assert.match(pretty, /^\[[\d:.]+\] INFO \(javascriptd\/\d+\): listening$/m);
      const piped = await startDaemon({ POOL_SIZE: '1' });
      await piped.stop();
      const json = listening(piped.logs());
      assert.ok(json !== undefined);
      for (const field of ['url', 'addresses', 'everyInterface', 'secretRequired', 'keys', 'tls'])
        assert.match(pretty, new RegExp(`^ {4}${field}: `, 'm'), `${field} in the pretty line`);
      for (const field of ['url', 'addresses', 'everyInterface', 'secretRequired', 'keys', 'tls']) assert.ok(field in json, field);
      const forced = await serveOnTerminal({ LOG_FORMAT: 'json' });
      assert.match(forced, /^\{"level":30,.*"msg":"listening"\}$/m);
    });
  });
});
