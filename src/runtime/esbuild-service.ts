// esbuild's service process, supervised. esbuild's JS API hands every build and
// transform of the daemon to one service process it starts on the first; when
// that process dies (a source that overflows its parser's stack, a kill), the
// API fails what it had in hand with "The service was stopped" and every later
// call with "The service is no longer running", for good. Here each transform
// has a time limit (TRANSFORM_TIMEOUT) and the service a memory bound
// (TRANSFORM_MEMORY, its resident memory read from /proc every 50 ms while it
// works): a service that dies, hangs or grows past them is killed and
// forgotten (esbuild's `stop()`), and the next transform starts a new one. Each
// transform it had in hand is run again, one at a time: one source was at fault,
// and only one that fails the service again gets -32603 saying so. An idle service holding
// more than three quarters of TRANSFORM_MEMORY (Go keeps what a large
// transform took) is stopped too, so the next transform does not start near
// the bound.
import { readdirSync, readFileSync } from 'node:fs';
import { stop as stopEsbuild } from 'esbuild';
import type { RpcError } from '../errors.js';
import * as errors from '../errors.js';
import type { Logger } from '../log.js';
import { residentBytes } from '../process-memory.js';

const MEMORY_POLL_MS = 50;
const MB = 1024 * 1024;

export interface ServiceLimits {
  /** TRANSFORM_TIMEOUT: how long one transform may take, ms. */
  timeoutMs: number;
  /** TRANSFORM_MEMORY: the service's resident memory, MB. */
  memoryMb: number;
}

/** One service process, from the transform that started it until it is stopped. */
interface Service {
  /** Its process id, where /proc tells it (Linux); without one there is no memory bound and a kill is esbuild's own SIGTERM. */
  pid: number | undefined;
  /** What to do with each transform it has in hand when it fails: run it again alone, or fail it. */
  inHand: Set<(error: RpcError) => void>;
  memoryWatch: NodeJS.Timeout | undefined;
}

export class EsbuildService {
  private service: Service | undefined;
  /** Transforms run again after their service failed under them, one at a time: the end of that line. */
  private alone: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly limits: ServiceLimits,
    private readonly log: Logger,
  ) {}

  /**
   * Runs `start`, a call of esbuild's `build` or `transform` (which starts a
   * service if none runs), under the bounds. Resolves or rejects as it does
   * (its refusal of a source included), or rejects with -32603 when the service
   * failed with it in hand.
   */
  run<T>(start: () => Promise<T>): Promise<T> {
    return this.attempt(start, true);
  }

  private attempt<T>(start: () => Promise<T>, firstTry: boolean): Promise<T> {
    const fresh = this.service === undefined;
    this.service ??= { pid: undefined, inHand: new Set(), memoryWatch: undefined };
    const service = this.service;
    return new Promise<T>((resolve, reject) => {
      const settled = () => {
        clearTimeout(timer);
        service.inHand.delete(failed);
        this.idle(service);
      };
      const timer = setTimeout(
        () => this.restart(service, `a transform took longer than TRANSFORM_TIMEOUT (${this.limits.timeoutMs} ms)`),
        this.limits.timeoutMs,
      );
      // A service that fails fails all it has in hand, though one source is at fault: each is run
      // again alone, where only the one at fault fails again (and gets the error).
      const failed = (error: RpcError) => (firstTry ? resolve(this.runAlone(start)) : reject(error));
      service.inHand.add(failed);
      // Called here, so that a service it starts is there to be found below; a throw is a rejection.
      new Promise<T>((started) => started(start())).then(
        (value) => {
          settled();
          resolve(value);
        },
        (error: unknown) => {
          if (isNotRunning(error) && firstTry) {
            // The service had died while idle: this call never reached it, and goes to a new one.
            this.forget(service, (error as Error).message);
            settled();
            resolve(this.attempt(start, false));
            return;
          }
          // esbuild's refusal of the source carries its messages; anything else is the service failing.
          if (!isRefusal(error)) this.restart(service, `esbuild failed: ${error instanceof Error ? error.message : String(error)}`);
          reject(error);
          settled();
        },
      );
      // The first call of a service has just started its process.
      if (fresh) service.pid = servicePid();
      service.memoryWatch ??= setInterval(() => this.checkMemory(service), MEMORY_POLL_MS).unref();
    });
  }

  /** At shutdown: a service left running would outlive the daemon, even mid-build. */
  close(): void {
    if (this.service !== undefined) this.discard(this.service);
  }

  /** Runs `start` once more, after the transforms run again before it, on whatever service runs then. */
  private runAlone<T>(start: () => Promise<T>): Promise<T> {
    const run = this.alone.then(() => this.attempt(start, false));
    this.alone = run.catch(() => undefined);
    return run;
  }

  private checkMemory(service: Service): void {
    const used = residentBytes(service.pid);
    if (used !== undefined && used > this.limits.memoryMb * MB)
      this.restart(service, `esbuild went over TRANSFORM_MEMORY (${this.limits.memoryMb} MB)`);
  }

  /** Kills and forgets `service`; what it had in hand runs again alone, or gets -32603 if it had already; the next transform starts a new one. */
  private restart(service: Service, reason: string): void {
    this.forget(service, reason);
    const error = errors.transformFailed(reason);
    for (const fail of service.inHand) fail(error);
    service.inHand.clear();
  }

  /** Kills `service` if it is still the current one; the next transform starts a new one. */
  private forget(service: Service, reason: string): void {
    if (this.service !== service) return;
    this.log.warn({ reason, inHand: service.inHand.size, pid: service.pid }, 'esbuild service failed; it is replaced');
    this.discard(service);
  }

  /** Kills the current service's process and has esbuild forget it. */
  private discard(service: Service): void {
    this.service = undefined;
    clearInterval(service.memoryWatch);
    // A hung (or stopped) process may not heed the SIGTERM of esbuild's stop().
    if (service.pid !== undefined) kill(service.pid);
    void stopEsbuild();
  }

  /** With nothing in hand: no memory watch, and a service holding most of TRANSFORM_MEMORY is stopped. */
  private idle(service: Service): void {
    if (service.inHand.size > 0 || this.service !== service) return;
    clearInterval(service.memoryWatch);
    service.memoryWatch = undefined;
    const used = residentBytes(service.pid);
    if (used === undefined || used <= 0.75 * this.limits.memoryMb * MB) return;
    this.log.info({ rss: used, pid: service.pid }, 'idle esbuild service holds most of TRANSFORM_MEMORY; stopping it');
    this.service = undefined;
    void stopEsbuild();
  }
}

/** esbuild refused the source: its error lists what it found. */
function isRefusal(error: unknown): boolean {
  return Array.isArray((error as { errors?: unknown } | undefined)?.errors);
}

/** esbuild's answer to a call made after its service died. */
function isNotRunning(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('The service is no longer running');
}

/**
 * The esbuild service process among this process's children, found by its
 * `--service=` argument where /proc lists them: the newest, as one just
 * stopped may not have exited yet.
 */
function servicePid(): number | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let newest: { pid: number; started: number } | undefined;
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // The command name is in parentheses and may hold spaces: fields are counted after it (ppid 4th, starttime 22nd).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20);
      const started = Number(fields[19]);
      if (Number(fields[1]) !== process.pid || (newest !== undefined && started < newest.started)) continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').includes('\0--service=')) newest = { pid: Number(name), started };
    } catch {
      // It exited between the listing and the read.
    }
  }
  return newest?.pid;
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
