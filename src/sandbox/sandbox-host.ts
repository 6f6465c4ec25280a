// The daemon's handle on one sandbox (a process or a container, see link.ts).
// It runs one execution at a time, performs the execution's fetches, and kills
// and replaces the sandbox if it does not finish within the execution's time
// limit plus a grace, or if it dies.
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbound, OutboundSession } from '../outbound/outbound.js';
import { FetchFailure } from '../outbound/wire.js';
import type { FromExecutor, ToExecutor } from './ipc.js';
import type { SandboxLink, StartLink } from './link.js';
import type { ExecutionRequest, ExecutionResult, Running } from './sandbox.js';

/** Past its own time limit, how long an execution may take to wind down before its sandbox is killed. */
const KILL_GRACE_MS = 1000;
/** How long a new sandbox may take to become ready. */
const START_TIMEOUT_MS = 60000;

interface Current {
  id: number;
  settled: boolean;
  resolve: (result: ExecutionResult) => void;
  reject: (error: RpcError) => void;
  finish: () => void;
  watchdog: NodeJS.Timeout;
  killedForTime: boolean;
  timeoutMs: number;
  fetches: OutboundSession;
}

export class SandboxHost {
  private link!: SandboxLink;
  private current: Current | undefined;
  private lastId = 0;
  private closing = false;

  private constructor(
    private readonly startLink: StartLink,
    private readonly outbound: Outbound,
    private readonly log: Logger,
  ) {}

  static async start(startLink: StartLink, outbound: Outbound, log: Logger): Promise<SandboxHost> {
    const host = new SandboxHost(startLink, outbound, log);
    await host.startSandbox();
    return host;
  }

  run(request: ExecutionRequest): Running {
    const id = ++this.lastId;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const result = new Promise<ExecutionResult>((resolve, reject) => {
      const watchdog = setTimeout(() => this.killForTime(), request.timeoutMs + KILL_GRACE_MS);
      const fetches = this.outbound.session(request.timeoutMs);
      this.current = { id, settled: false, resolve, reject, finish, watchdog, killedForTime: false, timeoutMs: request.timeoutMs, fetches };
    });
    const message: ToExecutor = { kind: 'run', id, request };
    if (this.link.connected) this.link.send(message);
    else {
      // An earlier restart failed; try again before giving up on this execution.
      this.startSandbox().then(
        () => this.link.send(message),
        (err: unknown) => {
          this.log.error({ err }, 'could not start a sandbox');
          this.settle((c) => c.reject(errors.sandboxLost('the sandbox is not running')));
          this.release();
        },
      );
    }
    return { result, done };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.link.close(KILL_GRACE_MS);
  }

  private async startSandbox(): Promise<void> {
    let ready = false;
    let becameReady!: () => void;
    let failed!: (error: Error) => void;
    const readiness = new Promise<void>((resolve, reject) => {
      becameReady = resolve;
      failed = reject;
    });
    const link = await this.startLink({
      message: (message) => {
        if (message.kind !== 'ready') this.receive(message);
        else if (!ready) {
          ready = true;
          becameReady();
        }
      },
      exit: (reason) => {
        if (ready) this.exited(link, reason);
        else failed(new Error(`the sandbox exited before it was ready (${reason})`));
      },
    });
    this.link = link;
    const timer = setTimeout(() => {
      link.kill();
      failed(new Error('the sandbox did not start in time'));
    }, START_TIMEOUT_MS);
    try {
      await readiness;
    } finally {
      clearTimeout(timer);
    }
  }

  private receive(message: FromExecutor): void {
    const current = this.current;
    if (current === undefined || message.kind === 'ready' || message.id !== current.id) return;
    if (message.kind === 'result') this.settle((c) => c.resolve(message.result));
    else if (message.kind === 'error') this.settle((c) => c.reject(errors.fromWire(message.error)));
    else if (message.kind === 'fetch') this.fetch(current, message.fetchId, message.request);
    else if (message.kind === 'abort-fetch') current.fetches.abort(message.fetchId);
    else this.release();
  }

  private fetch(current: Current, fetchId: number, request: Extract<FromExecutor, { kind: 'fetch' }>['request']): void {
    const answer = (message: ToExecutor) => {
      if (this.current === current) this.link.send(message);
    };
    current.fetches.fetch(fetchId, request).then(
      (response) => answer({ kind: 'fetched', id: current.id, fetchId, response }),
      (error: unknown) => {
        if (!(error instanceof FetchFailure)) this.log.error({ err: error }, 'fetch failed inside the daemon');
        answer({ kind: 'fetch-failed', id: current.id, fetchId, message: error instanceof FetchFailure ? error.message : 'fetch failed' });
      },
    );
  }

  private settle(answer: (current: Current) => void): void {
    const current = this.current;
    if (current === undefined || current.settled) return;
    current.settled = true;
    answer(current);
  }

  /** The execution is over and the process is free for the next one. */
  private release(): void {
    const current = this.current;
    if (current === undefined) return;
    clearTimeout(current.watchdog);
    current.fetches.close();
    this.current = undefined;
    current.finish();
  }

  private killForTime(): void {
    if (this.current === undefined) return;
    this.current.killedForTime = true;
    this.log.warn('sandbox did not stop within its time limit; killing it');
    this.link.kill();
  }

  private exited(link: SandboxLink, reason: string): void {
    if (link !== this.link) return;
    const current = this.current;
    if (current !== undefined) {
      this.settle((c) => c.reject(c.killedForTime ? errors.timeout(c.timeoutMs, []) : errors.sandboxLost(`the sandbox exited (${reason})`)));
    }
    if (this.closing) {
      this.release();
      return;
    }
    if (!current?.killedForTime) this.log.error({ reason }, 'sandbox exited; starting a new one');
    this.startSandbox().then(
      () => this.release(),
      (err: unknown) => {
        this.log.error({ err }, 'could not start a sandbox');
        this.release();
      },
    );
  }
}
