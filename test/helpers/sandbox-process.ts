// The daemon's sandbox processes, found with pgrep (Linux): for the tests that
// kill them or count them.
import { execFileSync } from 'node:child_process';
import type { RunningDaemon } from './daemon.js';
import { isEsbuildService } from './esbuild-process.js';

/** The daemon's sandbox processes (its child processes but esbuild's service); none for a moment while one is replaced. */
export function sandboxPids(daemon: RunningDaemon): number[] {
  let children: string;
  try {
    children = execFileSync('pgrep', ['-P', String(daemon.process.pid)]).toString();
  } catch {
    return []; // pgrep exits 1 when there is none
  }
  return children
    .trim()
    .split('\n')
    .map(Number)
    .filter((pid) => !isEsbuildService(pid));
}
