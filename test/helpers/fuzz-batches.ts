// JSON-RPC batches of mixed members for the protocol fuzz test, from a seeded
// PRNG: requests with known answers, small and large (results up to
// RESULT_LIMIT, scripts of up to 150 KB), notifications, and invalid members of
// every kind; each member with what its reply must be.
import type { Rng } from './fuzz-frames.js';

/** What one member's reply must be. */
export interface MemberExpectation {
  /** JSON of the id its reply carries; undefined when its reply (if any) carries id null. */
  key?: string;
  /** Answered with id null (an id that is not usable, or a member that is not a request). */
  nullReply: boolean;
  /** A request with a known answer: the value a success must carry. */
  value?: unknown;
  /** The code an error reply must carry (undefined: any code); any error's when there is no `value`. */
  code?: number;
  /** It runs (or reaches the runtime): 1004 or 1005 may come instead of what it would get (GIVE_WAY_CODES). */
  dispatched: boolean;
  label: string;
}

export interface FuzzBatch {
  text: string;
  members: MemberExpectation[];
}

/** A request anyone may get in place of its value: the queue or in-flight bound (1004), no room in the batch's reply frame (1005). */
export const GIVE_WAY_CODES = new Set([1004, 1005]);

export class BatchGenerator {
  private lastId = 0;

  constructor(
    private readonly rng: Rng,
    private readonly maxFrameBytes: number,
  ) {}

  /** A batch of 1 to 40 members that fits in MAX_FRAME; `first`: its first member is a valid request (it picks the dialect). */
  batch(first: boolean): FuzzBatch {
    const count = this.rng.int(1, 40);
    const texts: string[] = [];
    const members: MemberExpectation[] = [];
    let bytes = 2;
    for (let i = 0; i < count; i++) {
      const member = i === 0 && first ? this.knownAnswer() : this.member();
      const size = Buffer.byteLength(member.text) + 1;
      // Room for the frame's own bracket and commas, well under MAX_FRAME.
      if (bytes + size > this.maxFrameBytes - 1024) break;
      bytes += size;
      texts.push(member.text);
      members.push(member.expect);
    }
    return { text: `[${texts.join(',')}]`, members };
  }

  private member(): { text: string; expect: MemberExpectation } {
    const kind = this.rng.pick([
      'known',
      'known',
      'known',
      'large result',
      'large result',
      'large script',
      'notification',
      'notification',
      'large notification',
      'not an object',
      'bad jsonrpc',
      'no method',
      'unusable id',
      'null id',
      'unknown method',
      'bad params',
      'throws',
    ] as const);
    const id = this.nextId();
    const key = JSON.stringify(id);
    const request = (params: unknown, method = 'runtime.execute') => JSON.stringify({ jsonrpc: '2.0', method, params, id });
    switch (kind) {
      case 'known':
        return this.knownAnswer();
      case 'large result': {
        const length = this.rng.int(1000, 60000);
        return {
          text: request({ code: `"y".repeat(${length})` }),
          expect: { key, nullReply: false, value: 'y'.repeat(length), dispatched: true, label: kind },
        };
      }
      case 'large script': {
        const n = this.rng.int(0, 1000);
        const code = `${n} /*${'p'.repeat(this.rng.int(10000, 150000))}*/`;
        return { text: request({ code }), expect: { key, nullReply: false, value: n, dispatched: true, label: kind } };
      }
      case 'notification':
        return {
          text: JSON.stringify({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: '1' } }),
          expect: { nullReply: false, dispatched: true, label: kind },
        };
      case 'large notification': {
        const code = `"z".repeat(${this.rng.int(1000, 60000)}) /*${'p'.repeat(this.rng.int(0, 50000))}*/`;
        return {
          text: JSON.stringify({ jsonrpc: '2.0', method: 'runtime.execute', params: { code } }),
          expect: { nullReply: false, dispatched: true, label: kind },
        };
      }
      case 'not an object':
        return {
          text: this.rng.pick(['1', '"s"', 'null', '[]', '[1,{"jsonrpc":"2.0"}]', 'true']),
          expect: { nullReply: true, code: -32600, dispatched: false, label: kind },
        };
      case 'bad jsonrpc':
        return {
          text: JSON.stringify({ jsonrpc: '1.0', method: 'runtime.execute', id }),
          expect: { key, nullReply: false, code: -32600, dispatched: false, label: kind },
        };
      case 'no method':
        return {
          text: JSON.stringify({ jsonrpc: '2.0', id }),
          expect: { key, nullReply: false, code: -32600, dispatched: false, label: kind },
        };
      case 'unusable id':
        return {
          text: `{"jsonrpc":"2.0","method":"runtime.execute","params":{"code":"1"},"id":${this.rng.pick(['true', '{}', '[1]', '1e400'])}}`,
          expect: { nullReply: true, code: -32600, dispatched: false, label: kind },
        };
      case 'null id':
        return {
          text: JSON.stringify({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: '2' }, id: null }),
          expect: { nullReply: true, dispatched: true, label: kind },
        };
      case 'unknown method':
        return { text: request({}, 'runtime.nope'), expect: { key, nullReply: false, code: -32601, dispatched: true, label: kind } };
      case 'bad params':
        return { text: request({ code: 5 }), expect: { key, nullReply: false, code: -32602, dispatched: true, label: kind } };
      case 'throws':
        return {
          text: request({ code: 'throw new Error("no")' }),
          expect: { key, nullReply: false, code: 1000, dispatched: true, label: kind },
        };
    }
  }

  private knownAnswer(): { text: string; expect: MemberExpectation } {
    const id = this.nextId();
    const n = this.rng.int(0, 1_000_000);
    return {
      text: JSON.stringify({ jsonrpc: '2.0', method: 'runtime.execute', params: { code: `${n}` }, id }),
      expect: { key: JSON.stringify(id), nullReply: false, value: n, dispatched: true, label: 'known' },
    };
  }

  /** Unique on the connection; numbers and strings. */
  private nextId(): number | string {
    this.lastId++;
    return this.rng.chance(0.5) ? this.lastId : `m${this.lastId}`;
  }
}
