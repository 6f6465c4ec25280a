// A sandbox as a container of the key's runtime image, driven with dockerode:
// no network, read-only root with a small tmpfs, memory, CPU and pids limits,
// every capability dropped, no-new-privileges, non-root. The daemon talks to it
// over its attached stdin and stdout (frames.ts), so it needs no network.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import { encodeFrame, FrameDecoder } from '../shared/frames.js';
import type { ExecutorOptions, FromExecutor } from '../shared/ipc.js';
import type { StartLink } from './link.js';

export const SANDBOX_LABEL = 'io.javascriptd.sandbox';
/** A runtime image's modules, comma-separated, as `javascriptd prepare` bundled them when it was built. */
export const MODULES_LABEL = 'io.javascriptd.modules';

export interface ContainerLimits {
  image: string;
  memoryMb: number;
  cpus: number;
  pids: number;
  tmpfsMb: number;
}

export function containerLink(docker: Docker, options: ExecutorOptions, limits: ContainerLimits, log: Logger): StartLink {
  return async (events) => {
    const container = await docker.createContainer({
      Image: limits.image,
      Entrypoint: ['node', '--no-node-snapshot', '/app/dist/src/executor/main.js'],
      Cmd: [JSON.stringify(options)],
      User: 'node',
      Labels: { [SANDBOX_LABEL]: 'true' },
      // The image's HEALTHCHECK is the daemon's; a sandbox serves no HTTP.
      Healthcheck: { Test: ['NONE'] },
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: true,
      StdinOnce: false,
      Tty: false,
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': `rw,noexec,nosuid,size=${limits.tmpfsMb}m` },
        Memory: limits.memoryMb * 1024 * 1024,
        MemorySwap: limits.memoryMb * 1024 * 1024,
        NanoCpus: Math.round(limits.cpus * 1e9),
        PidsLimit: limits.pids,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Init: true,
      },
    });
    const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    container.modem.demuxStream(stream, stdout, stderr);
    const decoder = new FrameDecoder();
    let connected = true;
    const remove = () => container.remove({ force: true }).catch(() => undefined);
    stdout.on('data', (chunk: Buffer) => {
      try {
        for (const message of decoder.push(chunk)) events.message(message as FromExecutor);
      } catch (err) {
        log.error({ err }, 'sandbox container sent a corrupt frame; killing it');
        void remove();
      }
    });
    stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    stream.on('error', () => undefined);
    await container.start();
    container.wait().then(
      async (result: { StatusCode?: number }) => {
        connected = false;
        const state = await container.inspect().then(
          (info) => info.State,
          () => undefined,
        );
        void remove();
        events.exit(`status ${result.StatusCode ?? 'unknown'}`, state?.OOMKilled === true);
      },
      () => {
        connected = false;
        events.exit('lost');
      },
    );
    return {
      get connected() {
        return connected;
      },
      send: (message) => {
        if (!connected) return false;
        try {
          stream.write(encodeFrame(message));
          return true;
        } catch {
          return false;
        }
      },
      // The container's memory limit bounds it; the kernel kills it past that.
      memoryBytes: () => undefined,
      kill: () => void container.kill().catch(() => undefined),
      close: async (graceMs) => {
        connected = false;
        // SIGTERM (the container's init passes it on), SIGKILL once the grace is over; Docker counts it in whole seconds.
        await container.stop({ t: Math.ceil(graceMs / 1000) }).catch(() => undefined);
        await remove();
      },
    };
  };
}

/** Removes sandbox containers a crashed daemon left behind. */
export async function removeStaleSandboxes(docker: Docker, log: Logger): Promise<void> {
  const stale = await docker.listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } });
  await Promise.all(
    stale.map((info) =>
      docker
        .getContainer(info.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  if (stale.length > 0) log.warn({ removed: stale.length }, 'removed sandbox containers left by an earlier daemon');
}
