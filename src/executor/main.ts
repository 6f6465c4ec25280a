// Entry point of a sandbox process: the executions the daemon sends it run
// side by side, each alone in a warm isolate of its own (executor.ts). Living
// in its own process, an isolate that wedges isolated-vm (or crashes V8) can
// be killed without touching the daemon. The
// process makes no network requests itself: fetches are relayed to the daemon.
// Forked, it talks over Node's IPC channel; in a container, over stdin and
// stdout in frames (frames.ts), logging to stderr.
import type { RpcError } from '../errors.js';
import { createLogger } from '../log.js';
import { FetchFailure, type FetchRelay, type WireRequest, type WireResponse } from '../outbound/wire.js';
import type { Running } from '../shared/contract.js';
import { encodeFrame, FrameDecoder } from '../shared/frames.js';
import type { ExecutorOptions, FromExecutor, ToExecutor } from '../shared/ipc.js';
import { cachedBundles } from '../shared/module-files.js';
import { preludeSource } from '../shared/prelude-source.js';
import { CpuShares } from './cpu-shares.js';
import { NO_USAGE } from './execution.js';
import { Executor } from './executor.js';
import { IsolatePool } from './isolate-pool.js';

const overIpc = process.send !== undefined;

function send(message: FromExecutor): void {
  // Once the daemon is gone a send fails (EPIPE); the process exits on 'disconnect' all the same.
  if (overIpc) process.send?.(message, () => undefined);
  else process.stdout.write(encodeFrame(message));
}

function onMessage(listener: (message: ToExecutor) => void): void {
  if (overIpc) {
    process.on('message', listener);
    return;
  }
  const decoder = new FrameDecoder();
  process.stdin.on('data', (chunk: Buffer) => {
    for (const message of decoder.push(chunk)) listener(message as ToExecutor);
  });
}

/** The console lines of an execution that streams them: one message per turn of the event loop, not one per line. */
class ConsoleStream {
  private lines: string[] = [];

  constructor(private readonly id: number) {}

  push(line: string): void {
    if (this.lines.push(line) === 1) setImmediate(() => this.flush());
  }

  /** Sends what is waiting: before the execution's answer, so no line comes after it. */
  flush(): void {
    if (this.lines.length === 0) return;
    send({ kind: 'console', id: this.id, lines: this.lines });
    this.lines = [];
  }
}

/** The fetches of one execution, sent to the daemon and answered by it. */
class IpcRelay implements FetchRelay {
  private readonly waiting = new Map<number, { resolve: (response: WireResponse) => void; reject: (error: FetchFailure) => void }>();

  constructor(private readonly id: number) {}

  fetch(fetchId: number, request: WireRequest): Promise<WireResponse> {
    return new Promise((resolve, reject) => {
      this.waiting.set(fetchId, { resolve, reject });
      send({ kind: 'fetch', id: this.id, fetchId, request });
    });
  }

  abort(fetchId: number): void {
    send({ kind: 'abort-fetch', id: this.id, fetchId });
  }

  settle(message: Extract<ToExecutor, { fetchId: number }>): void {
    const waiter = this.waiting.get(message.fetchId);
    this.waiting.delete(message.fetchId);
    if (message.kind === 'fetched') waiter?.resolve(message.response);
    else waiter?.reject(new FetchFailure(message.message));
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '') as ExecutorOptions;
  const log = createLogger(
    { logLevel: options.logLevel as 'info', noLogs: options.noLogs, logFormat: options.logFormat },
    overIpc ? 1 : 2,
  ).child({
    key: options.key,
    sandbox: process.pid,
  });
  // In a container the module folders are the runtime image's own; bundles are found in its cache.
  const modulePath = options.modulePath ?? process.env.MODULE_PATH ?? '';
  const cacheDir = options.cacheDir ?? process.env.MODULE_CACHE ?? '/tmp/javascriptd-modules';
  const modules = cachedBundles(options.preludeModules ?? options.modules, modulePath, cacheDir);
  const prelude = preludeSource(modules, cacheDir, options.moduleInstances, options.modules);
  const pool = new IsolatePool({ limits: options.limits, prelude, log, shares: new CpuShares() });
  await pool.start();
  const executor = new Executor({
    pool,
    limits: options.limits,
    log,
    onRecycle: (reason) => send({ kind: 'recycled', reason }),
    onWedged: () => send({ kind: 'wedged' }),
  });
  const executions = new Map<number, { relay: IpcRelay; running: Running }>();
  onMessage((message) => {
    if (message.kind === 'cancel') executions.get(message.id)?.running.cancel();
    else if (message.kind !== 'run') executions.get(message.id)?.relay.settle(message);
    else {
      const { id } = message;
      const relay = new IpcRelay(id);
      const stream = new ConsoleStream(id);
      const running = executor.run(message.request, {
        relay,
        onWaiting: () => send({ kind: 'waiting', id }),
        onConsole: (line) => stream.push(line),
      });
      executions.set(id, { relay, running });
      running.result.then(
        (result) => {
          stream.flush();
          send({ kind: 'result', id, result });
        },
        (error: RpcError) => {
          stream.flush();
          send({ kind: 'error', id, error: error.toWire(), usage: error.usage ?? NO_USAGE });
        },
      );
      running.done.then(() => executions.delete(id));
    }
  });
  // The daemon is gone: nothing left to serve.
  if (overIpc) process.on('disconnect', () => process.exit(0));
  else process.stdin.on('end', () => process.exit(0));
  send({ kind: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`javascriptd sandbox: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
