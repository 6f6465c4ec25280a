// `javascriptd images build [name]`: builds the javascriptd image from the
// Dockerfile, then the runtime images in runtime-images/, through dockerode,
// printing Docker's progress. It leaves no dangling image behind: the
// Dockerfile's build stage is tagged, and the images the tags named before are
// removed.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import Docker from 'dockerode';

const ROOT = join(__dirname, '..', '..');
const RUNTIME_IMAGES = join(ROOT, 'runtime-images');
/** What the Dockerfile copies; the rest of the project stays out of the build context. */
const CONTEXT = [
  'Dockerfile',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'config.schema.json',
  'bin',
  'scripts',
  'src',
  'packages/client/package.json',
  'packages/client/tsconfig.json',
  'packages/client/src',
];
/** The Dockerfile's stage that installs every dependency and compiles; the image copies its output. Also its tag. */
const BUILD_STAGE = 'build';

const MAIN_IMAGE = 'javascriptd';

export interface BuildOptions {
  /** The javascriptd image or one runtime image (with the javascriptd image it is built on); undefined: all. */
  only: string | undefined;
  /** The javascriptd image's repository; a runtime image NAME is REPOSITORY-NAME. */
  repository: string;
  out: Writable;
}

interface BuildContext {
  context: string;
  src: string[];
}

function runtimeImageNames(): string[] {
  return readdirSync(RUNTIME_IMAGES).filter((name) => existsSync(join(RUNTIME_IMAGES, name, 'Dockerfile')));
}

/** Builds `REPOSITORY:latest`, then the runtime images (all, or only `only`) on it as `REPOSITORY-NAME:latest`. */
export async function buildImages({ only, repository, out }: BuildOptions): Promise<string[]> {
  const runtimes = runtimeImageNames();
  if (only !== undefined && only !== MAIN_IMAGE && !runtimes.includes(only)) {
    throw new Error(`no image called ${only}: there are ${[MAIN_IMAGE, ...runtimes].join(', ')}`);
  }
  const docker = new Docker();
  await docker.ping().catch((error: unknown) => {
    throw new Error(
      `cannot reach a Docker engine (${error instanceof Error ? error.message : String(error)}); start dockerd or set DOCKER_HOST`,
    );
  });
  const main = `${repository}:latest`;
  const stage = `${repository}:${BUILD_STAGE}`;
  /** The images the tags named before: once a build has moved a tag, the old image is left untagged. */
  const replaced = [await imageId(docker, stage), await imageId(docker, main)];
  // A runtime image is built FROM the javascriptd image: built first, it is never looked up in a registry, nor stale.
  await buildMain(docker, { main, stage }, out);
  const built = [main];
  for (const name of runtimes.filter((n) => only === undefined || n === only)) {
    const tag = `${repository}-${name}:latest`;
    replaced.push(await imageId(docker, tag));
    await build(
      docker,
      { context: join(RUNTIME_IMAGES, name), src: ['Dockerfile'] },
      { t: tag, buildargs: { JAVASCRIPTD_IMAGE: main } },
      out,
    );
    built.push(tag);
  }
  // Runtime images first: an old one is built on the old javascriptd image.
  for (const id of replaced.reverse()) if (id !== undefined) await removeIfDangling(docker, id, out);
  return built;
}

/**
 * The javascriptd image. Its build stage is built first, tagged REPOSITORY:build:
 * a multi-stage build would leave it untagged (about 700 MB, each time its
 * sources change), and kept it makes the next build reuse its npm ci and
 * compile. The second build takes the stage from Docker's cache.
 */
async function buildMain(docker: Docker, tags: { main: string; stage: string }, out: Writable): Promise<void> {
  const context = { context: ROOT, src: CONTEXT };
  await build(docker, context, { t: tags.stage, target: BUILD_STAGE }, out);
  await build(docker, context, { t: tags.main }, out);
}

/** The id of the image `tag` names now, if there is one. */
function imageId(docker: Docker, tag: string): Promise<string | undefined> {
  return docker
    .getImage(tag)
    .inspect()
    .then(
      (info) => info.Id,
      () => undefined,
    );
}

/**
 * Removes image `id` if no tag names it any more, with the untagged layers only it
 * was built on. One a container uses, or another image is built on, is kept:
 * Docker refuses, and that is not this build's to decide.
 */
async function removeIfDangling(docker: Docker, id: string, out: Writable): Promise<void> {
  const image = docker.getImage(id);
  const tags = await image.inspect().then(
    (info) => info.RepoTags ?? [],
    () => undefined,
  );
  if (tags === undefined || tags.length > 0) return;
  await image.remove().then(
    () => out.write(`removed untagged image ${id.slice(7, 19)}\n`),
    (error: { statusCode?: number; message?: string }) =>
      out.write(`kept untagged image ${id.slice(7, 19)}: ${error.statusCode === 409 ? 'still in use' : error.message}\n`),
  );
}

/** Builds `context` as `options.t`, printing Docker's progress. */
async function build(
  docker: Docker,
  context: BuildContext,
  options: { t: string; target?: string; buildargs?: Record<string, string> },
  out: Writable,
): Promise<void> {
  out.write(`building ${options.t}\n`);
  const stream = await docker.buildImage(context, { ...options, rm: true, forcerm: true });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, events: { error?: string }[]) => {
        const failed = error?.message ?? events.find((e) => e.error !== undefined)?.error;
        if (failed === undefined) resolve();
        else reject(new Error(`building ${options.t} failed: ${failed}`));
      },
      (event: { stream?: string; status?: string; error?: string }) => {
        const line = event.stream ?? event.status ?? event.error;
        if (line !== undefined) out.write(line.endsWith('\n') ? line : `${line}\n`);
      },
    );
  });
}
