// How many executions one sandbox computes at once. Each computing execution
// holds a thread of its own, and threads past the cores cost CPU in hand-overs
// (docs/engine-shapes.md: 2.7x per hello world at 8 in flight on 2 cores), so
// a sandbox starts only its share of the cores at a time; one computing past
// its first slice (a loop, a heavy render) no longer counts as starting, so
// that a light call starts beside it, up to three times that share computing
// at once. SANDBOX_MEMORY's default makes room for that many isolates at
// their MEMORY_LIMIT (config/read-config.ts).
import { availableParallelism } from 'node:os';

export interface ComputeSlots {
  /** Executions computing for less than their first slice. */
  starting: number;
  /** Executions computing, in all. */
  computing: number;
}

export function computeSlots(poolSize: number, cores = availableParallelism()): ComputeSlots {
  const share = Math.max(1, Math.ceil(cores / poolSize));
  return { starting: share, computing: 3 * share };
}
