// esbuild's service process under a daemon, found in /proc (Linux): for the
// tests that kill, stop or watch it.
import { readdirSync, readFileSync } from 'node:fs';
import type { RunningDaemon } from './daemon.js';

/** Whether `pid` is an esbuild service process (its command line holds `--service=`). */
export function isEsbuildService(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('\0--service=');
  } catch {
    return false;
  }
}

/** esbuild's service process under the daemon, with the CPU time it has used (clock ticks); undefined while there is none. */
export function esbuildService(daemon: RunningDaemon): { pid: number; cpuTicks: number } | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== daemon.process.pid || !isEsbuildService(Number(name))) continue;
      // utime and stime, fields 14 and 15 of stat.
      return { pid: Number(name), cpuTicks: Number(fields[11]) + Number(fields[12]) };
    } catch {
      // It exited between the listing and the read.
    }
  }
  return undefined;
}
