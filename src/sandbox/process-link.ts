// A sandbox as a forked Node process on this machine, over Node's IPC channel.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { residentBytes } from '../process-memory.js';
import type { ExecutorOptions, FromExecutor } from '../shared/ipc.js';
import type { StartLink } from './link.js';

const ENTRY = join(__dirname, '..', 'executor', 'main.js');

export function processLink(options: ExecutorOptions): StartLink {
  return async (events) => {
    const child = fork(ENTRY, [JSON.stringify(options)], {
      execArgv: ['--no-node-snapshot'],
      // Nothing of the daemon's environment (secrets included) reaches the sandbox.
      env: {},
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = once(child, 'exit');
    child.on('message', (message: FromExecutor) => events.message(message));
    child.once('exit', (code, signal) => events.exit(String(signal ?? code)));
    // A send to a process that has just died fails (EPIPE); its exit is reported
    // above, and an 'error' without a listener would take the daemon down.
    child.on('error', () => undefined);
    return {
      get connected() {
        return child.connected;
      },
      send: (message) => {
        if (!child.connected) return false;
        try {
          child.send(message, () => undefined);
          return true;
        } catch {
          return false;
        }
      },
      memoryBytes: () => residentBytes(child.pid),
      kill: () => child.kill('SIGKILL'),
      close: async (graceMs) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (child.connected) child.disconnect();
        // A wedged isolate thread can keep the process from exiting on its own.
        const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(kill);
      },
    };
  };
}
