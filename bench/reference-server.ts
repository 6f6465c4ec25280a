// The two servers javascriptd is measured against, with the same Duplex framing
// (src/protocol/duplex.ts) on a WebSocket:
//   vm:      the original javascriptd design: a fresh node:vm context per call,
//            in the server's own process, with Node's require and timers;
//   ceiling: answers every request at once without executing anything.
// Usage: node dist/bench/reference-server.js vm|ceiling  (prints its port)
import { createRequire } from 'node:module';
import { join } from 'node:path';
import vm from 'node:vm';
import type { Script } from 'javascriptd-client';
import { WebSocketServer } from 'ws';
import * as errors from '../src/errors.js';
import { RpcError } from '../src/errors.js';
import { DUPLEX_ACCEPT, DUPLEX_HANDSHAKE, duplex } from '../src/protocol/duplex.js';

const mode = process.argv[2];
const moduleRequire = createRequire(join(process.cwd(), 'node_modules', 'index.js'));

/** The original javascriptd: a context from globals, Node's require and timers, cb or timeout. */
function runInVm(script: Script): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const output: string[] = [];
    const timers = new Set<NodeJS.Timeout>();
    const timeoutMs = script.timeout ?? 3000;
    let finished = false;
    const finish = (error: RpcError | undefined, value?: unknown) => {
      if (finished) return;
      finished = true;
      for (const timer of timers) clearTimeout(timer);
      clearTimeout(deadline);
      if (error) reject(error);
      else resolve({ value: value === undefined ? null : value, console: output, time: performance.now() - started });
    };
    const deadline = setTimeout(() => finish(errors.timeout(timeoutMs, output)), timeoutMs);
    const sandbox: Record<string, unknown> = {
      ...script.globals,
      require: moduleRequire,
      console: { log: (...args: unknown[]) => output.push(args.join(' ')) },
      setTimeout: (fn: () => void, ms: number) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          try {
            fn();
          } catch (thrown) {
            finish(errors.exception({ name: 'Error', message: String(thrown), stack: '' }, output));
          }
        }, ms);
        timers.add(timer);
        return timer;
      },
    };
    try {
      const context = vm.createContext(sandbox);
      const completion: unknown = new vm.Script(script.code).runInContext(context, { timeout: timeoutMs });
      if (!script.call) {
        finish(undefined, completion);
        return;
      }
      const callee = sandbox[script.call];
      if (typeof callee !== 'function') return finish(errors.notImplemented(output));
      const caller = script.caller ? vm.runInContext(`(${script.caller})`, context) : (fn: (cb: unknown) => void, cb: unknown) => fn(cb);
      caller(callee, (value: unknown) => finish(undefined, value));
    } catch (thrown) {
      // Errors from inside the context are not instances of this realm's Error.
      const isTimeout = (thrown as { code?: string } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
      finish(
        isTimeout ? errors.timeout(timeoutMs, output) : errors.exception({ name: 'Error', message: String(thrown), stack: '' }, output),
      );
    }
  });
}

/** The daemon's default MAX_DEPTH: the baseline parses frames as it does. */
const MAX_DEPTH = 128;
const CEILING_REPLY = { value: 'hello world', console: [], time: 0 };
const execute = mode === 'vm' ? runInVm : async () => CEILING_REPLY;
if (mode !== 'vm' && mode !== 'ceiling') throw new Error('usage: reference-server.js vm|ceiling');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
  const address = wss.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : address}\n`);
});
wss.on('connection', (ws) => {
  let handshaken = false;
  ws.on('message', (data) => {
    const frame = data.toString();
    if (!handshaken) {
      handshaken = frame === DUPLEX_HANDSHAKE;
      ws.send(handshaken ? DUPLEX_ACCEPT : '-ERR');
      return;
    }
    // Duplex has no batches.
    const incoming = duplex.parse(frame, { maxDepth: MAX_DEPTH, maxBatchMembers: 0 });
    if (incoming.kind !== 'request' || incoming.target === undefined) return;
    const target = incoming.target;
    execute(incoming.params as Script).then(
      (result) => ws.send(duplex.result(target, JSON.stringify(result))),
      (error: unknown) => ws.send(duplex.error(target, error instanceof RpcError ? error : errors.internal())),
    );
  });
});
