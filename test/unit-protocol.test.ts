// Unit tests of the two wire dialects (src/protocol/duplex.ts, jsonrpc.ts,
// dialect.ts, batch-reply.ts): every kind of frame parsed, every kind of reply made. They start
// nothing: no daemon, no socket.
import assert from 'node:assert/strict';
import { ErrorCode, invalidParams, RpcError } from '../src/errors.js';
import { BatchReply, maxBatchMembers } from '../src/protocol/batch-reply.js';
import { type Incoming, isObject, isRequestId, type Message } from '../src/protocol/dialect.js';
import { duplex } from '../src/protocol/duplex.js';
import { jsonRpc, looksLikeJsonRpc } from '../src/protocol/jsonrpc.js';

const DEPTH = 8;
const LIMITS = { maxDepth: DEPTH, maxBatchMembers: 100 };
const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** An invalid message as plain data: where its reply goes, its code and detail. */
function invalid(incoming: Incoming | Message): { target: unknown; code: number; detail: unknown } {
  assert.equal(incoming.kind, 'invalid', JSON.stringify(incoming));
  const { target, error } = incoming as Extract<Message, { kind: 'invalid' }>;
  return { target, code: error.code, detail: error.data?.detail };
}

describe('unit: protocol', () => {
  describe('dialect helpers', () => {
    it('accepts strings and finite numbers as request ids, nothing else', () => {
      for (const id of ['a', '', 0, -1.5]) assert.ok(isRequestId(id), JSON.stringify(id));
      for (const id of [null, undefined, Number.NaN, Number.POSITIVE_INFINITY, true, {}, []]) assert.ok(!isRequestId(id), String(id));
    });

    it('counts only non-array, non-null objects as objects', () => {
      assert.ok(isObject({}));
      for (const value of [null, [], 'x', 1]) assert.ok(!isObject(value), String(value));
    });
  });

  describe('duplex', () => {
    it('parses a request with id, payload and ext', () => {
      const frame = JSON.stringify({ type: 'req', method: 'runtime.execute', id: 7, payload: { code: '1' }, ext: { trace: 'x' } });
      assert.deepEqual(duplex.parse(frame, LIMITS), {
        kind: 'request',
        target: { id: 7, ext: { trace: 'x' } },
        method: 'runtime.execute',
        params: { code: '1' },
      });
    });

    it('parses a request without id as a notification', () => {
      assert.deepEqual(duplex.parse('{"type":"req","method":"m","payload":1}', LIMITS), {
        kind: 'request',
        target: undefined,
        method: 'm',
        params: 1,
      });
    });

    it('ignores an empty frame', () => {
      assert.deepEqual(duplex.parse('', LIMITS), { kind: 'ignore' });
    });

    it('answers unparsable JSON with -32700 to nobody', () => {
      const parsed = invalid(duplex.parse('{"type":', LIMITS));
      assert.equal(parsed.code, ErrorCode.ParseError);
      assert.equal(parsed.target, undefined);
    });

    it('answers a too-deep frame with -32600 by its id when the outline has one, without its ext', () => {
      assert.deepEqual(invalid(duplex.parse(`{"type":"req","id":"d","method":"m","payload":${deep(20)},"ext":${deep(20)}}`, LIMITS)), {
        target: { id: 'd' },
        code: ErrorCode.InvalidRequest,
        detail: 'nested deeper than 8 levels (MAX_DEPTH)',
      });
      assert.equal(invalid(duplex.parse(`{"id":${deep(20)}}`, LIMITS)).target, undefined);
    });

    it('refuses each malformed message with -32600, addressed when its id is usable', () => {
      const cases: [unknown, unknown, string][] = [
        [[1], undefined, 'a message must be a JSON object'],
        ['text', undefined, 'a message must be a JSON object'],
        [{ type: 'req', id: {}, method: 'm' }, undefined, 'id must be a number or a string'],
        [{ type: 'rep', id: 1, payload: 1 }, undefined, 'unexpected reply: this server makes no calls'],
        [{ type: 'ask', id: 1, method: 'm', ext: 'e' }, { id: 1, ext: 'e' }, 'type must be "req"'],
        [{ type: 'req', id: 'x', method: 5 }, { id: 'x', ext: undefined }, 'method must be a string'],
        [{ type: 'req', method: 5 }, undefined, 'method must be a string'],
      ];
      for (const [message, target, detail] of cases) {
        assert.deepEqual(
          invalid(duplex.parse(JSON.stringify(message), LIMITS)),
          { target, code: ErrorCode.InvalidRequest, detail },
          JSON.stringify(message),
        );
      }
    });

    it('makes result, error and console replies that carry the id and ext back', () => {
      const target = { id: 3, ext: { t: 1 } };
      assert.deepEqual(JSON.parse(duplex.result(target, '{"a":[1]}')), { type: 'rep', id: 3, payload: { a: [1] }, ext: { t: 1 } });
      assert.deepEqual(JSON.parse(duplex.error({ id: 'x' }, new RpcError(ErrorCode.Timeout, 'Timeout'))), {
        type: 'rep',
        id: 'x',
        error: { code: ErrorCode.Timeout, message: 'Timeout' },
      });
      assert.deepEqual(JSON.parse(duplex.console(target, ['a', 'b'])), {
        type: 'rep',
        id: 3,
        payload: { console: ['a', 'b'] },
        more: true,
        ext: { t: 1 },
      });
    });

    it('splices the result JSON in as it is, never parsing it again', () => {
      assert.equal(duplex.result({ id: 1 }, '1.50'), '{"type":"rep","id":1,"payload":1.50}');
    });
  });

  describe('JSON-RPC', () => {
    it('knows a JSON-RPC first frame, alone, in a batch or too deep, and nothing else', () => {
      assert.ok(looksLikeJsonRpc('{"jsonrpc":"2.0","method":"m"}', DEPTH));
      assert.ok(looksLikeJsonRpc('[{"jsonrpc":"2.0","method":"m","id":1}]', DEPTH));
      assert.ok(looksLikeJsonRpc(`{"jsonrpc":"2.0","params":${deep(20)}}`, DEPTH));
      for (const frame of ['SIMPLEX/1.0;json', '{"jsonrpc":"1.0"}', '{"type":"req"}', '[]', '[1]', '{"jsonrpc":'])
        assert.ok(!looksLikeJsonRpc(frame, DEPTH), frame);
    });

    it('parses a request, a request with id null, and a notification', () => {
      assert.deepEqual(jsonRpc.parse('{"jsonrpc":"2.0","id":1,"method":"m","params":[{"code":"1"}]}', LIMITS), {
        kind: 'request',
        target: { id: 1 },
        method: 'm',
        params: [{ code: '1' }],
      });
      assert.deepEqual(jsonRpc.parse('{"jsonrpc":"2.0","id":null,"method":"m"}', LIMITS), {
        kind: 'request',
        target: { id: null },
        method: 'm',
        params: undefined,
      });
      assert.deepEqual(jsonRpc.parse('{"jsonrpc":"2.0","method":"m"}', LIMITS), {
        kind: 'request',
        target: undefined,
        method: 'm',
        params: undefined,
      });
    });

    it('answers unparsable JSON with -32700 to id null', () => {
      assert.deepEqual(invalid(jsonRpc.parse('{', LIMITS)).target, { id: null });
      assert.equal(invalid(jsonRpc.parse('{', LIMITS)).code, ErrorCode.ParseError);
    });

    it('answers a too-deep frame with -32600 by its id when it has one, else to id null', () => {
      assert.deepEqual(invalid(jsonRpc.parse(`{"jsonrpc":"2.0","id":9,"method":"m","params":${deep(20)}}`, LIMITS)), {
        target: { id: 9 },
        code: ErrorCode.InvalidRequest,
        detail: 'nested deeper than 8 levels (MAX_DEPTH)',
      });
      assert.deepEqual(invalid(jsonRpc.parse(deep(20), LIMITS)).target, { id: null });
    });

    it('refuses each malformed request with -32600, addressed by its id when it is usable', () => {
      const cases: [unknown, unknown, string][] = [
        ['text', { id: null }, 'a request must be a JSON object'],
        [{ jsonrpc: '2.0', id: true, method: 'm' }, { id: null }, 'id must be a string, a number or null'],
        [{ jsonrpc: '1.0', id: 4, method: 'm' }, { id: 4 }, 'jsonrpc must be "2.0"'],
        [{ id: 'n', method: 'm' }, { id: 'n' }, 'jsonrpc must be "2.0"'],
        [{ jsonrpc: '2.0', id: 5, method: 1 }, { id: 5 }, 'method must be a string'],
        [{ jsonrpc: '2.0', method: 1 }, { id: null }, 'method must be a string'],
      ];
      for (const [message, target, detail] of cases) {
        assert.deepEqual(
          invalid(jsonRpc.parse(JSON.stringify(message), LIMITS)),
          { target, code: ErrorCode.InvalidRequest, detail },
          JSON.stringify(message),
        );
      }
    });

    it('parses a batch message by message, invalid ones in their place, and refuses an empty one', () => {
      const parsed = jsonRpc.parse('[{"jsonrpc":"2.0","id":1,"method":"a"},1,{"jsonrpc":"2.0","method":"b"}]', LIMITS);
      assert.equal(parsed.kind, 'batch');
      const messages = (parsed as Extract<Incoming, { kind: 'batch' }>).members.map((m) => m.message);
      assert.deepEqual(
        messages.map((m) => m.kind),
        ['request', 'invalid', 'request'],
      );
      assert.deepEqual(invalid(messages[1]).detail, 'a request must be a JSON object');
      assert.deepEqual(invalid(jsonRpc.parse('[]', LIMITS)), {
        target: { id: null },
        code: ErrorCode.InvalidRequest,
        detail: 'an empty batch',
      });
    });

    it('makes result, error and console replies', () => {
      assert.deepEqual(JSON.parse(jsonRpc.result({ id: 'r' }, '[1,2]')), { jsonrpc: '2.0', id: 'r', result: [1, 2] });
      assert.equal(jsonRpc.result({ id: 1 }, '1.50'), '{"jsonrpc":"2.0","id":1,"result":1.50}');
      assert.deepEqual(JSON.parse(jsonRpc.error({ id: null }, invalidParams([{ message: 'bad' }]))), {
        jsonrpc: '2.0',
        id: null,
        error: { code: ErrorCode.InvalidParams, message: 'Invalid params', data: { errors: [{ message: 'bad' }] } },
      });
      assert.deepEqual(JSON.parse(jsonRpc.console({ id: 2 }, ['line'])), {
        jsonrpc: '2.0',
        method: 'runtime.console',
        params: { id: 2, console: ['line'] },
      });
    });

    it('weighs each batch member by the UTF-8 bytes of its own text, whitespace around it included', () => {
      const members = ['{"jsonrpc":"2.0","id":1,"method":"a","params":"é€😀"}', ' 1 ', '\n{"jsonrpc":"2.0","method":"b"}', '[]'];
      const parsed = jsonRpc.parse(`[${members.join(',')}]`, LIMITS) as Extract<Incoming, { kind: 'batch' }>;
      assert.deepEqual(
        parsed.members.map((m) => m.bytes),
        members.map((m) => Buffer.byteLength(m)),
      );
    });

    it('gathers a batch reply in member order, leaving out members that get none', () => {
      const batch = new BatchReply([{ id: 1 }, undefined, { id: 2 }], 1000);
      batch.add(2, jsonRpc.result({ id: 2 }, '2'));
      assert.equal(batch.answered, true);
      batch.add(0, jsonRpc.result({ id: 1 }, '1'));
      assert.deepEqual(JSON.parse(batch.frame()), [
        { jsonrpc: '2.0', id: 1, result: 1 },
        { jsonrpc: '2.0', id: 2, result: 2 },
      ]);
      assert.equal(new BatchReply([undefined], 1000).answered, false);
    });

    it('keeps a batch reply within its bound: a reply that does not fit becomes 1005, with room kept for the others', () => {
      const limit = 2000;
      const ids = Array.from({ length: 6 }, (_, i) => i);
      const batch = new BatchReply(
        ids.map((id) => ({ id })),
        limit,
      );
      assert.ok(batch.fits);
      const big = jsonRpc.result({ id: 0 }, JSON.stringify('x'.repeat(400)));
      const sizes = ids.map((id) => batch.add(id, jsonRpc.result({ id }, JSON.stringify('x'.repeat(400)))));
      const frame = batch.frame();
      assert.ok(Buffer.byteLength(frame) <= limit, `a frame of ${Buffer.byteLength(frame)} bytes`);
      assert.equal(
        sizes.reduce((sum, size) => sum + size, 1),
        Buffer.byteLength(frame),
      );
      const replies = JSON.parse(frame) as { id: number; result?: string; error?: { code: number; data: Record<string, unknown> } }[];
      assert.deepEqual(
        replies.map((r) => r.id),
        ids,
      );
      const kept = replies.filter((r) => r.result !== undefined);
      assert.ok(kept.length >= 1, 'a reply that fits is kept');
      assert.ok(kept.length < ids.length, 'the replies together do not fit');
      for (const r of replies.filter((r) => r.error !== undefined)) {
        assert.deepEqual(r.error, {
          code: ErrorCode.ResultTooLarge,
          message: 'Result too large',
          data: { size: big.length, limit, reason: 'the reply does not fit in the batch reply frame (MAX_FRAME)' },
        });
      }
    });

    it('refuses a batch with more members than a frame has room for their replies, before it looks at them', () => {
      const most = maxBatchMembers(4194304);
      assert.ok(most > 10000 && most < 30000, `${most} members`);
      const members = (n: number) => `[${Array(n).fill('1').join(',')}]`;
      assert.equal(jsonRpc.parse(members(most), { maxDepth: DEPTH, maxBatchMembers: most }).kind, 'batch');
      assert.deepEqual(invalid(jsonRpc.parse(members(most + 1), { maxDepth: DEPTH, maxBatchMembers: most })), {
        target: { id: null },
        code: ErrorCode.InvalidRequest,
        detail: `a batch of ${most + 1} members, too many for a reply to each to fit in one frame (MAX_FRAME)`,
      });
      // Each member's 1005 fits in a frame of MAX_FRAME: that is what the bound is made of.
      assert.ok(new BatchReply(Array(most).fill({ id: null }), 4194304).fits);
      assert.ok(!new BatchReply(Array(most + 1).fill({ id: null }), 4194304).fits);
      // Long ids take room of their own.
      assert.ok(!new BatchReply([{ id: 'i'.repeat(5000) }], 4096).fits);
    });
  });
});
