// fetch from scripts against real HTTP servers on loopback, behind the policy.
import assert from 'node:assert/strict';
import { type Reply, TestClient } from './helpers/client.js';
import { startDaemon, useDaemon } from './helpers/daemon.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';
import { until } from './helpers/poll.js';

describe('fetch', () => {
  let api: TestServer;
  let other: TestServer;
  let client: TestClient;

  before(async () => {
    other = await startHttpServer({ '/elsewhere': (_req, res) => res.end('other server') });
    api = await startHttpServer({
      '/users/ada/gists': (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-echo', String(req.headers['x-token'] ?? ''));
        res.end(JSON.stringify([{ id: 1, owner: 'ada' }]));
      },
      '/app/items': (req, res, body) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ received: JSON.parse(body), type: req.headers['content-type'] }));
      },
      '/admin': (_req, res) => res.end('secret admin page'),
      '/redirect-allowed': (_req, res) => res.writeHead(302, { location: '/users/bob/gists' }).end(),
      '/redirect-denied': (_req, res) => res.writeHead(302, { location: '/admin' }).end(),
      '/redirect-away': (_req, res) => res.writeHead(307, { location: `${other.origin}/elsewhere` }).end(),
      '/users/bob/gists': (_req, res) => res.end('[]'),
      '/allowed/redirect-ambiguous': (_req, res) => res.writeHead(302, { location: '/allowed/..%2Fsecret' }).end(),
      '/spelled/a%2Fb': (_req, res) => res.end('spelled out'),
      '/secret': (_req, res) => res.end('secret'),
      '/big': (_req, res) => res.end('x'.repeat(200_000)),
      '/slow': () => {
        // Never answers: the fetch is still pending when the execution ends.
      },
    });
  });
  const daemon = useDaemon(() => ({
    FETCH_ALLOW: [
      `GET ${api.origin}/users/*/gists`,
      `POST ${api.origin}/app/**`,
      `GET ${api.origin}/redirect-allowed`,
      `GET ${api.origin}/redirect-denied`,
      `GET ${api.origin}/redirect-away`,
      `GET ${api.origin}/big`,
      `GET ${api.origin}/slow`,
      `GET ${api.origin}/allowed/**`,
      `GET ${api.origin}/spelled/a%2Fb`,
      `GET http://localhost:${api.port}/users/*/gists`,
    ].join(', '),
    FETCH_MAX_BYTES: '100000',
    FETCH_MAX_REQUESTS: '5',
    FETCH_TIMEOUT: '5000',
  }));
  before(async () => {
    client = await TestClient.connect(daemon.url);
  });
  after(async () => {
    await client?.close();
    await api?.close();
    await other?.close();
  });

  const run = (code: string, timeout?: number): Promise<Reply> => client.execute({ code, timeout });

  function rejection(reply: Reply): string {
    assert.equal(reply.error?.code, 1000, JSON.stringify(reply));
    return reply.error?.message ?? '';
  }

  it('GETs JSON from an allowed URL, with request and response headers', async () => {
    const reply = await run(`(async () => {
      const res = await fetch('${api.origin}/users/ada/gists?page=2', { headers: { 'X-Token': 't1' } });
      return { status: res.status, ok: res.ok, type: res.headers.get('content-type'), echo: res.headers.get('x-echo'), body: await res.json(), url: res.url, redirected: res.redirected };
    })()`);
    assert.deepEqual(reply.payload?.value, {
      status: 200,
      ok: true,
      type: 'application/json',
      echo: 't1',
      body: [{ id: 1, owner: 'ada' }],
      url: `${api.origin}/users/ada/gists?page=2`,
      redirected: false,
    });
  });

  it('POSTs JSON to a URL a ** rule allows', async () => {
    const reply = await run(
      `fetch('${api.origin}/app/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 1 }) }).then(async (r) => [r.status, await r.json()])`,
    );
    assert.deepEqual(reply.payload?.value, [201, { received: { n: 1 }, type: 'application/json' }]);
  });

  it("gives scripts no handle on the prelude's own accessors, and no way past the limits by replacing built-ins", async () => {
    const reply = await run(`
      const hidden = [typeof new Response("x")._bytes, typeof new Request("${api.origin}/")._bytes, typeof Response._fetched];
      JSON.stringify = () => "[]"; String = () => "";
      fetch("${api.origin}/users/ada/gists", { headers: { "x-big": "v".repeat(70000) } }).then(
        () => [hidden, "sent"],
        (error) => [hidden, error.message],
      )`);
    assert.deepEqual(reply.payload?.value, [
      ['undefined', 'undefined', 'undefined'],
      `fetch refused: headers of ${70000 + '[["x-big",""]]'.length} characters are longer than 65536`,
    ]);
  });

  it('bounds what a fetch hands to the host even when built-ins were replaced before the web APIs were first touched', async () => {
    // fetch.js is evaluated on first touch, so it takes this JSON.stringify as its own: the prelude's gate still checks what goes out.
    const reply = await run(`
      JSON.stringify = () => ({ length: 2, padding: "x".repeat(1e6) });
      fetch("${api.origin}/users/ada/gists").then(() => "sent", (error) => error.message)`);
    assert.equal(reply.payload?.value, 'fetch refused: the headers are not a string');
  });

  it('refuses a method no rule allows, naming the rules for that origin', async () => {
    const message = rejection(await run(`fetch('${api.origin}/users/ada/gists', { method: 'DELETE' })`));
    assert.match(
      message,
      /^TypeError: fetch refused: no FETCH_ALLOW rule allows DELETE http:\/\/127\.0\.0\.1:\d+\/users\/ada\/gists \(rules for this origin: "GET /,
    );
  });

  it('refuses a path no rule allows, before any request is made', async () => {
    const before = api.seen.length;
    const message = rejection(await run(`fetch('${api.origin}/admin')`));
    assert.match(message, /fetch refused: no FETCH_ALLOW rule allows GET http:\/\/127\.0\.0\.1:\d+\/admin/);
    assert.equal(api.seen.length, before);
  });

  it('matches the normalised URL: dot segments and escapes cannot sneak past a rule', async () => {
    for (const path of ['/users/ada/gists/../../../admin', '/users/ada/%2e%2e/%2e%2e/admin', '/users/ada/gists%2F..%2F..%2Fadmin']) {
      const message = rejection(await run(`fetch('${api.origin}${path}')`));
      assert.match(message, /fetch refused/);
    }
    assert.ok(!api.seen.some((s) => s.url.includes('admin')));
  });

  it('refuses a path segment servers decode differently, before any request is made, unless a rule spells it out', async () => {
    const cases = [
      ['/allowed/..%2Fsecret', '..%2Fsecret', '%2F'],
      ['/allowed/%2e%2e%2fsecret', '..%2Fsecret', '%2F'],
      ['/allowed/..;/secret', '..;', ';'],
      ['/allowed/..%5Csecret', '..%5Csecret', '%5C'],
      ['/allowed/%252e%252e%252fsecret', '%252e%252e%252fsecret', '%25'],
    ];
    for (const [path, segment, why] of cases) {
      const reply = await run(`fetch('${api.origin}${path}').then(() => 'fetched', (e) => [e instanceof TypeError, e.message])`);
      const normalized = path.replace('%2e%2e%2f', '..%2F');
      assert.deepEqual(reply.payload?.value, [
        true,
        `fetch refused: the path of GET ${api.origin}${normalized} has a segment servers decode differently ('${segment}': ${why}); only a FETCH_ALLOW rule that spells that segment out allows it`,
      ]);
    }
    assert.ok(!api.seen.some((s) => s.url.includes('secret')), 'no ambiguous request reached the server');
    const spelled = await run(`fetch('${api.origin}/spelled/a%2fb').then((r) => r.text())`);
    assert.equal(spelled.payload?.value, 'spelled out', 'a rule that spells the segment out allows it');
  });

  it('refuses URLs with credentials and other schemes', async () => {
    assert.match(rejection(await run(`fetch('http://user:pw@127.0.0.1:${api.port}/users/ada/gists')`)), /credentials/);
    assert.match(rejection(await run(`fetch('file:///etc/passwd')`)), /only http and https URLs can be fetched/);
  });

  it('follows a redirect to an allowed URL and checks it again', async () => {
    const reply = await run(`fetch('${api.origin}/redirect-allowed').then(async (r) => [r.status, r.redirected, r.url, await r.text()])`);
    assert.deepEqual(reply.payload?.value, [200, true, `${api.origin}/users/bob/gists`, '[]']);
  });

  it('refuses a redirect to a URL the policy denies', async () => {
    const message = rejection(await run(`fetch('${api.origin}/redirect-denied')`));
    assert.match(message, /fetch refused a redirect: no FETCH_ALLOW rule allows GET http:\/\/127\.0\.0\.1:\d+\/admin/);
    assert.ok(!api.seen.some((s) => s.url === '/admin'));
    const away = rejection(await run(`fetch('${api.origin}/redirect-away')`));
    assert.match(away, /fetch refused a redirect: no FETCH_ALLOW rule allows GET http:\/\/127\.0\.0\.1:\d+\/elsewhere \(none names/);
    assert.equal(other.seen.length, 0);
  });

  it('refuses a redirect to a path segment servers decode differently', async () => {
    const message = rejection(await run(`fetch('${api.origin}/allowed/redirect-ambiguous')`));
    assert.match(
      message,
      /^TypeError: fetch refused a redirect: the path of GET http:\/\/127\.0\.0\.1:\d+\/allowed\/\.\.%2Fsecret has a segment servers decode differently \('\.\.%2Fsecret': %2F\)/,
    );
    assert.ok(api.seen.some((s) => s.url === '/allowed/redirect-ambiguous'));
    assert.ok(!api.seen.some((s) => s.url.includes('secret')));
  });

  it('drops method-override headers, whatever their case', async () => {
    const reply = await run(
      `fetch('${api.origin}/users/ada/gists', { headers: { 'X-HTTP-Method-Override': 'DELETE', 'x-http-method': 'DELETE', 'X-METHOD-OVERRIDE': 'DELETE', 'X-Token': 'override-test' } }).then((r) => r.status)`,
    );
    assert.equal(reply.payload?.value, 200);
    const seen = api.seen.find((s) => s.headers['x-token'] === 'override-test');
    assert.ok(seen, 'the request arrived');
    assert.equal(seen.method, 'GET');
    for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override']) assert.equal(seen.headers[name], undefined, name);
  });

  it('refuses a host name that resolves to loopback unless FETCH_ALLOW_PRIVATE names it', async () => {
    const message = rejection(await run(`fetch('http://localhost:${api.port}/users/ada/gists')`));
    assert.equal(
      message,
      'TypeError: fetch refused: localhost resolves to 127.0.0.1, a loopback, private, link-local or other special-purpose address; name it in FETCH_ALLOW_PRIVATE to allow it',
    );
    const allowed = await startDaemon({ FETCH_ALLOW: `GET http://localhost:${api.port}/users/*/gists`, FETCH_ALLOW_PRIVATE: 'localhost' });
    try {
      const reply = await (await TestClient.connect(allowed.url)).execute({
        code: `fetch('http://localhost:${api.port}/users/ada/gists').then((r) => r.status)`,
      });
      assert.equal(reply.payload?.value, 200);
    } finally {
      await allowed.stop();
    }
  });

  it('fails a response larger than FETCH_MAX_BYTES', async () => {
    const message = rejection(await run(`fetch('${api.origin}/big').then((r) => r.text())`));
    assert.equal(message, 'TypeError: fetch failed: responses of this execution exceed 100000 bytes (FETCH_MAX_BYTES)');
  });

  it('refuses request bodies past FETCH_MAX_BYTES in all, inside the isolate', async () => {
    const before = api.seen.length;
    const message = rejection(await run(`fetch('${api.origin}/app/items', { method: 'POST', body: 'x'.repeat(200000) })`));
    assert.equal(message, 'TypeError: fetch refused: request bodies of this execution would exceed 100000 bytes (FETCH_MAX_BYTES)');
    const reply = await run(`(async () => {
      const post = () => fetch('${api.origin}/app/items', { method: 'POST', body: JSON.stringify('x'.repeat(60000)) }).then((r) => r.status, (e) => e.message);
      return [await post(), await post()];
    })()`);
    assert.deepEqual(reply.payload?.value, [
      201,
      'fetch refused: request bodies of this execution would exceed 100000 bytes (FETCH_MAX_BYTES)',
    ]);
    assert.equal(api.seen.length, before + 1);
  });

  it('counts requests the policy refuses against FETCH_MAX_REQUESTS, so a refused loop copies nothing more out', async () => {
    const reply = await run(`(async () => {
      const results = [];
      for (let i = 0; i < 7; i++) results.push(await fetch('${api.origin}/admin', { method: 'POST', body: 'x' }).then((r) => r.status, (e) => e.message.slice(0, 40)));
      return results;
    })()`);
    const results = reply.payload?.value as string[];
    assert.deepEqual(results.slice(0, 5), Array(5).fill('fetch refused: no FETCH_ALLOW rule allow'));
    assert.deepEqual(results.slice(5), Array(2).fill('fetch refused: more than 5 requests in o'));
  });

  it('refuses requests past FETCH_MAX_REQUESTS in one execution, redirects counted', async () => {
    const reply = await run(`(async () => {
      const results = [];
      for (let i = 0; i < 7; i++) results.push(await fetch('${api.origin}/users/ada/gists').then((r) => r.status, (e) => e.message));
      return results;
    })()`);
    const results = reply.payload?.value as (number | string)[];
    assert.deepEqual(results.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.deepEqual(results.slice(5), Array(2).fill('fetch refused: more than 5 requests in one execution (FETCH_MAX_REQUESTS)'));
    const next = await run(`fetch('${api.origin}/users/ada/gists').then((r) => r.status)`);
    assert.equal(next.payload?.value, 200, 'the bound is per execution');
    const redirects = await run(`(async () => {
      for (let i = 0; i < 4; i++) await fetch('${api.origin}/users/ada/gists');
      return fetch('${api.origin}/redirect-allowed').then((r) => r.status, (e) => e.message);
    })()`);
    assert.equal(redirects.payload?.value, 'fetch refused a redirect: more than 5 requests in one execution (FETCH_MAX_REQUESTS)');
  });

  it('aborts a fetch still pending at the deadline, and answers 1002', async () => {
    const reply = await run(`fetch('${api.origin}/slow').then((r) => r.status)`, 500);
    assert.equal(reply.error?.code, 1002);
    await until(() => api.aborted.includes('/slow'), 'the daemon closing the pending request');
  });

  it('lets a script abort its own fetch', async () => {
    const reply = await run(`(async () => {
      const controller = new AbortController();
      const pending = fetch('${api.origin}/slow', { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      try { await pending; } catch (e) { return [e.name, controller.signal.aborted]; }
    })()`);
    assert.deepEqual(reply.payload?.value, ['AbortError', true]);
  });

  it('rejects with a TypeError the script can catch', async () => {
    const reply = await run(`fetch('https://api.github.com/users').then(() => 'fetched', (e) => [e instanceof TypeError, e.message])`);
    assert.deepEqual(reply.payload?.value, [
      true,
      'fetch refused: no FETCH_ALLOW rule allows GET https://api.github.com/users (none names https://api.github.com)',
    ]);
  });

  it('is denied entirely without FETCH_ALLOW', async () => {
    const closed = await startDaemon();
    try {
      const reply = await (await TestClient.connect(closed.url)).execute({ code: `fetch('${api.origin}/users/ada/gists')` });
      assert.match(rejection(reply), /no FETCH_ALLOW rule allows/);
    } finally {
      await closed.stop();
    }
  });
});
