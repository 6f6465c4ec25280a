// Unit tests of the runtime.execute and runtime.cancel argument parsers
// (src/runtime/script.ts). They start nothing: no daemon, no sandbox.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCode, RpcError } from '../src/errors.js';
import { parseCancel, scriptParser } from '../src/runtime/script.js';

const parse = scriptParser(3000, 30000);

/** The ajv error paths of a refused script, checking it is a -32602. */
function refusedAt(params: unknown): string[] {
  try {
    parse(params);
  } catch (error) {
    assert.ok(error instanceof RpcError);
    assert.equal(error.code, ErrorCode.InvalidParams);
    return ((error.data?.errors ?? []) as { instancePath: string; keyword: string }[]).map((e) => `${e.instancePath || '/'} ${e.keyword}`);
  }
  assert.fail(`${JSON.stringify(params)} was accepted`);
}

describe('unit: script parser', () => {
  it('normalises a bare script: its hash, the default timeout, no flags', () => {
    assert.deepEqual(parse({ code: '1 + 1' }), {
      request: {
        code: '1 + 1',
        codeHash: createHash('sha256').update('1 + 1').digest('hex'),
        module: undefined,
        typescript: undefined,
        globals: undefined,
        call: undefined,
        caller: undefined,
        timeoutMs: 3000,
        stream: false,
      },
      usage: false,
    });
  });

  it('takes nulls and empty strings as "not given", as old Go clients send them', () => {
    const { request, usage } = parse({
      code: 'x',
      globals: null,
      call: '',
      caller: null,
      timeout: null,
      module: null,
      typescript: null,
      stream: null,
      usage: null,
    });
    assert.equal(request.globals, undefined);
    assert.equal(request.call, undefined);
    assert.equal(request.caller, undefined);
    assert.equal(request.timeoutMs, 3000);
    assert.equal(request.module, undefined);
    assert.equal(request.stream, false);
    assert.equal(usage, false);
  });

  it('passes globals, call, caller and every flag on', () => {
    const { request, usage } = parse({
      code: 'x',
      globals: { a: [1] },
      call: 'main',
      caller: 'me',
      module: true,
      typescript: false,
      stream: true,
      usage: true,
    });
    assert.deepEqual(request.globals, { a: [1] });
    assert.equal(request.call, 'main');
    assert.equal(request.caller, 'me');
    assert.equal(request.module, true);
    assert.equal(request.typescript, false);
    assert.equal(request.stream, true);
    assert.equal(usage, true);
  });

  it('accepts a timeout above 0 up to the maximum, rounded up to whole ms', () => {
    assert.equal(parse({ code: 'x', timeout: 0.2 }).request.timeoutMs, 1);
    assert.equal(parse({ code: 'x', timeout: 30000 }).request.timeoutMs, 30000);
    assert.deepEqual(refusedAt({ code: 'x', timeout: 0 }), ['/timeout exclusiveMinimum']);
    assert.deepEqual(refusedAt({ code: 'x', timeout: -5 }), ['/timeout exclusiveMinimum']);
    assert.deepEqual(refusedAt({ code: 'x', timeout: 30000.5 }), ['/timeout maximum']);
    assert.deepEqual(refusedAt({ code: 'x', timeout: '100' }), ['/timeout type']);
  });

  it('takes a script passed positionally, as JSON-RPC clients may', () => {
    assert.equal(parse([{ code: 'p' }]).request.code, 'p');
    assert.deepEqual(refusedAt([{ code: 'p' }, {}]), ['/ type']);
  });

  it('refuses what is not a script, listing every problem at once', () => {
    assert.deepEqual(refusedAt(null), ['/ type']);
    assert.deepEqual(refusedAt({}), ['/ required']);
    assert.deepEqual(refusedAt({ code: 1, globals: [], stream: 'yes', usage: 1, module: 'true' }).sort(), [
      '/code type',
      '/globals type',
      '/module type',
      '/stream type',
      '/usage type',
    ]);
  });
});

describe('unit: cancel parser', () => {
  it('reads the id from {id} or [id]', () => {
    assert.equal(parseCancel({ id: 7 }), 7);
    assert.equal(parseCancel(['r1']), 'r1');
  });

  it('refuses params without a string or number id with -32602', () => {
    for (const params of [{ which: 1 }, { id: null }, { id: [1] }, [], [1, 2], 'x', null]) {
      assert.throws(
        () => parseCancel(params),
        (error: unknown) => error instanceof RpcError && error.code === ErrorCode.InvalidParams,
        JSON.stringify(params),
      );
    }
  });
});
