// The reply to a JSON-RPC batch: one array frame holding a reply for each
// member that gets one, made as the members finish and sent once all have.
// The frame is bounded (MAX_FRAME): a member whose reply does not fit gets
// 1005 instead. Room for that short error is set aside for every member from
// the start, so it always fits, whichever member finishes last.
import * as errors from '../errors.js';
import type { Dialect, ReplyTarget } from './dialect.js';

/** Larger than any reply size the error can name: its digits bound the error's length. */
const ANY_SIZE = Number.MAX_SAFE_INTEGER;

export class BatchReply {
  private readonly replies: (string | undefined)[];
  /** Bytes each unanswered member has set aside for its 1005, by member; 0 for members that get no reply. */
  private readonly reserved: number[];
  private reservedTotal = 0;
  /** Bytes of the frame so far: the opening bracket, and each reply kept with the comma or bracket after it. */
  private used = 1;
  /** MAX_FRAME, or more for a batch of so many members that their 1005s alone pass it. */
  private readonly bound: number;

  /** `targets`: where each member's reply goes, undefined for members that get none. */
  constructor(
    private readonly dialect: Dialect,
    private readonly targets: readonly (ReplyTarget | undefined)[],
    private readonly limit: number,
  ) {
    this.replies = targets.map(() => undefined);
    this.reserved = targets.map((target) => (target === undefined ? 0 : this.tooLarge(target, ANY_SIZE).bytes));
    this.reservedTotal = this.reserved.reduce((sum, bytes) => sum + bytes, 0);
    this.bound = Math.max(limit, this.used + this.reservedTotal);
  }

  /** Member `index`'s reply, or its 1005 if the reply does not fit; returns the bytes it added to the frame. */
  add(index: number, reply: string): number {
    this.reservedTotal -= this.reserved[index];
    this.reserved[index] = 0;
    let kept = { text: reply, bytes: Buffer.byteLength(reply) + 1 };
    if (this.used + this.reservedTotal + kept.bytes > this.bound) kept = this.tooLarge(this.targets[index] as ReplyTarget, kept.bytes - 1);
    this.replies[index] = kept.text;
    this.used += kept.bytes;
    return kept.bytes;
  }

  /** Whether the batch gets a reply frame at all: one of notifications only does not. */
  get answered(): boolean {
    return this.used > 1;
  }

  /** The frame: the replies in the order of their members. */
  frame(): string {
    return `[${this.replies.filter((reply) => reply !== undefined).join(',')}]`;
  }

  private tooLarge(target: ReplyTarget, size: number): { text: string; bytes: number } {
    const text = this.dialect.error(target, errors.batchReplyTooLarge(size, this.limit));
    return { text, bytes: Buffer.byteLength(text) + 1 };
  }
}
