// The one interface the runtime uses to run scripts. isolated-vm is behind it
// (isolate-pool.ts); another engine can replace it without touching the runtime.

export interface ExecutionRequest {
  code: string;
  /** SHA-256 of `code` (hex): its key in compiled-script caches, and in logs. */
  codeHash: string;
  /** Own keys become globals of the fresh context. */
  globals: Record<string, unknown> | undefined;
  call: string | undefined;
  caller: string | undefined;
  timeoutMs: number;
}

export interface ExecutionResult {
  /** The value as JSON text, as the isolate serialized it; it is spliced into the reply, never parsed again. */
  valueJson: string;
  console: string[];
  /** Duration of the execution in ms. */
  time: number;
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

export interface Running {
  /** The script's result; rejects with an RpcError. */
  result: Promise<ExecutionResult>;
  /** Resolves once nothing of the execution runs any more and its slot is free. */
  done: Promise<void>;
}

export interface Sandbox {
  /** Executions that may run at once. */
  readonly capacity: number;
  /** Starts an execution; the caller never has more than `capacity` running. */
  start(request: ExecutionRequest): Running;
  close(): Promise<void>;
}
