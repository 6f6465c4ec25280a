// The container image, the runtime images and container sandboxes, against a
// real Docker engine. Without one (`docker info` does not answer) the suite is
// pending, saying what to install; under JAVASCRIPTD_REQUIRE_ENGINES=1 it fails.
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { SANDBOX_LABEL } from '../src/sandbox/container-link.js';
import { TestClient } from './helpers/client.js';
import { runCli, startDaemon, useDaemon } from './helpers/daemon.js';
import { describeWithEngine, dockerMissing } from './helpers/engines.js';
import { until } from './helpers/poll.js';

const docker = new Docker();
const IMAGE = 'javascriptd:latest';
const DATA_IMAGE = 'javascriptd-data:latest';
const SECRET = 'container-test-secret';

/** Runs the image with `options`, published on a free loopback port; removed after the test. */
async function runImage(
  env: string[],
  extra: Docker.HostConfig = {},
  image = IMAGE,
): Promise<{ container: Docker.Container; url: string }> {
  const container = await docker.createContainer({
    Image: image,
    Env: env,
    ExposedPorts: { '8765/tcp': {} },
    HostConfig: { PortBindings: { '8765/tcp': [{ HostIp: '127.0.0.1', HostPort: '0' }] }, ...extra },
  });
  started.push(container);
  await container.start();
  const info = await container.inspect();
  const port = info.NetworkSettings.Ports['8765/tcp']?.[0]?.HostPort;
  return { container, url: `ws://127.0.0.1:${port}/` };
}
const started: Docker.Container[] = [];

async function connectWhenUp(url: string, secret = SECRET): Promise<TestClient> {
  let client: TestClient | undefined;
  await until(
    async () => {
      client = await TestClient.connect(url, { headers: { 'x-runtime-secret': secret } }).catch(() => undefined);
      return client !== undefined;
    },
    `the daemon in the container answering on ${url}`,
    30_000,
  );
  return client!;
}

async function sandboxContainers(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ filters: { label: [SANDBOX_LABEL] } });
}

/** Untagged images no other image is built on: what a build should not leave behind. */
async function danglingImages(): Promise<string[]> {
  return (await docker.listImages({ filters: { dangling: ['true'] } })).map((image) => image.Id);
}

async function imageTags(): Promise<string[]> {
  return (await docker.listImages()).flatMap((image) => image.RepoTags ?? []);
}

/** Lines of a daemon's (and its sandboxes') output that tell of a write into the module cache that failed. */
function cacheWriteFailures(output: string[]): string[] {
  return output.filter((line) => /EROFS|could not write the prelude code cache/.test(line));
}

async function exitOf(container: Docker.Container): Promise<{ status: number; logs: string }> {
  const { StatusCode } = (await container.wait()) as { StatusCode: number };
  return { status: StatusCode, logs: (await container.logs({ stdout: true, stderr: true })).toString() };
}

describeWithEngine('container', dockerMissing, function () {
  this.timeout(300000);

  /** Dangling images before and after the build below, and what it said it kept. */
  const dangling = { before: [] as string[], after: [] as string[], kept: [] as string[] };

  before(async () => {
    await docker.ping().catch((error: unknown) => {
      throw new Error(
        `these tests need a Docker engine and none answers (${error instanceof Error ? error.message : String(error)}). ` +
          'Install docker.io, start it with `dockerd &`, make the base image with scripts/docker/base-image.sh, then run npm test again.',
      );
    });
    dangling.before = await danglingImages();
    const build = runCli(['images', 'build'], {}, 600000);
    assert.equal(build.status, 0, `javascriptd images build failed:\n${build.stdout.slice(-3000)}\n${build.stderr}`);
    assert.match(build.stdout, /built javascriptd:latest, javascriptd-data:latest, javascriptd-github:latest/);
    dangling.after = await danglingImages();
    dangling.kept = build.stdout.split('\n').filter((line) => line.startsWith('kept '));
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((c) => c.remove({ force: true }).catch(() => undefined)));
  });

  describe('javascriptd images build', () => {
    it('leaves no dangling image behind: its build stage is tagged, the images it replaced removed', async () => {
      assert.ok((await imageTags()).includes('javascriptd:build'), 'the build stage is tagged javascriptd:build');
      // Another build on the same engine at the same time would show here too; an old
      // image a container still uses (one a crashed run left) is kept, and said so.
      assert.deepEqual(
        dangling.after.filter((id) => !dangling.before.includes(id)),
        [],
        dangling.kept.join('\n'),
      );
    });

    it('builds the javascriptd image a runtime image needs first', async () => {
      const repository = `javascriptd-test-${process.pid}`;
      const before = await danglingImages();
      try {
        const build = runCli(['images', 'build', 'data', '--repository', repository], {}, 600000);
        assert.equal(build.status, 0, `javascriptd images build data failed:\n${build.stdout.slice(-3000)}\n${build.stderr}`);
        assert.match(build.stdout, new RegExp(`built ${repository}:latest, ${repository}-data:latest\n`));
        assert.deepEqual(
          (await danglingImages()).filter((id) => !before.includes(id)),
          [],
        );
      } finally {
        for (const tag of [`${repository}-data:latest`, `${repository}:latest`, `${repository}:build`])
          await docker
            .getImage(tag)
            .remove()
            .catch(() => undefined);
      }
    });
  });

  describe('the javascriptd image', () => {
    it('refuses to start without SECRET, unless ALLOW_NO_SECRET=true', async () => {
      const { container } = await runImage([]);
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      assert.notEqual(StatusCode, 0);
      const logs = (await container.logs({ stdout: true, stderr: true })).toString();
      assert.match(logs, /no SECRET is set: set SECRET .* or ALLOW_NO_SECRET=true/);
      const open = await runImage(['ALLOW_NO_SECRET=true']);
      const client = await connectWhenUp(open.url, '');
      assert.equal((await client.execute({ code: '"open"' })).payload?.value, 'open');
      await client.close();
    });

    it('runs as a non-root user under an init process, and serves runtime.execute with the secret', async () => {
      const { container, url } = await runImage([`SECRET=${SECRET}`]);
      const client = await connectWhenUp(url);
      assert.deepEqual((await client.execute({ code: 'function run(cb) { cb(6 * 7) }', call: 'run' })).payload?.value, 42);
      await client.close();
      const top = await container.top({ ps_args: '-o pid,uid,comm' });
      const processes = top.Processes.map(([, uid, command]: string[]) => ({ uid, command }));
      assert.ok(processes.length >= 3, JSON.stringify(processes));
      for (const p of processes) assert.notEqual(p.uid, '0', `${p.command} runs as root`);
      assert.equal(processes[0].command, 'tini');
      await assert.rejects(TestClient.connect(url), /401/);
    });

    it('passes its health check', async () => {
      const { container } = await runImage([`SECRET=${SECRET}`]);
      await until(async () => (await container.inspect()).State.Health?.Status === 'healthy', 'the container healthy', 30_000);
    });

    it('says in one line what to mount when its root is read-only with no tmpfs, and exits 2', async () => {
      const { container } = await runImage([`SECRET=${SECRET}`], { ReadonlyRootfs: true });
      const { status, logs } = await exitOf(container);
      assert.equal(status, 2, logs);
      assert.match(
        logs,
        /MODULE_CACHE \/tmp\/javascriptd-modules is not writable \(read-only file system\): mount a tmpfs there, e\.g\. docker run --tmpfs \/tmp/,
      );
      assert.doesNotMatch(logs, /ENOENT|the sandbox exited/);
    });

    it('works with a read-only root filesystem and a tmpfs for caches', async () => {
      const { url } = await runImage([`SECRET=${SECRET}`], { ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw,size=64m' } });
      const client = await connectWhenUp(url);
      assert.equal((await client.execute({ code: '[1, 2].map((n) => n * 2).join()' })).payload?.value, '2,4');
      await client.close();
    });
  });

  describe('runtime images', () => {
    it("lets scripts require the image's modules, read-only", async () => {
      const { url } = await runImage([`SECRET=${SECRET}`], { ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw,size=64m' } }, DATA_IMAGE);
      const client = await connectWhenUp(url);
      const reply = await client.execute({
        code: 'const _ = require("lodash"); const dayjs = require("dayjs"); [_.sum([1, 2, 3]), dayjs("2026-11-21").add(1, "day").format("YYYY-MM-DD")]',
      });
      assert.deepEqual(reply.payload?.value, [6, '2026-11-22']);
      await client.close();
    });

    it('starts read-only without a tmpfs: its modules and code cache were prepared when it was built', async () => {
      const { container, url } = await runImage([`SECRET=${SECRET}`], { ReadonlyRootfs: true }, DATA_IMAGE);
      const client = await connectWhenUp(url);
      assert.equal((await client.execute({ code: 'require("lodash").sum([1, 2])' })).payload?.value, 3);
      await client.close();
      const logs = (await container.logs({ stdout: true, stderr: true })).toString();
      assert.deepEqual(cacheWriteFailures(logs.split('\n')), []);
    });

    it('records its modules in a label, as javascriptd prepare checked them', async () => {
      const { Config } = await docker.getImage(DATA_IMAGE).inspect();
      assert.equal(Config.Labels?.['io.javascriptd.modules'], 'lodash,dayjs');
    });
  });

  describe('container sandboxes (EXECUTOR=container)', () => {
    let client: TestClient;
    let stale: Docker.Container;

    before(async () => {
      // A sandbox a crashed daemon left behind: the daemon removes it as it starts.
      stale = await docker.createContainer({ Image: IMAGE, Cmd: ['schema'], Labels: { [SANDBOX_LABEL]: 'true' } });
    });
    const daemon = useDaemon({
      EXECUTOR: 'container',
      SANDBOX_IMAGE: DATA_IMAGE,
      POOL_SIZE: '2',
      MEMORY_LIMIT: '256',
      SANDBOX_MEMORY: '160',
      TIMEOUT: '5000',
    });
    before(async () => {
      client = await TestClient.connect(daemon.url);
      await assert.rejects(stale.inspect(), /no such container/i);
    });
    after(async () => {
      await client?.close();
    });
    afterEach(function () {
      if (this.currentTest?.state === 'failed')
        console.log(
          daemon.output
            .filter((l) => !l.includes('"execution"'))
            .slice(-15)
            .join('\n'),
        );
    });

    it('runs executions in locked-down sandbox containers of the runtime image', async () => {
      assert.deepEqual((await client.execute({ code: 'require("lodash").sum([1, 2])' })).payload?.value, 3);
      const sandboxes = await sandboxContainers();
      assert.equal(sandboxes.length, 2);
      for (const { Id, Image } of sandboxes) {
        assert.equal(Image, DATA_IMAGE);
        const info = await docker.getContainer(Id).inspect();
        assert.equal(info.Config.User, 'node');
        assert.equal(info.HostConfig.NetworkMode, 'none');
        assert.equal(info.HostConfig.ReadonlyRootfs, true);
        assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
        assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
        assert.equal(info.HostConfig.Memory, 160 * 1024 * 1024);
        assert.equal(info.HostConfig.PidsLimit, 64);
        assert.equal(info.HostConfig.NanoCpus, 1e9);
        assert.ok(Object.keys(info.HostConfig.Tmpfs ?? {}).includes('/tmp'));
      }
    });

    it("allows the image's modules without MODULES, and no sandbox writes its prepared code cache", async () => {
      const reply = await client.execute({
        code: '[require("lodash").sum([1, 2]), require("dayjs")("2026-01-31").add(1, "day").format("MM-DD")]',
      });
      assert.deepEqual(reply.payload?.value, [3, '02-01'], JSON.stringify(reply));
      const listening = daemon.logs().find((line) => line.msg === 'listening') as { keys: { modules: string[] }[] };
      assert.deepEqual(listening.keys[0].modules, ['lodash', 'dayjs']);
      assert.deepEqual(cacheWriteFailures(daemon.output), []);
    });

    it('gives a sandbox no network', async () => {
      const [sandbox] = await sandboxContainers();
      const exec = await docker.getContainer(sandbox.Id).exec({
        Cmd: [
          'node',
          '-e',
          "require('net').connect(80, '8.8.8.8').on('connect', () => console.log('CONNECTED')).on('error', (e) => console.log(e.code)); setTimeout(() => {}, 500)",
        ],
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = await exec.start({});
      const output = await new Promise<string>((resolve) => {
        let text = '';
        stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
        stream.on('end', () => resolve(text));
      });
      assert.match(output, /ENETUNREACH/);
      assert.doesNotMatch(output, /CONNECTED/);
    });

    it('answers a memory bomb 1003 while the daemon and the other executions serve on', async () => {
      const bomb = client.execute({ code: 'const a = []; for (;;) a.push("x".repeat(1e6) + a.length);', timeout: 20000 });
      const other = await client.execute({ code: 'function h(cb) { setTimeout(() => cb("served meanwhile"), 300); }', call: 'h' });
      assert.equal(other.payload?.value, 'served meanwhile');
      const reply = await bomb;
      assert.equal(reply.error?.code, 1003, JSON.stringify(reply));
      const after = await Promise.all([client.execute({ code: '"after 1"' }), client.execute({ code: '"after 2"' })]);
      assert.deepEqual(
        after.map((r) => r.payload?.value),
        ['after 1', 'after 2'],
      );
    });

    it('replaces a killed sandbox; what it was running runs again on the new one, and the next call succeeds', async () => {
      const pending = client.execute({
        code: 'function h(cb) { console.log("running"); setTimeout(() => cb("slept"), 3000); }',
        call: 'h',
        timeout: 25000,
      });
      // Answered once the sleeper, sent first, is in a sandbox (every sandbox is killed below).
      assert.equal((await client.execute({ code: '"probe"' })).payload?.value, 'probe');
      const victims = await sandboxContainers();
      await Promise.all(
        victims.map((v) =>
          docker
            .getContainer(v.Id)
            .kill()
            .catch(() => undefined),
        ),
      );
      const reply = await pending;
      assert.equal(reply.payload?.value, 'slept', JSON.stringify(reply));
      assert.deepEqual(reply.payload?.console, ['running']);
      const next = await client.execute({ code: '"replaced"' });
      assert.equal(next.payload?.value, 'replaced', JSON.stringify(next));
      // Killed containers may still be listed for a moment while Docker removes them.
      await until(async () => {
        const now = await sandboxContainers();
        return now.length === 2 && !now.some((c) => victims.some((v) => v.Id === c.Id));
      }, 'two sandboxes, none of them killed');
    });

    it('replaces a sandbox with a thread that hangs past its time limit', async () => {
      // isolated-vm loops for ever copying this rejection out; only ending the sandbox ends it.
      const before = await sandboxContainers();
      const reply = await client.execute({ code: 'Promise.reject(new Proxy({}, { get() { for (;;) {} } })); 1', timeout: 500 });
      assert.equal(reply.error?.code, 1002);
      await until(
        async () => (await sandboxContainers()).filter((c) => before.some((b) => b.Id === c.Id)).length === 1,
        'the hung sandbox replaced',
      );
      const after = await Promise.all([client.execute({ code: '"a"' }), client.execute({ code: '"b"' })]);
      assert.deepEqual(
        after.map((r) => r.payload?.value),
        ['a', 'b'],
      );
    });

    it('relays fetch to the daemon, whose policy refuses it', async () => {
      const reply = await client.execute({ code: 'fetch("http://127.0.0.1:1/").then(() => "fetched", (e) => e.message)' });
      assert.match(String(reply.payload?.value), /^fetch refused: no FETCH_ALLOW rule allows GET http:\/\/127\.0\.0\.1:1\//);
    });

    it('removes its sandboxes on shutdown', async () => {
      assert.equal(await daemon.stop(), 0);
      assert.deepEqual(await sandboxContainers(), []);
    });
  });

  describe("a container key's MODULES", () => {
    it("narrows the image's modules, still from the image's code cache", async () => {
      const daemon = await startDaemon({ EXECUTOR: 'container', SANDBOX_IMAGE: DATA_IMAGE, MODULES: 'lodash', POOL_SIZE: '1' });
      try {
        const client = await TestClient.connect(daemon.url);
        assert.equal((await client.execute({ code: 'require("lodash").sum([1, 2])' })).payload?.value, 3);
        assert.equal((await client.execute({ code: 'require("dayjs")' })).error?.message, "Error: module 'dayjs' is not allowed");
        await client.close();
        assert.deepEqual(cacheWriteFailures(daemon.output), []);
      } finally {
        await daemon.stop();
      }
    });

    it('refuses to start naming the modules its image does not have', () => {
      const run = runCli([], { PORT: '0', EXECUTOR: 'container', SANDBOX_IMAGE: DATA_IMAGE, MODULES: 'lodash,left-pad,chalk' });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /MODULES: left-pad, chalk are not in SANDBOX_IMAGE javascriptd-data:latest/);
    });
  });
});
