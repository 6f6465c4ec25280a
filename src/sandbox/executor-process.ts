// The daemon's handle on one sandbox process. It runs one execution at a time
// and is killed and replaced if it does not finish within the execution's time
// limit plus a grace, or if it dies.
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import * as errors from '../errors.js';
import type { RpcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbound, OutboundSession } from '../outbound/outbound.js';
import { FetchFailure } from '../outbound/wire.js';
import type { ExecutorOptions, FromExecutor, ToExecutor } from './ipc.js';
import type { ExecutionRequest, ExecutionResult, Running } from './sandbox.js';

const ENTRY = join(__dirname, 'executor.js');
/** Past its own time limit, how long an execution may take to wind down before its process is killed. */
const KILL_GRACE_MS = 1000;
/** How long a new sandbox process may take to become ready. */
const START_TIMEOUT_MS = 30000;

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

export class ExecutorProcess {
  private child!: ChildProcess;
  private current: Current | undefined;
  private lastId = 0;
  private closing = false;

  private constructor(
    private readonly options: ExecutorOptions,
    private readonly outbound: Outbound,
    private readonly log: Logger,
  ) {}

  static async spawn(options: ExecutorOptions, outbound: Outbound, log: Logger): Promise<ExecutorProcess> {
    const executor = new ExecutorProcess(options, outbound, log);
    await executor.startChild();
    return executor;
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
    if (this.child.connected) this.child.send(message);
    else {
      // An earlier restart failed; try again before giving up on this execution.
      this.startChild().then(
        () => this.child.send(message),
        (err: unknown) => {
          this.log.error({ err }, 'could not start a sandbox process');
          this.settle((c) => c.reject(errors.sandboxLost('the sandbox process is not running')));
          this.release();
        },
      );
    }
    return { result, done };
  }

  async close(): Promise<void> {
    this.closing = true;
    const exited = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
    this.child.disconnect?.();
    // A wedged isolate thread can keep the process from exiting on its own.
    const kill = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
    await exited;
    clearTimeout(kill);
  }

  private startChild(): Promise<void> {
    const child = fork(ENTRY, [JSON.stringify(this.options)], {
      execArgv: ['--no-node-snapshot'],
      // Nothing of the daemon's environment (SECRET included) reaches the sandbox.
      env: {},
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    let ready = false;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('the sandbox process did not start in time'));
      }, START_TIMEOUT_MS);
      child.on('message', (message: FromExecutor) => {
        if (message.kind === 'ready') {
          ready = true;
          clearTimeout(timer);
          resolve();
        } else this.receive(message);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (ready) this.exited(child, code, signal);
        else reject(new Error(`the sandbox process exited before it was ready (${signal ?? code})`));
      });
    });
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
      if (this.current === current && this.child.connected) this.child.send(message);
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
    this.log.warn({ pid: this.child.pid }, 'sandbox process did not stop within its time limit; killing it');
    this.child.kill('SIGKILL');
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    const current = this.current;
    if (current !== undefined) {
      this.settle((c) =>
        c.reject(c.killedForTime ? errors.timeout(c.timeoutMs, []) : errors.sandboxLost(`the sandbox process exited (${signal ?? code})`)),
      );
    }
    if (this.closing) {
      this.release();
      return;
    }
    if (!current?.killedForTime) this.log.error({ code, signal }, 'sandbox process exited; starting a new one');
    this.startChild().then(
      () => this.release(),
      (err: unknown) => {
        this.log.error({ err }, 'could not start a sandbox process');
        this.release();
      },
    );
  }
}
