// Messages over a byte stream (a container's stdin and stdout): each frame is a
// 4-byte big-endian length and the message in V8's serialization, the format
// Node's own "advanced" IPC uses, so bytes (fetch bodies) travel as they are.
import { deserialize, serialize } from 'node:v8';

/** The largest frame accepted; a bigger length means the stream is corrupt. */
const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export function encodeFrame(message: unknown): Buffer {
  const body = serialize(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  /** Adds bytes read from the stream; returns the messages they complete. */
  push(chunk: Buffer): unknown[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const messages: unknown[] = [];
    while (this.buffered.length >= 4) {
      const length = this.buffered.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes is larger than allowed`);
      if (this.buffered.length < 4 + length) break;
      messages.push(deserialize(this.buffered.subarray(4, 4 + length)));
      this.buffered = this.buffered.subarray(4 + length);
    }
    return messages;
  }
}
