// The one interface the runtime uses to run scripts. isolated-vm is behind it
// (src/executor); another engine can replace it without touching the runtime.
import type { Usage } from 'javascriptd-client';

export interface ExecutionRequest {
  code: string;
  /** SHA-256 of `code` (hex): its key in compiled-script caches, and in logs. */
  codeHash: string;
  /**
   * `code` is an ES module: in the sandbox, the bundle the daemon made of it
   * (runtime/source-transform.ts), which imports nothing.
   */
  module?: boolean;
  /** `code` is TypeScript, as sent; the daemon strips the types before the sandbox sees it. */
  typescript?: boolean;
  /** Own keys become globals of the fresh context. */
  globals: Record<string, unknown> | undefined;
  call: string | undefined;
  caller: string | undefined;
  timeoutMs: number;
  /** Console lines are reported as they are printed (see ExecutionWatch.onConsole). */
  stream: boolean;
}

// What one execution cost is a wire type: the client package's, as the error code table is.
export type { Usage };

/** What a caller follows of one execution while it runs. */
export interface ExecutionWatch {
  /** Console lines as they are printed, when the request streams them (at most CONSOLE_LIMIT in all). */
  onConsole?: (lines: string[]) => void;
  /** Aborting it cancels the execution: queued, it never starts; running, it is stopped and answered with 1007. */
  signal?: AbortSignal;
}

export interface ExecutionResult {
  /** The value as JSON text, as the isolate serialized it; it is spliced into the reply, never parsed again. */
  valueJson: string;
  console: string[];
  /** Duration of the execution in ms. */
  time: number;
  usage: Usage;
}

export interface SandboxLimits {
  memoryLimitMb: number;
  consoleLimitBytes: number;
  resultLimitBytes: number;
  /** MAX_DEPTH: the deepest result, as for frames. */
  resultDepth: number;
  /** What one execution may send (request bodies, in all) and how many requests it may hand over. */
  fetchMaxBytes: number;
  fetchMaxRequests: number;
}

/**
 * Why an isolate was thrown away and replaced: its sandbox died or was killed
 * (taking the isolate with it), its sandbox went over SANDBOX_MEMORY (killed
 * during an execution, or replaced after one), the isolate hit MEMORY_LIMIT,
 * or a call was still running after the outcome was known.
 */
export type RecycleReason = 'sandbox-lost' | 'sandbox-memory' | 'memory-limit' | 'still-running';

/** An execution in a sandbox process (src/executor). */
export interface Running {
  /** The script's result; rejects with an RpcError. */
  result: Promise<ExecutionResult>;
  /** Resolves once nothing of the execution runs any more. */
  done: Promise<void>;
  /** Stops it where it is (1007), unless it has its outcome already. */
  cancel(): void;
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
