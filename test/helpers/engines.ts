// Suites that need a system engine this machine may lack (a Docker engine,
// HAProxy, a browser). Where it is missing they are pending, their title
// saying what to install; with JAVASCRIPTD_REQUIRE_ENGINES=1 (.ci/run sets it)
// a missing engine fails them instead, so CI always runs them for real.
import { spawnSync } from 'node:child_process';

/** The variable that turns a missing engine into a failure. */
export const REQUIRE_ENGINES = 'JAVASCRIPTD_REQUIRE_ENGINES';

/**
 * `describe`, unless `missing()` (checked once, as the file loads) says why the
 * engine cannot be used: then the suite is pending, or one failing test under
 * JAVASCRIPTD_REQUIRE_ENGINES=1.
 */
export function describeWithEngine(title: string, missing: () => string | undefined, body: (this: Mocha.Suite) => void): void {
  const reason = missing();
  if (reason === undefined) describe(title, body);
  else if (process.env[REQUIRE_ENGINES] === '1') {
    describe(title, () => {
      it('has the engine it needs', () => {
        throw new Error(`${reason} (${REQUIRE_ENGINES}=1)`);
      });
    });
  } else describe.skip(`${title} (pending: ${reason})`, body);
}

/** How long a command that says whether an engine is there may take. */
const CHECK_TIMEOUT_MS = 5000;

/** The first line of what a failed command said, short enough for a title. */
function firstLine(text: string): string {
  const line =
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

/**
 * Why the container suite cannot run here, or undefined: `docker info` must
 * answer within a few seconds (it honours DOCKER_HOST, as dockerode does).
 */
export function dockerMissing(): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS });
  const install = 'install docker.io (Debian) and start dockerd; the base image comes from scripts/docker/base-image.sh';
  if ((info.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return `no docker command: ${install}`;
  if (info.error !== undefined) return `docker info did not answer within ${CHECK_TIMEOUT_MS / 1000} s: start dockerd, or set DOCKER_HOST`;
  if (info.status !== 0)
    return `no Docker engine answers docker info (${firstLine(info.stderr) || `exit ${info.status}`}): start dockerd (Debian's docker.io), or set DOCKER_HOST`;
  return undefined;
}

/** Why the curl suites cannot run here, or undefined: `curl --version` must run. */
export function curlMissing(): string | undefined {
  const version = spawnSync('curl', ['--version'], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS });
  if (version.error === undefined && version.status === 0) return undefined;
  return `no curl command (${version.error?.message ?? firstLine(version.stderr)}): install curl (Debian: apt-get install curl)`;
}

/** Why the scale-out suite cannot run here, or undefined: `haproxy -v` must run. */
export function haproxyMissing(): string | undefined {
  const version = spawnSync('haproxy', ['-v'], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS });
  if ((version.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    return 'no haproxy command: install haproxy (Debian: apt-get install haproxy)';
  if (version.error !== undefined || version.status !== 0)
    return `haproxy -v failed (${version.error?.message ?? firstLine(version.stderr)}): install haproxy (Debian: apt-get install haproxy)`;
  return undefined;
}
