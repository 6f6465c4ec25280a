// The CPU time each isolate of this process gets while a call runs in it.
// isolated-vm's `cpuTime` cannot say: its prebuilt binaries time a call with
// the wall clock (the thread CPU clock is an option of a source build), so it
// counts the time a call waited for a core as well. The process knows the CPU
// time all of its threads got, and its main thread's: the rest went to the
// isolates running calls (and their garbage collection), shared among those
// running at the time. Each isolate is charged that share: exact for busy
// loops side by side (the OS shares the cores out evenly), an estimate for a
// short call beside them — which is what a time limit needs.

/** CPU time, µs, of every thread of the process but the main one: isolates' calls and what V8 does for them. */
function isolateThreadsUs(): number {
  const all = process.cpuUsage();
  const main = process.threadCpuUsage();
  return all.user + all.system - main.user - main.system;
}

export class CpuShares {
  /** Isolates running a call now. */
  private running = 0;
  private lastUs = isolateThreadsUs();
  /** CPU time, µs, that each isolate running a call all along since the process started would have got. */
  private perIsolateUs = 0;

  /** An isolate starts running calls; returns the mark to charge it from. */
  enter(): number {
    this.advance();
    this.running++;
    return this.perIsolateUs;
  }

  /** It stops; returns the CPU time, µs, it got since `mark`. */
  leave(mark: number): number {
    this.advance();
    this.running--;
    return this.perIsolateUs - mark;
  }

  /** CPU time, µs, an isolate running since `mark` has got so far. */
  since(mark: number): number {
    this.advance();
    return this.perIsolateUs - mark;
  }

  private advance(): void {
    const now = isolateThreadsUs();
    if (this.running > 0) this.perIsolateUs += Math.max(0, now - this.lastUs) / this.running;
    this.lastUs = now;
  }
}
