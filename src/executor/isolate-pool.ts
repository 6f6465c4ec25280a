// The warm isolates of a sandbox process. An execution takes one of its own
// and gives it back when nothing of it runs any more; the most recently used
// goes out first, its compiled scripts and preloaded modules still warm. One
// that was disposed under its execution is dropped. A few are kept made ahead
// so that no execution waits for one; past that, those not needed lately are
// let go (an idle isolate holds about a megabyte).
import type { Logger } from '../log.js';
import { WarmIsolate, type WarmIsolateOptions } from './warm-isolate.js';

/** Idle isolates kept made ahead. */
const WARM = 2;
/** Idle isolates kept at most once their executions are over. */
const MAX_IDLE = 16;
/** How often idle isolates no execution needed since the last look are let go. */
const TRIM_MS = 5000;
/**
 * An isolate given back using more heap than this is let go rather than
 * reused: each execution leaves its released context behind as garbage
 * (about 200 KB), which V8 collects only once the heap has grown to some
 * 40 MB. A new isolate costs a few milliseconds, every hundred executions or so.
 */
const RECYCLE_HEAP_BYTES = 12 * 1024 * 1024;

export class IsolatePool {
  private readonly idle: WarmIsolate[] = [];
  private making = 0;
  /** The fewest idle since the last trim: as many were not needed. */
  private leastIdle = 0;
  private readonly log: Logger;

  constructor(private readonly options: WarmIsolateOptions) {
    this.log = options.log;
  }

  /** Makes the first isolates; fails if none can be made (the prelude does not run). */
  async start(): Promise<void> {
    this.idle.push(await WarmIsolate.make(this.options));
    this.topUp();
    setInterval(() => this.trim(), TRIM_MS).unref();
  }

  /** An isolate for one execution: an idle one, or one made now. */
  async take(): Promise<WarmIsolate> {
    const warm = this.idle.pop() ?? (await WarmIsolate.make(this.options));
    this.leastIdle = Math.min(this.leastIdle, this.idle.length);
    this.topUp();
    return warm;
  }

  /** Its execution is over: a live isolate waits for the next (its next context made ahead), a disposed one is dropped. */
  giveBack(warm: WarmIsolate): void {
    if (warm.isDisposed || this.idle.length >= MAX_IDLE || warm.heapUsed() > RECYCLE_HEAP_BYTES) {
      warm.dispose();
      this.topUp();
      return;
    }
    warm.readyForNext();
    this.idle.push(warm);
  }

  /** Makes isolates in the background until WARM are idle or on their way. */
  private topUp(): void {
    while (this.idle.length + this.making < WARM) {
      this.making++;
      WarmIsolate.make(this.options)
        .then(
          // Behind those given back: their compiled scripts are warm, a new one's are not.
          (warm) => this.idle.unshift(warm),
          (err: unknown) => this.log.error({ err }, 'could not make an isolate ahead'),
        )
        .finally(() => this.making--);
    }
  }

  /** Lets go of the idle isolates no execution needed since the last trim, the least recently used first, keeping WARM. */
  private trim(): void {
    const spare = Math.min(this.leastIdle, this.idle.length - WARM);
    if (spare > 0) for (const warm of this.idle.splice(0, spare)) warm.dispose();
    this.leastIdle = this.idle.length;
  }
}
