// The web-platform APIs scripts get, checked against what WHATWG behaviour
// scripts commonly rely on.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TestClient } from './helpers/client.js';
import { type RunningDaemon, startDaemon } from './helpers/daemon.js';

describe('web APIs', () => {
  let daemon: RunningDaemon;
  let client: TestClient;

  before(async () => {
    daemon = await startDaemon();
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
    await daemon?.stop();
  });

  const value = async (code: string) => {
    const reply = await client.execute({ code });
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    return reply.payload?.value;
  };

  it('URL and URLSearchParams', async () => {
    assert.deepEqual(
      await value(`const u = new URL('../x/./y?b=2&a=1#h', 'HTTPS://Example.COM:443/p/q/');
        u.searchParams.append('c', 'd e');
        const s = new URLSearchParams({ z: '1', y: '2' }); s.sort();
        [u.href, u.host, u.pathname, u.searchParams.get('a'), String(s), [...new URLSearchParams('a=1&a=2').getAll('a')]]`),
      ['https://example.com/p/x/y?b=2&a=1&c=d+e#h', 'example.com', '/p/x/y', '1', 'y=2&z=1', ['1', '2']],
    );
    const invalid = await client.execute({ code: 'new URL("not a url")' });
    assert.equal(invalid.error?.data?.name, 'TypeError');
  });

  it('TextEncoder and TextDecoder (utf-8)', async () => {
    assert.deepEqual(
      await value(`const bytes = new TextEncoder().encode('héllo ✓ 😀');
        [Array.from(bytes), new TextDecoder().decode(bytes), new TextDecoder().decode(new Uint8Array([0xff, 0x41])), new TextEncoder().encode('\\ud800').length]`),
      [[...Buffer.from('héllo ✓ 😀')], 'héllo ✓ 😀', '\ufffdA', 3],
    );
    const fatal = await client.execute({ code: 'new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xc3]))' });
    assert.equal(fatal.error?.data?.name, 'TypeError');
  });

  it('atob, btoa and structuredClone', async () => {
    assert.deepEqual(
      await value(`const original = { d: new Date(0), m: new Map([[1, { x: 1 }]]), s: new Set([1]) }; original.self = original;
        const copy = structuredClone(original);
        [btoa('hello'), atob('aGVsbG8='), copy !== original, copy.self === copy, copy.m.get(1).x, copy.d instanceof Date]`),
      ['aGVsbG8=', 'hello', true, true, 1, true],
    );
    const uncloneable = await client.execute({ code: 'structuredClone(() => 1)' });
    assert.equal(uncloneable.error?.code, 1000);
  });

  it('AbortController, AbortSignal and EventTarget', async () => {
    assert.deepEqual(
      await value(`const c = new AbortController(); const seen = [];
        c.signal.addEventListener('abort', () => seen.push('listener'));
        c.signal.onabort = () => seen.push('onabort');
        c.abort('why'); c.abort('again');
        let thrown; try { c.signal.throwIfAborted(); } catch (e) { thrown = e; }
        [c.signal.aborted, c.signal.reason, seen, thrown, AbortSignal.abort().reason.name]`),
      [true, 'why', ['listener', 'onabort'], 'why', 'AbortError'],
    );
    assert.equal(
      await value('new Promise((resolve) => AbortSignal.timeout(10).addEventListener("abort", (e) => resolve(e.target.reason.name)))'),
      'TimeoutError',
    );
  });

  it('crypto.getRandomValues, randomUUID and subtle.digest', async () => {
    const [a, b, uuid, tooMany] =
      (await value(`[Array.from(crypto.getRandomValues(new Uint8Array(16))), Array.from(crypto.getRandomValues(new Uint32Array(4))), crypto.randomUUID(),
      (() => { try { crypto.getRandomValues(new Uint8Array(65537)); } catch (e) { return e.name; } })()]`)) as [
        number[],
        number[],
        string,
        string,
      ];
    assert.equal(a.length, 16);
    assert.notDeepEqual(a, new Array(16).fill(0));
    assert.equal(b.length, 4);
    assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(tooMany, 'QuotaExceededError');
    const digests = await value(`Promise.all(['SHA-1', 'SHA-256', { name: 'SHA-512' }].map((alg) =>
      crypto.subtle.digest(alg, new TextEncoder().encode('abc')).then((d) => Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, '0')).join(''))))`);
    assert.deepEqual(
      digests,
      ['sha1', 'sha256', 'sha512'].map((h) => createHash(h).update('abc').digest('hex')),
    );
    const unsupported = await value('crypto.subtle.digest("MD5", new Uint8Array(1)).catch((e) => e.name)');
    assert.equal(unsupported, 'NotSupportedError');
  });

  it('Headers, Request and Response', async () => {
    assert.deepEqual(
      await value(`(async () => {
        const h = new Headers({ 'Content-Type': 'text/plain' }); h.append('X-A', '1'); h.append('x-a', '2');
        const req = new Request('https://example.com/a', { method: 'post', body: JSON.stringify({ a: 1 }) });
        const res = Response.json({ ok: 1 }, { status: 201 });
        const copy = res.clone();
        const body = await res.json();
        let reused; try { await res.text(); } catch (e) { reused = e.name; }
        return [h.get('x-a'), [...h.keys()], req.method, req.headers.get('content-type'), await req.json(), res.status, res.ok, body, await copy.text(), reused, res.bodyUsed];
      })()`),
      ['1, 2', ['content-type', 'x-a'], 'POST', 'text/plain;charset=UTF-8', { a: 1 }, 201, true, { ok: 1 }, '{"ok":1}', 'TypeError', true],
    );
    const getWithBody = await client.execute({ code: 'new Request("https://example.com", { body: "x" })' });
    assert.equal(getWithBody.error?.data?.name, 'TypeError');
  });

  it('gives every execution its own copies of the APIs', async () => {
    await value('URL.prototype.tainted = 1; TextEncoder.prototype.encode = () => "tainted"; crypto.randomUUID = () => "fixed"; 1');
    assert.deepEqual(await value('[URL.prototype.tainted, new TextEncoder().encode("a").length, crypto.randomUUID() === "fixed"]'), [
      null,
      1,
      false,
    ]);
  });

  it("makes each web API on a script's first touch, and afresh in each execution", async () => {
    const names = `['TextEncoder', 'TextDecoder', 'AbortController', 'AbortSignal', 'EventTarget', 'Event', 'DOMException', 'crypto',
      'Headers', 'Request', 'Response', 'fetch', 'URL', 'URLSearchParams', 'atob', 'btoa', 'structuredClone']`;
    const made = `${names}.filter((name) => 'value' in Object.getOwnPropertyDescriptor(globalThis, name))`;
    assert.deepEqual(await value(made), []);
    assert.deepEqual(await value(`typeof fetch; new TextEncoder(); URL.name; ${made}`), ['TextEncoder', 'fetch', 'URL']);
    assert.deepEqual(await value(made), []);
    // Assigned before any touch, a name keeps the script's value.
    assert.deepEqual(await value('fetch = 42; new Headers(); [fetch, typeof Headers]'), [42, 'function']);
  });
});
