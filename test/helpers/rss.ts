// Resident memory of a process and every process under it (the daemon and its
// sandbox processes), read from /proc: each process's parent is found in
// /proc/PID/stat, so sandboxes replaced mid-test are counted as they appear.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());

export interface TreeRss {
  /** Milliseconds since the sampler started. */
  at: number;
  /** The root process and all its descendants, bytes. */
  total: number;
  /** The root process alone, bytes. */
  root: number;
  processes: number;
}

interface Stat {
  ppid: number;
  rssBytes: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name is in parentheses and may contain spaces: fields are counted after it.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), rssBytes: Number(fields[21]) * PAGE_BYTES };
  } catch {
    return undefined; // It exited between readdir and read.
  }
}

/** One reading of `rootPid` and its descendants, or undefined once `rootPid` is gone. */
export function readTreeRss(rootPid: number, at = 0): TreeRss | undefined {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat !== undefined) stats.set(pid, stat);
  }
  const root = stats.get(rootPid);
  if (root === undefined) return undefined;
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let total = 0;
  let processes = 0;
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    total += stats.get(pid)?.rssBytes ?? 0;
    processes++;
    pending.push(...(children.get(pid) ?? []));
  }
  return { at, total, root: root.rssBytes, processes };
}

/** Reads the tree's RSS every `intervalMs` until stopped; keeps every reading. */
export class RssSampler {
  readonly samples: TreeRss[] = [];
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly rootPid: number,
    intervalMs = 25,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Milliseconds since the sampler started, on the same clock as the samples. */
  now(): number {
    return performance.now() - this.started;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** The sample with the highest total (or root process) between two `now()` times (all of them by default). */
  peak(from = 0, to = Infinity, of: 'total' | 'root' = 'total'): TreeRss | undefined {
    let highest: TreeRss | undefined;
    for (const sample of this.samples) {
      if (sample.at >= from && sample.at <= to && (highest === undefined || sample[of] > highest[of])) highest = sample;
    }
    return highest;
  }

  /** The latest reading at or before `at`. */
  at(at: number): TreeRss | undefined {
    let latest: TreeRss | undefined;
    for (const sample of this.samples) if (sample.at <= at) latest = sample;
    return latest;
  }

  private sample(): void {
    const reading = readTreeRss(this.rootPid, this.now());
    if (reading !== undefined) this.samples.push(reading);
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}
