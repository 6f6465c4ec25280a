// The warm isolates of a sandbox process. An execution takes one of its own
// and gives it back when nothing of it runs any more; the most recently used
// goes out first, its compiled scripts and its library realm's modules still
// warm. One that was disposed under its execution is dropped. A few are kept made ahead
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
 * What the isolates of a process may hold, together, past what they held
 * when they were made. Each execution leaves its released context behind as
 * garbage (a few hundred KB), which V8 collects only once an isolate's heap
 * has grown to some 40 MB — and the memory of a disposed isolate stays with
 * the process. So an isolate given back holding more than its share of this
 * is let go rather than reused: a few alone keep theirs until V8 collects,
 * many each keep a few megabytes. A new isolate costs a few milliseconds.
 */
const GARBAGE_BYTES = 128 * 1024 * 1024;
/** ...but each may hold this much: replacing isolates after a few executions each would cost more than it saves. */
const LEAST_GARBAGE_BYTES = 4 * 1024 * 1024;

export class IsolatePool {
  private readonly idle: WarmIsolate[] = [];
  private making = 0;
  /** Isolates given back whose next context is still to be made. */
  private readonly ahead: WarmIsolate[] = [];
  /** Isolates made and not yet disposed: idle, in use, or on their way. */
  private alive = 0;
  /** The fewest idle since the last trim: as many were not needed. */
  private leastIdle = 0;
  private readonly log: Logger;

  constructor(private readonly options: WarmIsolateOptions) {
    this.log = options.log;
  }

  /** Makes the first isolates; fails if none can be made (the prelude does not run). */
  async start(): Promise<void> {
    this.idle.push(await this.make());
    this.topUp();
    setInterval(() => this.trim(), TRIM_MS).unref();
  }

  /** An isolate for one execution: an idle one, or one made now. */
  async take(): Promise<WarmIsolate> {
    const warm = this.idle.pop() ?? (await this.make());
    this.leastIdle = Math.min(this.leastIdle, this.idle.length);
    this.topUp();
    return warm;
  }

  /** Its execution is over: a live isolate waits for the next (its next context made ahead), a disposed one is dropped. */
  giveBack(warm: WarmIsolate): void {
    if (
      warm.isDisposed ||
      warm.spoiled ||
      this.idle.length >= MAX_IDLE ||
      warm.garbageBytes() > Math.max(LEAST_GARBAGE_BYTES, GARBAGE_BYTES / this.alive)
    ) {
      this.dispose(warm);
      this.topUp();
      return;
    }
    warm.free();
    this.idle.push(warm);
    this.ahead.push(warm);
    if (this.ahead.length === 1) setImmediate(() => this.makeAhead());
  }

  /**
   * Makes the next context of isolates given back, one a turn of the event
   * loop: a synchronous call holds the main thread, and many sleepers ending
   * at once would hold it for all of theirs.
   */
  private makeAhead(): void {
    this.ahead.shift()?.makeAhead();
    if (this.ahead.length > 0) setImmediate(() => this.makeAhead());
  }

  /** Makes isolates in the background until WARM are idle or on their way. */
  private topUp(): void {
    while (this.idle.length + this.making < WARM) {
      this.making++;
      this.make()
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
    if (spare > 0) for (const warm of this.idle.splice(0, spare)) this.dispose(warm);
    this.leastIdle = this.idle.length;
  }

  private async make(): Promise<WarmIsolate> {
    const warm = await WarmIsolate.make(this.options);
    this.alive++;
    return warm;
  }

  /** Every isolate made ends here once: given back disposed or unwanted, or trimmed. */
  private dispose(warm: WarmIsolate): void {
    warm.dispose();
    this.alive--;
  }
}
