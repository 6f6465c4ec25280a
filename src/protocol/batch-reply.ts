// The reply to a JSON-RPC batch: one array frame holding a reply for each
// member that gets one, made as the members finish and sent once all have.
// The frame is at most MAX_FRAME: a member whose reply does not fit gets 1005
// instead. Room for that short error is set aside for every member from the
// start, so it always fits, whichever member finishes last; a batch whose
// members' errors alone would not fit is refused whole (errors.batchTooLarge).
import * as errors from '../errors.js';
import type { ReplyTarget } from './dialect.js';
import { jsonRpc } from './jsonrpc.js';

/** Larger than any reply size the error can name: its digits bound the error's length. */
const ANY_SIZE = Number.MAX_SAFE_INTEGER;

/** The bytes a member's 1005 takes in the frame (with its comma), less its id's JSON: the id is the only part that varies. */
function tooLargeBase(limit: number): number {
  return Buffer.byteLength(jsonRpc.error({ id: null }, errors.batchReplyTooLarge(ANY_SIZE, limit))) + 1 - 'null'.length;
}

/** The most members a batch may have: each needs room for its 1005 in a frame of `limit` bytes, id null at the least. */
export function maxBatchMembers(limit: number): number {
  return Math.floor((limit - 1) / (tooLargeBase(limit) + 'null'.length));
}

export class BatchReply {
  private readonly replies: (string | undefined)[];
  /** Bytes each unanswered member has set aside for its 1005, by member; 0 for members that get no reply. */
  private readonly reserved: number[];
  private reservedTotal: number;
  /** Bytes of the frame so far: the opening bracket, and each reply kept with the comma or bracket after it. */
  private used = 1;

  /** `targets`: where each member's reply goes, undefined for members that get none. */
  constructor(
    private readonly targets: readonly (ReplyTarget | undefined)[],
    private readonly limit: number,
  ) {
    const base = tooLargeBase(limit);
    this.replies = targets.map(() => undefined);
    this.reserved = targets.map((target) => (target === undefined ? 0 : base + Buffer.byteLength(JSON.stringify(target.id))));
    this.reservedTotal = this.reserved.reduce((sum, bytes) => sum + bytes, 0);
  }

  /** Whether every member's 1005 fits in the frame (members with long ids may not): if not, the batch is refused whole (errors.batchTooLarge). */
  get fits(): boolean {
    return this.used + this.reservedTotal <= this.limit;
  }

  /** Member `index`'s reply, or its 1005 if the reply does not fit; returns the bytes it added to the frame. */
  add(index: number, reply: string): number {
    this.reservedTotal -= this.reserved[index];
    this.reserved[index] = 0;
    const bytes = Buffer.byteLength(reply) + 1;
    const kept =
      this.used + this.reservedTotal + bytes <= this.limit
        ? { text: reply, bytes }
        : this.tooLarge(this.targets[index] as ReplyTarget, bytes - 1);
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
    const text = jsonRpc.error(target, errors.batchReplyTooLarge(size, this.limit));
    return { text, bytes: Buffer.byteLength(text) + 1 };
  }
}
