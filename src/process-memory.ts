// The resident memory of a process, for the bounds the daemon keeps on the
// processes it starts (sandboxes, esbuild's service).
import { readFileSync } from 'node:fs';

/** VmRSS of a process from /proc, or undefined where there is none to read. */
export function residentBytes(pid: number | undefined): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
