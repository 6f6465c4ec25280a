// What the daemon says to the person starting it: a wrong setting before the
// build, a variable that looks like a setting, which addresses it listens on,
// refused connections, and human logs at a terminal (util-linux `script` gives
// it one) with JSON elsewhere.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startDaemon } from './helpers/daemon.js';

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
});
