// Messages between the daemon and a sandbox process (over Node's IPC channel,
// or a container's stdio): executions go in, each gets one answer back, and
// its fetches go out to the daemon and back.

import type { LogFormat } from '../config/types.js';
import type { WireError } from '../errors.js';
import type { WireRequest, WireResponse } from '../outbound/wire.js';
import type { ExecutionRequest, ExecutionResult, RecycleReason, SandboxLimits, Usage } from './contract.js';
import type { ModuleInstances } from './prelude-source.js';

export interface ExecutorOptions {
  /** The key it runs for: its log lines name it. */
  key: string;
  limits: SandboxLimits;
  /** Allowlisted module names; the sandbox loads their bundles from `cacheDir`. */
  modules: string[];
  /** MODULE_INSTANCES: one frozen instance per isolate, or one per execution. */
  moduleInstances: ModuleInstances;
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
  /** The daemon's choice, so that a sandbox's lines look like the daemon's. */
  logFormat: LogFormat;
}

export type ToExecutor =
  | { kind: 'run'; id: number; request: ExecutionRequest }
  | { kind: 'cancel'; id: number }
  | { kind: 'fetched'; id: number; fetchId: number; response: WireResponse }
  | { kind: 'fetch-failed'; id: number; fetchId: number; message: string };

export type FromExecutor =
  | { kind: 'ready' }
  /** A disposed isolate's thread still runs (it cannot be stopped): the sandbox should be replaced once its executions are over. */
  | { kind: 'wedged' }
  /** The sandbox replaced its isolate (the sandbox itself lives on). */
  | { kind: 'recycled'; reason: Exclude<RecycleReason, 'sandbox-lost' | 'sandbox-memory'> }
  /** Execution `id` ran its first part and now waits (timers, fetches, promises): it no longer holds the sandbox's thread. */
  | { kind: 'waiting'; id: number }
  /** Execution `id`'s outcome: its one answer. What it may still run is the sandbox's to stop. */
  | { kind: 'result'; id: number; result: ExecutionResult }
  | { kind: 'error'; id: number; error: WireError; usage: Usage }
  /** Console lines execution `id` printed, for a request that streams them. */
  | { kind: 'console'; id: number; lines: string[] }
  /** Execution `id` fetches: the daemon applies the key's policy and performs the request. */
  | { kind: 'fetch'; id: number; fetchId: number; request: WireRequest }
  | { kind: 'abort-fetch'; id: number; fetchId: number };
