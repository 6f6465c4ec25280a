// The warm isolates of a sandbox process. An execution takes one of its own
// and gives it back when nothing of it runs any more; the most recently used
// goes out first, its compiled scripts and preloaded modules still warm. One
// that was disposed under its execution is dropped; a few are kept made ahead
// so that no execution waits for one, and past MAX_IDLE the rest are let go
// (an idle isolate holds about a megabyte).
import type { Logger } from '../log.js';
import { WarmIsolate, type WarmIsolateOptions } from './warm-isolate.js';

/** Idle isolates kept made ahead. */
const WARM = 2;
/** Idle isolates kept at most once their executions are over. */
const MAX_IDLE = 8;

export class IsolatePool {
  private readonly idle: WarmIsolate[] = [];
  private making = 0;
  /** Isolates made since the process started: how often executions could not reuse one. */
  made = 0;
  private readonly log: Logger;

  constructor(private readonly options: WarmIsolateOptions) {
    this.log = options.log;
  }

  /** Makes the first isolates; fails if none can be made (the prelude does not run). */
  async start(): Promise<void> {
    this.idle.push(await this.make());
    this.topUp();
  }

  /** An isolate for one execution: an idle one, or one made now. */
  async take(): Promise<WarmIsolate> {
    const warm = this.idle.pop() ?? (await this.make());
    this.topUp();
    return warm;
  }

  /** Its execution is over: a live isolate waits for the next (its next context made ahead), a disposed one is dropped. */
  giveBack(warm: WarmIsolate): void {
    if (warm.isDisposed || this.idle.length >= MAX_IDLE) {
      warm.dispose();
      this.topUp();
      return;
    }
    warm.makeAhead();
    this.idle.push(warm);
  }

  /** Makes isolates in the background until WARM are idle or on their way. */
  private topUp(): void {
    while (this.idle.length + this.making < WARM) {
      this.making++;
      this.make()
        .then(
          (warm) => this.idle.push(warm),
          (err: unknown) => this.log.error({ err }, 'could not make an isolate ahead'),
        )
        .finally(() => this.making--);
    }
  }

  private make(): Promise<WarmIsolate> {
    this.made++;
    return WarmIsolate.make(this.options);
  }
}
