// The one interface the runtime uses to run scripts. isolated-vm is behind it
// (src/executor); another engine can replace it without touching the runtime.
import type { ExecutionRequest, ExecutionResult } from '../shared/contract.js';

/** What a caller follows of one execution while it runs. */
export interface ExecutionWatch {
  /** Console lines as they are printed, when the request streams them (at most CONSOLE_LIMIT in all). */
  onConsole?: (lines: string[]) => void;
  /** Aborting it cancels the execution: queued, it never starts; running, it is stopped and answered with 1007. */
  signal?: AbortSignal;
}

export interface Sandbox {
  /** Executions that may run at once (MAX_CONCURRENT). */
  readonly capacity: number;
  /**
   * Starts an execution; its result rejects with an RpcError. Undefined if no
   * sandbox can take it now (busy starting others, or no memory to spare): it
   * waits. The caller never has more than `capacity` running.
   */
  start(request: ExecutionRequest, watch: ExecutionWatch): Promise<ExecutionResult> | undefined;
  /** `listener` is told when an execution may start that could not before. */
  onAvailable(listener: () => void): void;
  close(): Promise<void>;
}
