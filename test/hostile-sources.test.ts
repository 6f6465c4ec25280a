// TypeScript and module sources that would take esbuild down, against a real
// daemon: a source nested past MAX_SOURCE_DEPTH or larger than MAX_SOURCE_BYTES
// is a 1000 naming the bound, before esbuild sees it; a source that gets past
// them and kills, hangs or bloats esbuild's service costs only its own request
// (-32603 saying the compiler was restarted); in every case the next module
// and TypeScript scripts run on the same daemon.
import assert from 'node:assert/strict';
import type { TestClient as Client, Reply } from './helpers/client.js';
import { TestClient } from './helpers/client.js';
import { errorLogs, startDaemon, useDaemon } from './helpers/daemon.js';
import { esbuildService, isEsbuildService } from './helpers/esbuild-process.js';
import { found, until } from './helpers/poll.js';

const NESTED = `${'('.repeat(1_000_000)}1${')'.repeat(1_000_000)}`;
let fresh = 0;

function failure(reply: Reply, code: number): { code: number; message: string; data?: Record<string, unknown> } {
  assert.ok(reply.error !== undefined, `expected an error, got ${JSON.stringify(reply.payload)}`);
  assert.equal(reply.error.code, code, `${reply.error.message} ${JSON.stringify(reply.error.data)}`);
  return reply.error;
}

/** Asserts a -32603 saying esbuild failed with the request in hand and was restarted, for `why`. */
function restarted(reply: Reply, why: RegExp): void {
  const reason = String(failure(reply, -32603).data?.reason);
  assert.match(reason, /^the TypeScript and module compiler \(esbuild\) failed and was restarted: /);
  assert.match(reason, why);
}

/** A module, a TypeScript module and a classic TypeScript script, each never sent before (so never cached), run and give their values. */
async function assertTransformsWork(client: Client): Promise<void> {
  const n = ++fresh;
  const scripts = [
    { code: `export default ${n} + 1;`, module: true },
    { code: `const n: number = ${n};\nexport default n + 1;`, module: true, typescript: true },
    { code: `enum E { A = ${n} }\nE.A + 1`, typescript: true },
  ];
  for (const script of scripts) {
    const reply = await client.execute(script);
    assert.equal(reply.error, undefined, `${script.code}: ${JSON.stringify(reply.error)}`);
    assert.equal(reply.payload?.value, n + 1, script.code);
  }
}

describe('hostile TypeScript and module sources', function () {
  this.timeout(60000);

  describe('with the default bounds', () => {
    let client: TestClient;
    const daemon = useDaemon();
    before(async () => {
      client = await TestClient.connect(daemon.url);
    });
    after(async () => {
      await client?.close();
      if (daemon !== undefined) assert.deepEqual(errorLogs(daemon), [], 'nothing failed inside the daemon');
    });

    it('refuses 1,000,000 nested parentheses as a module, a TypeScript module and classic TypeScript: a 1000 naming MAX_SOURCE_DEPTH and where', async () => {
      for (const [script, file] of [
        [{ code: `export default ${NESTED};`, module: true }, 'module.js:1:1016'],
        [{ code: NESTED, module: true, typescript: true }, 'module.ts:1:1001'],
        [{ code: `const x: number =\n${NESTED}`, typescript: true }, 'script.ts:2:1001'],
      ] as const) {
        const error = failure(await client.execute(script), 1000);
        assert.equal(error.message, `RangeError: nested deeper than 1000 levels (MAX_SOURCE_DEPTH) [${file}]`);
        await assertTransformsWork(client);
      }
    });

    it('runs a source nested 1000 levels deep, the bound itself', async () => {
      const code = `export default ${'['.repeat(1000)}${']'.repeat(1000)}.length + ${'('.repeat(1000)}1${')'.repeat(1000)};`;
      const reply = await client.execute({ code, module: true, typescript: true });
      assert.equal(reply.payload?.value, 2, JSON.stringify(reply.error));
    });

    it('runs the transform in hand again, alone, when the esbuild service dies under it: it gets its value from a new service', async () => {
      await assertTransformsWork(client);
      const before = await found(() => esbuildService(daemon), 'the esbuild service');
      // Shallow and large: a few seconds of esbuild's work, during which its process is killed.
      const pending = client.execute({ code: `export default [${'1,'.repeat(1_500_000)}].length;`, module: true, typescript: true });
      await until(() => (esbuildService(daemon)?.cpuTicks ?? 0) > before.cpuTicks + 5, 'esbuild at work');
      process.kill(before.pid, 'SIGKILL');
      const reply = await pending;
      assert.equal(reply.payload?.value, 1_500_000, JSON.stringify(reply.error));
      await assertTransformsWork(client);
      assert.notEqual(esbuildService(daemon)?.pid, before.pid, 'a new service');
    });

    it('starts a new service for the next transform when the service died while idle', async () => {
      await assertTransformsWork(client);
      const idle = await found(() => esbuildService(daemon), 'the esbuild service');
      process.kill(idle.pid, 'SIGKILL');
      await until(() => esbuildService(daemon)?.pid !== idle.pid, 'the service gone');
      await assertTransformsWork(client);
    });
  });

  it("ends esbuild's service at shutdown, even a hung one", async () => {
    const daemon = await startDaemon();
    let pid: number | undefined;
    try {
      const client = await TestClient.connect(daemon.url);
      await assertTransformsWork(client);
      pid = (await found(() => esbuildService(daemon), 'the esbuild service')).pid;
      // Stopped, as a service lost in a build is: it never reads that its parent closed its stdin.
      process.kill(pid, 'SIGSTOP');
      assert.equal(await daemon.stop(), 0);
      const service = pid;
      await until(() => !isEsbuildService(service), "the service's process gone");
    } finally {
      await daemon.stop();
      if (pid !== undefined && isEsbuildService(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  describe('with tight bounds', () => {
    let client: TestClient;
    /** The service the hang test stops, to be killed should the test end before the daemon kills it. */
    let stopped: number | undefined;
    const daemon = useDaemon({ MAX_SOURCE_BYTES: '3000000', TRANSFORM_TIMEOUT: '2000', TRANSFORM_MEMORY: '64' });
    before(async () => {
      client = await TestClient.connect(daemon.url);
    });
    after(async () => {
      if (stopped !== undefined && isEsbuildService(stopped)) process.kill(stopped, 'SIGKILL');
      await client?.close();
      if (daemon !== undefined) assert.deepEqual(errorLogs(daemon), [], 'nothing failed inside the daemon');
    });

    it('refuses a source larger than MAX_SOURCE_BYTES with a 1000 naming it', async () => {
      const code = `export default ${JSON.stringify('x'.repeat(3_000_000))}.length;`;
      const error = failure(await client.execute({ code, module: true }), 1000);
      const bytes = Buffer.byteLength(code);
      assert.equal(error.message, `RangeError: source of ${bytes} bytes is larger than MAX_SOURCE_BYTES (3000000) [module.js]`);
      await assertTransformsWork(client);
    });

    it('kills a service that grows past TRANSFORM_MEMORY on a source with no brackets to count (a.b.b.b… a million deep): that request fails, run alone a second time', async () => {
      const error = await client.execute({ code: `export default a${'.b'.repeat(1_000_000)};`, module: true });
      restarted(error, /went over TRANSFORM_MEMORY \(64 MB\)/);
      await assertTransformsWork(client);
    });

    it('kills a service that hangs past TRANSFORM_TIMEOUT, and runs the transform it had in hand again on a new one', async () => {
      await assertTransformsWork(client);
      const hung = await found(() => esbuildService(daemon), 'the esbuild service');
      // A stopped process reads nothing: the next transform waits on it.
      stopped = hung.pid;
      process.kill(hung.pid, 'SIGSTOP');
      const reply = await client.execute({ code: 'const late: number = 1;\nlate', typescript: true });
      assert.equal(reply.payload?.value, 1, JSON.stringify(reply.error));
      // The daemon's log lines are buffered: the reply can come before the line.
      await until(
        () =>
          daemon
            .logs()
            .some(
              (line) => line.msg === 'esbuild service failed; it is replaced' && /TRANSFORM_TIMEOUT \(2000 ms\)/.test(String(line.reason)),
            ),
        'the hung service was replaced for its timeout',
      );
      // Killed by the daemon: a stopped process would not heed a SIGTERM.
      await until(() => esbuildService(daemon)?.pid !== hung.pid, 'the hung service gone');
      await assertTransformsWork(client);
    });
  });
});
