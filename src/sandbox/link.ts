// How the daemon reaches one sandbox: a forked process (process-link.ts) or a
// container (container-link.ts). Either carries the same messages (ipc.ts).
import type { FromExecutor, ToExecutor } from './ipc.js';

export interface LinkEvents {
  message(message: FromExecutor): void;
  /** The sandbox is gone; `reason` is its exit code or signal; `outOfMemory` if the kernel killed it for memory. */
  exit(reason: string, outOfMemory?: boolean): void;
}

export interface SandboxLink {
  readonly connected: boolean;
  send(message: ToExecutor): void;
  /** Ends the sandbox at once. */
  kill(): void;
  /** Asks the sandbox to exit, and kills it if it has not after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Starts a new sandbox whose messages and exit go to `events`. */
export type StartLink = (events: LinkEvents) => Promise<SandboxLink>;
