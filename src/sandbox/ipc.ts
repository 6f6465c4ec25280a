// Messages between the daemon and a sandbox process (over Node's IPC channel).
import type { WireError } from '../errors.js';
import type { WireRequest, WireResponse } from '../outbound/wire.js';
import type { ExecutionRequest, ExecutionResult, RecycleReason, SandboxLimits } from './sandbox.js';

export interface ExecutorOptions {
  limits: SandboxLimits;
  /** Allowlisted module names; the sandbox loads their bundles from `cacheDir`. */
  modules: string[];
  /**
   * The modules the prelude holds, `modules` and maybe more: a runtime image's
   * prepared ones, whose code cache is made for exactly these. Default: `modules`.
   */
  preludeModules?: string[];
  /** undefined: the sandbox's own MODULE_PATH / MODULE_CACHE (a runtime image's). */
  modulePath?: string;
  cacheDir?: string;
  logLevel: string;
  noLogs: boolean;
}

export type ToExecutor =
  | { kind: 'run'; id: number; request: ExecutionRequest }
  | { kind: 'fetched'; id: number; fetchId: number; response: WireResponse }
  | { kind: 'fetch-failed'; id: number; fetchId: number; message: string };

export type FromExecutor =
  | { kind: 'ready' }
  /** The sandbox replaced its isolate (the sandbox itself lives on). */
  | { kind: 'recycled'; reason: Exclude<RecycleReason, 'sandbox-lost' | 'sandbox-memory'> }
  /** Execution `id` arrived and is about to run: before this, nothing of it can have had an effect. */
  | { kind: 'started'; id: number }
  | { kind: 'result'; id: number; result: ExecutionResult }
  | { kind: 'error'; id: number; error: WireError }
  /** Nothing of execution `id` runs any more; the process takes the next one. */
  | { kind: 'done'; id: number }
  /** Execution `id` fetches: the daemon applies the key's policy and performs the request. */
  | { kind: 'fetch'; id: number; fetchId: number; request: WireRequest }
  | { kind: 'abort-fetch'; id: number; fetchId: number };
