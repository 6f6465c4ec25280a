// How the daemon reaches one sandbox: a forked process (process-link.ts) or a
// container (container-link.ts). Either carries the same messages (ipc.ts).
import type { FromExecutor, ToExecutor } from '../shared/ipc.js';

export interface LinkEvents {
  message(message: FromExecutor): void;
  /** The sandbox is gone; `reason` is its exit code or signal; `outOfMemory` if the kernel killed it for memory. */
  exit(reason: string, outOfMemory?: boolean): void;
}

export interface SandboxLink {
  readonly connected: boolean;
  /** Hands `message` to the sandbox; false if it could not be (the sandbox is gone, or the message cannot be serialized). */
  send(message: ToExecutor): boolean;
  /** The sandbox's resident memory in bytes, where the daemon can read it (a process on this machine); undefined where something else bounds it (a container's limit). */
  memoryBytes(): number | undefined;
  /** Ends the sandbox at once. */
  kill(): void;
  /** Asks the sandbox to exit, and kills it if it has not after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Starts a new sandbox whose messages and exit go to `events`. */
export type StartLink = (events: LinkEvents) => Promise<SandboxLink>;
