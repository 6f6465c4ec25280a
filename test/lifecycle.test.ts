// Start-up, settings, sandbox process failures and graceful shutdown.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { residentBytes } from '../src/process-memory.js';
import { TestClient } from './helpers/client.js';
import { assertListsProblems, CLI, freePort, type RunningDaemon, runCli, startDaemon, useDaemon } from './helpers/daemon.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';
import { until } from './helpers/poll.js';
import { sandboxPids } from './helpers/sandbox-process.js';

/** The one sandbox process of a POOL_SIZE=1 daemon, once it runs. */
async function onlySandbox(daemon: RunningDaemon): Promise<number> {
  await until(() => sandboxPids(daemon).length === 1, 'one sandbox process');
  return sandboxPids(daemon)[0];
}

/** Waits until the sandbox process `pid` is gone and another has taken its place. */
function replaced(daemon: RunningDaemon, pid: number): Promise<void> {
  return until(() => {
    const now = sandboxPids(daemon);
    return now.length === 1 && now[0] !== pid;
  }, `a new sandbox process in place of ${pid}`);
}

describe('lifecycle', () => {
  describe('settings', () => {
    it('refuses bad settings at start-up, listing every problem', () => {
      const run = runCli(['serve'], { PORT: 'eighty', MEMORY_LIMIT: '1', TLS_CERT: '/x.pem', LOG_LEVEL: 'loud' });
      assert.equal(run.status, 2);
      assert.match(run.stderr, /invalid settings:/);
      assertListsProblems(run.stderr, [
        'PORT must be an integer, got "eighty"',
        'MEMORY_LIMIT must be >= 8, got 1',
        'TLS_CERT needs TLS_KEY',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "loud"',
      ]);
    });

    it('prints --help generated from the settings table', () => {
      const run = runCli(['--help']);
      assert.equal(run.status, 0);
      for (const name of [
        'PORT',
        'HOST',
        'SECRET',
        'TIMEOUT',
        'MEMORY_LIMIT',
        'POOL_SIZE',
        'QUEUE_LIMIT',
        'MAX_IN_FLIGHT',
        'MAX_FRAME',
        'CONSOLE_LIMIT',
        'RESULT_LIMIT',
        'TLS_CERT',
        'TLS_KEY',
        'NOLOGS',
      ]) {
        assert.match(run.stdout, new RegExp(`^  ${name} `, 'm'));
      }
    });

    it('refuses an unknown command, or a secret on the command line, in one line and a usage line', () => {
      const run = runCli(['frobnicate']);
      assert.equal(run.status, 5);
      assert.equal(
        run.stderr,
        'javascriptd: unknown command: frobnicate\nUsage: javascriptd [command] [options] (`javascriptd --help` lists the commands)\n',
      );
      const secret = runCli(['--secret', 'x']);
      assert.equal(secret.status, 5);
      assert.equal(
        secret.stderr,
        'javascriptd: --secret is not an option: set the SECRET environment variable (a command line shows in process lists)\n' +
          'Usage: javascriptd serve [options] (`javascriptd serve --help` lists them)\n',
      );
    });

    it('writes no logs with NOLOGS=true, and serves', async () => {
      const port = await freePort();
      const child = spawn(process.execPath, ['--no-node-snapshot', CLI], {
        env: { PATH: process.env.PATH, NOLOGS: 'true', PORT: String(port) },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      try {
        const url = `ws://127.0.0.1:${port}/`;
        let client: TestClient | undefined;
        await until(async () => {
          client = await TestClient.connect(url).catch(() => undefined);
          return client !== undefined;
        }, 'the daemon coming up');
        assert.ok(client);
        assert.equal((await client.execute({ code: 'console.log("not a daemon log"); 5' })).payload?.value, 5);
        await client.close();
      } finally {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      assert.equal(output, '');
    });
  });

  describe('sandbox processes', () => {
    let server: TestServer;
    before(async () => {
      server = await startHttpServer({ '/ok': (_req, res) => res.end('ok') });
    });
    const daemon = useDaemon(() => ({ POOL_SIZE: '1', FETCH_ALLOW: `GET ${server.origin}/ok` }));
    after(async () => {
      await server?.close();
    });

    /** Answered once the sandbox has taken everything sent to it before: messages to it keep their order. */
    const probe = async (client: TestClient) => assert.equal((await client.execute({ code: '"probe"' })).payload?.value, 'probe');

    it('replaces a sandbox process that dies: what it held runs again there unless it had made a request outside or streamed (1008)', async () => {
      const client = await TestClient.connect(daemon.url);
      const [pid] = sandboxPids(daemon);
      const sleeper = client.execute({
        code: 'function h(cb) { console.log("running"); setTimeout(() => cb("slept"), 1000); }',
        call: 'h',
      });
      const streamer = client.execute({
        code: 'function h(cb) { console.log("streamed"); setTimeout(() => cb("streamed"), 1000); }',
        call: 'h',
        stream: true,
      });
      const fetcher = client.execute({
        code: `async function h() { await fetch("${server.origin}/ok"); await new Promise((r) => setTimeout(r, 1000)); return "fetched"; }`,
        call: 'h',
      });
      // All three asleep in the sandbox: the streamer's line streamed, the fetcher's request served, the sleeper taken before the probe.
      await probe(client);
      await until(() => client.streamed.length === 1 && server.seen.some((s) => s.url === '/ok'), 'the executions sleeping');
      process.kill(pid, 'SIGKILL');
      const [slept, streamed, fetched] = await Promise.all([sleeper, streamer, fetcher]);
      // Run again from the start, on the new sandbox: its console is the second run's only.
      assert.deepEqual(slept.payload?.value, 'slept');
      assert.deepEqual(slept.payload?.console, ['running']);
      assert.equal(fetched.error?.code, 1008);
      assert.match(String(fetched.error?.data?.reason), /its sandbox exited \(SIGKILL\) after it had made a request outside/);
      // A second run would stream its line again.
      assert.equal(streamed.error?.code, 1008);
      assert.match(String(streamed.error?.data?.reason), /its sandbox exited \(SIGKILL\) after it had streamed console lines/);
      assert.deepEqual(
        client.streamed.flatMap((s) => s.lines),
        ['streamed'],
      );
      assert.equal((await client.execute({ code: '"replaced"' })).payload?.value, 'replaced');
      assert.notDeepEqual(sandboxPids(daemon), [pid]);
      await client.close();
    });

    it('runs a lost execution again only once: if the new sandbox process dies too, it gets a coded error', async () => {
      const client = await TestClient.connect(daemon.url);
      const [first] = sandboxPids(daemon);
      const sleeper = client.execute({ code: 'function h(cb) { setTimeout(() => cb("slept"), 2000); }', call: 'h' });
      await probe(client);
      process.kill(first, 'SIGKILL');
      // Sent again to the new sandbox process as soon as it is up, before the probe; which is then killed too.
      await until(() => sandboxPids(daemon).some((pid) => pid !== first), 'a new sandbox process');
      await probe(client);
      const [second] = sandboxPids(daemon);
      process.kill(second, 'SIGKILL');
      const reply = await sleeper;
      assert.equal(reply.error?.code, -32603, JSON.stringify(reply));
      assert.match(String(reply.error?.data?.reason), /the sandbox exited \(SIGKILL\)/);
      assert.equal((await client.execute({ code: '"replaced"' })).payload?.value, 'replaced');
      await client.close();
    });
  });

  describe('the sandbox memory budget (SANDBOX_MEMORY)', () => {
    let client: TestClient;
    /** Holds `mb` of typed arrays (outside the JS heap, inside the sandbox) for `ms`. */
    const hold = (mb: number, ms: number) =>
      `const a = []; for (let i = 0; i < ${mb}; i++) a.push(new Float64Array(131072).fill(i)); const end = Date.now() + ${ms}; while (Date.now() < end) {} a.length`;
    const daemon = useDaemon({ POOL_SIZE: '1', SANDBOX_MEMORY: '160' });
    before(async () => {
      client = await TestClient.connect(daemon.url);
    });
    after(async () => {
      await client?.close();
    });

    it('kills a sandbox process that goes over it during an execution: that execution gets 1003, the next succeeds', async () => {
      const pid = await onlySandbox(daemon);
      const reply = await client.execute({ code: hold(100, 1000) });
      assert.deepEqual(reply.error, { code: 1003, message: 'Memory limit exceeded', data: { limit: 160, console: [] } });
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      await replaced(daemon, pid);
    });

    it('replaces a sandbox process that holds most of it once its execution has answered', async () => {
      const pid = await onlySandbox(daemon);
      // Held for a while: its memory is read at most every 50 ms while it runs, and that reading decides at its end.
      assert.equal((await client.execute({ code: hold(60, 500) })).payload?.value, 60);
      await until(
        () => daemon.logs().some((line) => line.msg === 'sandbox holds much of its memory budget; replacing it'),
        'the sandbox being replaced',
      );
      assert.equal((await client.execute({ code: '"next"' })).payload?.value, 'next');
      assert.equal((await client.execute({ code: '"after"' })).payload?.value, 'after');
      await replaced(daemon, pid);
    });

    it('starts no new execution in a sandbox process that holds most of it: a light call waits for the holder to end, and the sandbox gives its memory back or is replaced', async () => {
      const pid = await onlySandbox(daemon);
      const order: string[] = [];
      const holder = client
        .execute({
          code: `const a = []; for (let i = 0; i < 60; i++) a.push(new Float64Array(131072).fill(i)); console.log("holding"); new Promise((resolve) => setTimeout(() => resolve(a.length), 800))`,
          stream: true,
        })
        .then((reply) => {
          order.push('holder');
          return reply;
        });
      await until(() => client.streamed.some(({ lines }) => lines.includes('holding')), 'the holder holding its memory');
      // The daemon reads a sandbox's memory at most every 50 ms (MEMORY_POLL_MS): one reading after the allocation is certain past twice that.
      await delay(100);
      const light = await client.execute({ code: '"light"' });
      order.push('light');
      assert.equal((await holder).payload?.value, 60);
      assert.equal(light.payload?.value, 'light');
      assert.deepEqual(order, ['holder', 'light'], 'the light call waited while the sandbox held most of its budget');
      // The holder's isolate, past its heap bound when given back, is let go with what it held; else the sandbox is replaced.
      await until(() => {
        const now = sandboxPids(daemon);
        return now.length === 1 && (now[0] !== pid || (residentBytes(pid) ?? Infinity) <= 0.75 * 160 * 1024 * 1024);
      }, `the sandbox process ${pid} under three quarters of SANDBOX_MEMORY, or replaced`);
    });
  });

  describe('an idle sandbox process that dies', () => {
    it('is replaced, and a call sent while it restarts is answered', async () => {
      const daemon = await startDaemon({ POOL_SIZE: '1' });
      try {
        const client = await TestClient.connect(daemon.url);
        assert.equal((await client.execute({ code: '1' })).payload?.value, 1);
        // Several rounds: whether the daemon has seen the exit before it sends is a race
        // (a send to the dead process fails with EPIPE, which once took the daemon down).
        for (let round = 0; round < 8; round++) {
          const pid = await onlySandbox(daemon);
          process.kill(pid, 'SIGKILL');
          const replies = await Promise.all([client.execute({ code: '"during restart"' }), client.execute({ code: '"after it"' })]);
          assert.deepEqual(
            replies.map((r) => r.payload?.value),
            ['during restart', 'after it'],
            `round ${round}`,
          );
        }
        await client.close();
      } finally {
        await daemon.stop();
      }
    });
  });

  describe('graceful shutdown', () => {
    it('on SIGTERM stops accepting, lets in-flight executions finish, then exits 0', async () => {
      const daemon = await startDaemon();
      const client = await TestClient.connect(daemon.url);
      const inFlight = client.execute({
        code: 'function h(cb) { console.log("started"); setTimeout(() => cb("finished"), 700); }',
        call: 'h',
        stream: true,
      });
      await until(() => client.streamed.length > 0, 'the execution running');
      const exit = daemon.stop('SIGTERM');
      const health = () => fetch(new URL('/healthz', daemon.url.replace('ws://', 'http://'))).then((res) => res.status);
      await until(async () => (await health()) === 503, 'GET /healthz failing while the daemon drains');
      const refused = await new Promise<number>((resolve) => {
        const ws = new WebSocket(daemon.url);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
      assert.equal(refused, 503);
      const late = await client.execute({ code: '1' });
      assert.equal(late.error?.code, 1006);

      assert.equal((await inFlight).payload?.value, 'finished');
      const { code } = await client.closed;
      assert.equal(code, 1001);
      assert.equal(await exit, 0);
      assert.ok(daemon.logs().some((line) => line.msg === 'stopped'));
    });

    it('exits 0 on SIGINT too, and leaves no sandbox process behind', async () => {
      const daemon = await startDaemon({ POOL_SIZE: '2' });
      await until(() => sandboxPids(daemon).length === 2, 'two sandbox processes');
      const pids = sandboxPids(daemon);
      assert.equal(await daemon.stop('SIGINT'), 0);
      for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
    });
  });
});
