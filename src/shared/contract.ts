// What the daemon and a sandbox process agree on for one execution: the
// request, its limits, its result and what it cost. Both sides import it;
// the executor imports nothing else of the daemon's.
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

export interface ExecutionResult {
  /** The value as JSON text, as the isolate serialized it; it is spliced into the reply, never parsed again. */
  valueJson: string;
  console: string[];
  /** Duration of the execution in ms. */
  time: number;
  usage: Usage;
}

export interface SandboxLimits {
  /** MEMORY_LIMIT: one execution's heap (its isolate's). */
  memoryLimitMb: number;
  /** SANDBOX_MEMORY: what the whole sandbox may hold; short of it, the execution holding the most is stopped (memory-relief.ts). */
  sandboxMemoryMb: number;
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

/**
 * A running script's time limit counts the CPU time it got; its wall time may
 * run past the limit while it computes (its neighbours share the cores), up to
 * this many times the limit. A script waiting on timers or fetches is stopped
 * at its wall-clock limit.
 */
export const WALL_BACKSTOP = 4;
