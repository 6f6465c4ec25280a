// Messages over a byte stream (a container's stdin and stdout): each frame is a
// 4-byte big-endian length and the message in V8's serialization, the format
// Node's own "advanced" IPC uses, so bytes (fetch bodies) travel as they are.
import { deserialize, serialize } from 'node:v8';

/** The largest frame accepted; a bigger length means the stream is corrupt. */
const MAX_FRAME_BYTES = 256 * 1024 * 1024;
const PREFIX_BYTES = 4;

export function encodeFrame(message: unknown): Buffer {
  const body = serialize(message);
  const header = Buffer.alloc(PREFIX_BYTES);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

export class FrameDecoder {
  // Chunks are kept as they arrive and joined once per frame: joining on every
  // chunk would copy a large frame over and over (a 5 MB body in 64 KB chunks,
  // some 200 MB).
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** The length of the frame being read, once its prefix has arrived. */
  private frameLength: number | undefined;

  /** Adds bytes read from the stream; returns the messages they complete. */
  push(chunk: Buffer): unknown[] {
    if (chunk.length > 0) this.chunks.push(chunk);
    this.buffered += chunk.length;
    const messages: unknown[] = [];
    for (;;) {
      if (this.frameLength === undefined) {
        if (this.buffered < PREFIX_BYTES) break;
        const length = this.take(PREFIX_BYTES).readUInt32BE(0);
        if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes is larger than allowed`);
        this.frameLength = length;
      }
      if (this.buffered < this.frameLength) break;
      messages.push(deserialize(this.take(this.frameLength)));
      this.frameLength = undefined;
    }
    return messages;
  }

  /** Removes the next `count` buffered bytes: a view of the first chunk when it holds them all, else one copy of just those. */
  private take(count: number): Buffer {
    this.buffered -= count;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const joined = Buffer.allocUnsafe(count);
    for (let filled = 0; filled < count; ) {
      const next = this.chunks[0];
      const used = next.copy(joined, filled, 0, count - filled);
      filled += used;
      if (used === next.length) this.chunks.shift();
      else this.chunks[0] = next.subarray(used);
    }
    return joined;
  }
}
