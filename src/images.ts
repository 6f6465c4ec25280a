// `javascriptd images build [name]`: builds the javascriptd image from the
// Dockerfile, then the runtime images in runtime-images/, through dockerode,
// printing Docker's progress.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import Docker from 'dockerode';

const ROOT = join(__dirname, '..', '..');
const RUNTIME_IMAGES = join(ROOT, 'runtime-images');
/** What the Dockerfile copies; the rest of the project stays out of the build context. */
const CONTEXT = ['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'config.schema.json', 'bin', 'scripts', 'src'];

const MAIN_IMAGE = 'javascriptd';

function runtimeImageNames(): string[] {
  return readdirSync(RUNTIME_IMAGES).filter((name) => existsSync(join(RUNTIME_IMAGES, name, 'Dockerfile')));
}

/** Builds `javascriptd:latest` and the runtime images (all, or only `only`), tagged `javascriptd-NAME:latest`. */
export async function buildImages(only: string | undefined, out: Writable): Promise<string[]> {
  const runtimes = runtimeImageNames();
  if (only !== undefined && only !== MAIN_IMAGE && !runtimes.includes(only)) {
    throw new Error(`no image called ${only}: there are ${[MAIN_IMAGE, ...runtimes].join(', ')}`);
  }
  const docker = new Docker();
  await docker.ping().catch((error: unknown) => {
    throw new Error(`cannot reach a Docker engine (${error instanceof Error ? error.message : String(error)}); start dockerd or set DOCKER_HOST`);
  });
  const built: string[] = [];
  if (only === undefined || only === MAIN_IMAGE) {
    built.push(await build(docker, { context: ROOT, src: CONTEXT }, `${MAIN_IMAGE}:latest`, {}, out));
  }
  for (const name of runtimes.filter((n) => only === undefined || n === only)) {
    const context = { context: join(RUNTIME_IMAGES, name), src: ['Dockerfile'] };
    built.push(await build(docker, context, `${MAIN_IMAGE}-${name}:latest`, { JAVASCRIPTD_IMAGE: `${MAIN_IMAGE}:latest` }, out));
  }
  return built;
}

async function build(docker: Docker, context: { context: string; src: string[] }, tag: string, buildargs: Record<string, string>, out: Writable): Promise<string> {
  out.write(`building ${tag}\n`);
  const stream = await docker.buildImage(context, { t: tag, buildargs, rm: true, forcerm: true });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, events: { error?: string }[]) => {
        const failed = error?.message ?? events.find((e) => e.error !== undefined)?.error;
        if (failed === undefined) resolve();
        else reject(new Error(`building ${tag} failed: ${failed}`));
      },
      (event: { stream?: string; status?: string; error?: string }) => {
        const line = event.stream ?? event.status ?? event.error;
        if (line !== undefined) out.write(line.endsWith('\n') ? line : `${line}\n`);
      },
    );
  });
  return tag;
}
