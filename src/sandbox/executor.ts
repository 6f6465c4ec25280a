// Entry point of a sandbox process: one isolate, one execution at a time, driven
// by the daemon over IPC. Living in its own process, an isolate that wedges
// isolated-vm (or crashes V8) can be killed without touching the daemon.
import type { RpcError } from '../errors.js';
import { createLogger } from '../log.js';
import type { ExecutorOptions, FromExecutor, ToExecutor } from './ipc.js';
import { IsolateWorker } from './isolate-worker.js';
import { preludeSource } from './prelude-source.js';

function send(message: FromExecutor): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '') as ExecutorOptions;
  const log = createLogger({ logLevel: options.logLevel as 'info', noLogs: options.noLogs }).child({ sandbox: process.pid });
  const worker = new IsolateWorker(options.limits, preludeSource(options.modules, options.cacheDir), log);
  await worker.start();
  process.on('message', (message: ToExecutor) => {
    const running = worker.run(message.request);
    running.result.then(
      (result) => send({ kind: 'result', id: message.id, result }),
      (error: RpcError) => send({ kind: 'error', id: message.id, error: error.toWire() }),
    );
    running.done.then(() => send({ kind: 'done', id: message.id }));
  });
  // The daemon is gone: nothing left to serve.
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`javascriptd sandbox: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
