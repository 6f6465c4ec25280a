// rpc.discover: the OpenRPC document, over HTTP and over a WebSocket, checked
// with the OpenRPC project's own tools (@open-rpc/schema-utils-js): valid, its
// params judged as the daemon judges them, its results matching real replies,
// and every error code listed with the message the daemon sends.
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import { ErrorCode } from '../src/errors.js';
import { TestClient } from './helpers/client.js';
import { httpBase, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { openRpcTools } from './helpers/open-rpc.js';

const { MethodCallValidator, parseOpenRPCDocument, validateOpenRPCDocument } = openRpcTools;

/** Not the default, so that the document shows it is the key's own schema. */
const MAX_TIMEOUT = 12345;

interface Doc {
  openrpc: string;
  info: { title: string; version: string };
  methods: Method[];
  components: { errors: Record<string, { code: number; message: string }> };
}
interface Method {
  name: string;
  params: { name: string; required?: boolean; schema: Record<string, unknown> }[];
  result: { schema: object };
  errors?: { code: number; message: string }[];
}
interface Reply {
  result?: unknown;
  error?: { code: number; message: string };
}

async function call(daemon: RunningDaemon, method: string, params?: unknown): Promise<Reply> {
  const answer = await fetch(httpBase(daemon), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  assert.equal(answer.status, 200);
  return (await answer.json()) as Reply;
}

describe('rpc.discover', function () {
  this.timeout(30000);
  const daemon = useDaemon({ POOL_SIZE: '1', MAX_TIMEOUT: String(MAX_TIMEOUT) });
  let doc: Doc;
  const method = (name: string) => doc.methods.find((m) => m.name === name) as Method;

  before(async () => {
    doc = (await call(daemon, 'rpc.discover')).result as Doc;
  });

  it('answers over HTTP with an OpenRPC document that validateOpenRPCDocument accepts (and refuses with its info taken out)', async () => {
    assert.match(doc.openrpc, /^1\.3\.\d+$/);
    assert.equal(validateOpenRPCDocument(doc), true);
    const { info: _info, ...broken } = doc;
    assert.notEqual(validateOpenRPCDocument(broken), true, 'the validator tells a broken document');
    assert.deepEqual(doc.methods.map((m) => m.name).sort(), ['rpc.discover', 'runtime.cancel', 'runtime.execute']);
  });

  it('answers the same document over a WebSocket speaking JSON-RPC', async () => {
    const client = await TestClient.connect(daemon.url, { handshake: false });
    try {
      const reply = client.replyTo('d');
      client.send({ jsonrpc: '2.0', id: 'd', method: 'rpc.discover' });
      const result = (await reply).result as unknown as Doc;
      assert.match(result.openrpc, /^1\.3\.\d+$/);
      assert.deepEqual(result, doc);
    } finally {
      client.ws.terminate();
    }
  });

  it('lists the params the daemon validates with: the OpenRPC validator and the daemon agree on each', async () => {
    const execute = method('runtime.execute');
    assert.equal(execute.params.find((p) => p.name === 'timeout')?.schema.maximum, MAX_TIMEOUT, "the key's MAX_TIMEOUT");
    assert.deepEqual(
      execute.params.filter((p) => p.required).map((p) => p.name),
      ['code'],
    );
    const validator = new MethodCallValidator(await parseOpenRPCDocument(doc));
    const cases: [string, Record<string, unknown>][] = [
      ['runtime.execute', { code: '1' }],
      ['runtime.execute', { code: '1', timeout: MAX_TIMEOUT, globals: { a: 1 }, call: null, usage: true }],
      ['runtime.execute', { code: 1 }],
      ['runtime.execute', { code: '1', timeout: MAX_TIMEOUT + 1 }],
      ['runtime.execute', { code: '1', timeout: 0 }],
      ['runtime.execute', { code: '1', globals: 5 }],
      ['runtime.execute', { code: '1', module: 'yes' }],
      ['runtime.cancel', { id: 'x' }],
      ['runtime.cancel', { id: true }],
    ];
    for (const [name, params] of cases) {
      const found = validator.validate(name, params);
      const openRpcRefuses = !Array.isArray(found) || found.length > 0;
      const reply = await call(daemon, name, params);
      const daemonRefuses = reply.error?.code === -32602;
      assert.equal(openRpcRefuses, daemonRefuses, `${name} ${JSON.stringify(params)}: daemon answered ${JSON.stringify(reply)}`);
    }
  });

  it("describes the results: real replies match each method's result schema", async () => {
    const ajv = new Ajv({ strict: false });
    const matches = (name: string, result: unknown) => {
      const validate = ajv.compile(method(name).result.schema);
      assert.ok(validate(result), `${name} ${JSON.stringify(result)}: ${ajv.errorsText(validate.errors)}`);
    };
    matches('runtime.execute', (await call(daemon, 'runtime.execute', { code: 'console.log(1); ({ a: [1] })' })).result);
    matches('runtime.execute', (await call(daemon, 'runtime.execute', { code: 'null', usage: true })).result);
    matches('runtime.cancel', (await call(daemon, 'runtime.cancel', { id: 'none' })).result);
    matches('rpc.discover', doc);
  });

  it('lists every error code of the daemon, with the message the daemon sends', async () => {
    assert.deepEqual(
      Object.values(doc.components.errors)
        .map((e) => e.code)
        .sort(),
      Object.values(ErrorCode).sort(),
    );
    const listed = (code: number) => method('runtime.execute').errors?.find((e) => e.code === code)?.message;
    const notImplemented = await call(daemon, 'runtime.execute', { code: '1', call: 'missing' });
    assert.equal(notImplemented.error?.message, listed(1001));
    const invalid = await call(daemon, 'runtime.execute', { code: 1 });
    assert.equal(invalid.error?.message, listed(-32602));
    const unknown = await call(daemon, 'no.such.method');
    assert.equal(unknown.error?.message, doc.components.errors.MethodNotFound.message);
  });
});
