// Unit tests of stdio framing (src/shared/frames.ts). They start nothing: no daemon, no sandbox, no network.
import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder } from '../src/shared/frames.js';

/** `bytes` cut into chunks of `size` bytes (views, not copies). */
function chunked(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

function decodeAll(chunks: readonly Buffer[]): unknown[] {
  const decoder = new FrameDecoder();
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

/** Bytes Buffer.concat and Buffer#copy write while `run` runs: the copying the decoder does. */
function bytesCopied(run: () => void): number {
  const { concat } = Buffer;
  const { copy } = Buffer.prototype;
  let copied = 0;
  Buffer.concat = (list: readonly Uint8Array[], total?: number) => {
    const joined = concat(list, total);
    copied += joined.length;
    return joined;
  };
  Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>) {
    const written = copy.apply(this, args);
    copied += written;
    return written;
  };
  try {
    run();
  } finally {
    Buffer.concat = concat;
    Buffer.prototype.copy = copy;
  }
  return copied;
}

describe('unit: frames', () => {
  it('prefixes the V8 serialization with its length, big-endian', () => {
    const frame = encodeFrame({ a: 1 });
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    assert.ok(frame.length > 4);
  });

  it('decodes several frames from one chunk, bytes and nested values as they were', () => {
    const messages = [{ type: 'run', id: 1, body: new Uint8Array([0, 255, 7]) }, 'text', [1, [2, { three: null }]], 42];
    const decoded = decodeAll([Buffer.concat(messages.map(encodeFrame))]);
    assert.deepEqual(decoded, messages);
    assert.ok((decoded[0] as { body: unknown }).body instanceof Uint8Array);
  });

  it('returns nothing until a frame is complete, then exactly that frame', () => {
    const frame = encodeFrame({ n: 1 });
    const decoder = new FrameDecoder();
    assert.deepEqual(decoder.push(frame.subarray(0, frame.length - 1)), []);
    assert.deepEqual(decoder.push(frame.subarray(frame.length - 1)), [{ n: 1 }]);
    assert.deepEqual(decoder.push(Buffer.alloc(0)), []);
  });

  it('reassembles a length prefix split across chunks, however it is split', () => {
    const stream = Buffer.concat([encodeFrame('first'), encodeFrame({ second: [1, 2, 3] }), encodeFrame('third')]);
    const expected = ['first', { second: [1, 2, 3] }, 'third'];
    // One byte at a time splits every prefix at every position.
    assert.deepEqual(decodeAll(chunked(stream, 1)), expected);
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual(decodeAll([stream.subarray(0, cut), stream.subarray(cut)]), expected, `cut at ${cut}`);
    }
  });

  it('decodes a 5 MB frame fed in many small chunks, copying its bytes about once', () => {
    const body = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251);
    const frame = encodeFrame({ body });
    for (const size of [65536, 1000]) {
      let decoded: unknown[] = [];
      const copied = bytesCopied(() => {
        decoded = decodeAll(chunked(frame, size));
      });
      assert.equal(decoded.length, 1);
      assert.deepEqual((decoded[0] as { body: Uint8Array }).body, body);
      // Joining the buffer on every chunk copied ~200 MB here (64 KB chunks).
      assert.ok(copied <= frame.length, `${size}-byte chunks: ${copied} bytes copied for a ${frame.length}-byte frame`);
    }
  });

  it('refuses a length larger than any frame allowed, as soon as the prefix arrives', () => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(256 * 1024 * 1024 + 1);
    assert.throws(() => new FrameDecoder().push(prefix), /frame of 268435457 bytes is larger than allowed/);
  });
});
