// Pages in a browser against the daemon: a WebSocket upgrade from a page on
// another origin is refused (403) unless ALLOWED_ORIGINS lists it, secret or
// not; a request naming a host that is not loopback (DNS rebinding) is refused
// on every path while the daemon listens on loopback, unless ALLOWED_HOSTS lists
// it. Over raw HTTP (Origin and Host set by hand), then in headless Chromium:
// a page on another loopback origin, the same code on the daemon's own origin,
// and a page under a name Chromium resolves to 127.0.0.1.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { browserMissing, launchBrowser, type RunningBrowser } from './helpers/browser.js';
import { TestClient, within } from './helpers/client.js';
import { httpBase, type LogLine, type RunningDaemon, startDaemon, useDaemon } from './helpers/daemon.js';
import { describeWithEngine } from './helpers/engines.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';
import { until } from './helpers/poll.js';
import { get, upgrade } from './helpers/raw-http.js';

/** ASCII, so that a program can send it in x-runtime-secret. */
const SECRET = 'origin-secret-value';
const ORIGIN_REFUSED = /^Origin not allowed: .*ALLOWED_ORIGINS/;
const HOST_REFUSED = /^Host not allowed: .*ALLOWED_HOSTS/;
const ORIGIN_LOG = 'refused a WebSocket upgrade from a page on an origin not in ALLOWED_ORIGINS';
const HOST_LOG = 'refused a request for a host name neither loopback nor in ALLOWED_HOSTS';
/** One sandbox per daemon: these tests run little. */
const SMALL = { POOL_SIZE: '1' };

/** The daemon's log lines with `msg`. */
const logged = (daemon: RunningDaemon, msg: string): LogLine[] => daemon.logs().filter((line) => line.msg === msg);

/** Polls the daemon's log until a line with `msg` has `field` equal to `value`. */
async function untilLogged(daemon: RunningDaemon, msg: string, field: string, value: string): Promise<void> {
  await until(() => logged(daemon, msg).some((line) => line[field] === value), `the log line "${msg}" with ${field} ${value}`);
}

/** Opens a WebSocket with `headers` and runs 1+1 on it. */
async function runsOn(daemon: RunningDaemon, headers: Record<string, string>): Promise<void> {
  const client = await TestClient.connect(daemon.url, { headers });
  try {
    assert.equal((await within(client.execute({ code: '1+1' }), 10000, '1+1')).payload?.value, 2);
  } finally {
    client.ws.terminate();
  }
}

/** javascriptd.secret.<base64url> and javascriptd, as a browser offers them. */
const secretProtocols = (secret: string) => `javascriptd, javascriptd.secret.${Buffer.from(secret).toString('base64url')}`;

describe('the Origin of a WebSocket upgrade', function () {
  this.timeout(30000);

  describe('on a daemon with the default settings (no secret, loopback)', () => {
    const daemon = useDaemon(SMALL);
    const own = () => new URL(httpBase(daemon)).origin;

    it('refuses Origin https://evil.example with 403 naming ALLOWED_ORIGINS, and logs the origin once', async () => {
      for (let i = 0; i < 3; i++) {
        const refused = await upgrade(daemon.url, { origin: 'https://evil.example' });
        assert.equal(refused.status, 403);
        assert.match(refused.body, ORIGIN_REFUSED);
      }
      await untilLogged(daemon, ORIGIN_LOG, 'origin', 'https://evil.example');
      const lines = logged(daemon, ORIGIN_LOG).filter((line) => line.origin === 'https://evil.example');
      assert.equal(lines.length, 1, 'logged once for three refusals');
    });

    it('refuses Origin: null (a sandboxed frame, a file: page)', async () => {
      assert.equal((await upgrade(daemon.url, { origin: 'null' })).status, 403);
    });

    it("refuses a page on another port of the daemon's own host, and an Origin that is not one", async () => {
      const { port } = new URL(httpBase(daemon));
      for (const origin of [`http://127.0.0.1:${Number(port) + 1}`, `${own()}/playground`, 'garbage', `${own()}.evil.example`]) {
        assert.equal((await upgrade(daemon.url, { origin })).status, 403, origin);
      }
    });

    it('accepts an upgrade without Origin (a program, not a page), which runs a script', async () => {
      assert.equal((await upgrade(daemon.url)).status, 101);
      await runsOn(daemon, {});
    });

    it("accepts the daemon's own origin, under 127.0.0.1 and under localhost, which runs a script", async () => {
      const { port } = new URL(httpBase(daemon));
      await runsOn(daemon, { origin: own() });
      await runsOn(daemon, { origin: `http://localhost:${port}`, host: `localhost:${port}` });
      // Behind a proxy that ends TLS, the page is https and the daemon plain HTTP: the scheme is not compared.
      assert.equal((await upgrade(daemon.url, { origin: `https://localhost:${port}`, host: `localhost:${port}` })).status, 101);
      assert.equal((await upgrade(daemon.url, { origin: own(), host: `localhost:${port}` })).status, 403, 'its origin under another name');
    });
  });

  describe('on a daemon with a SECRET and ALLOWED_ORIGINS', () => {
    const daemon = useDaemon({ ...SMALL, SECRET, ALLOWED_ORIGINS: 'HTTPS://App.Example:443, http://localhost:3000' });

    it('accepts a listed origin, as browsers write it, with the secret: it runs a script', async () => {
      const protocols = { 'sec-websocket-protocol': secretProtocols(SECRET) };
      await runsOn(daemon, { origin: 'https://app.example', 'x-runtime-secret': SECRET });
      assert.equal((await upgrade(daemon.url, { origin: 'http://localhost:3000', ...protocols })).status, 101);
    });

    it('refuses an unlisted origin with 403 even with the right secret; a listed one without the secret gets 401', async () => {
      const protocols = { 'sec-websocket-protocol': secretProtocols(SECRET) };
      for (const origin of ['https://evil.example', 'null', 'http://app.example', 'https://app.example:8443'])
        assert.equal((await upgrade(daemon.url, { origin, ...protocols })).status, 403, origin);
      assert.equal((await upgrade(daemon.url, { origin: 'https://app.example' })).status, 401);
    });
  });

  describe('logged with a bound on lines', () => {
    const daemon = useDaemon(SMALL);

    it('past 10 lines in 10 s, logs no more refused origins, and the next line counts those it did not log', async () => {
      let sent = 0;
      const refuseOne = async () => assert.equal((await upgrade(daemon.url, { origin: `https://page${++sent}.example` })).status, 403);
      await Promise.all(Array.from({ length: 30 }, refuseOne));
      // One more refusal at a time until the window has passed and a line reports the ones skipped.
      const counted = async () => {
        while (!logged(daemon, ORIGIN_LOG).some((line) => Number(line.unlogged) > 0)) {
          await refuseOne();
          await delay(250);
        }
      };
      await within(counted(), 30000, 'a refusal line counting the refusals not logged');
      const lines = logged(daemon, ORIGIN_LOG);
      const unlogged = lines.reduce((sum, line) => sum + Number(line.unlogged ?? 0), 0);
      assert.ok(lines.length < sent, `${lines.length} lines for ${sent} origins`);
      assert.ok(lines.length + unlogged <= sent, 'each refusal logged or counted once at most');
    });
  });

  describe('on a daemon with ALLOWED_ORIGINS=*', () => {
    const daemon = useDaemon({ ...SMALL, ALLOWED_ORIGINS: '*' });

    it('accepts any origin, null included', async () => {
      await runsOn(daemon, { origin: 'https://evil.example' });
      assert.equal((await upgrade(daemon.url, { origin: 'null' })).status, 101);
    });
  });
});

describe('the Host of a request (DNS rebinding)', function () {
  this.timeout(30000);
  const PATHS = ['/metrics', '/healthz', '/playground'];

  describe('on a daemon listening on loopback, with the playground', () => {
    const daemon = useDaemon({ ...SMALL, PLAYGROUND: 'true', ALLOWED_HOSTS: 'javascriptd.internal' });
    const port = () => new URL(httpBase(daemon)).port;

    it('refuses Host evil.example:PORT with 403 naming ALLOWED_HOSTS on /metrics, /healthz, /playground and the WebSocket', async () => {
      const host = `evil.example:${port()}`;
      for (const path of PATHS) {
        const refused = await get(daemon.url, path, { host });
        assert.equal(refused.status, 403, path);
        assert.match(refused.body, HOST_REFUSED, path);
      }
      // The rebinding page is on its own origin under that name.
      const refused = await upgrade(daemon.url, { host, origin: `http://${host}` });
      assert.equal(refused.status, 403);
      assert.match(refused.body, HOST_REFUSED);
      assert.equal((await upgrade(daemon.url, { host })).status, 403, 'without Origin too');
      await untilLogged(daemon, HOST_LOG, 'host', host);
    });

    it('refuses names that only look loopback', async () => {
      for (const name of ['localhost.evil.example', '127.0.0.1.evil.example', 'evil.example.', '10.0.0.1', 'javascriptd.internal.evil'])
        assert.equal((await get(daemon.url, '/healthz', { host: `${name}:${port()}` })).status, 403, name);
    });

    it('serves Host localhost, 127.0.0.1, another 127/8 address, [::1], *.localhost and an ALLOWED_HOSTS name, on every path and the WebSocket', async () => {
      for (const name of ['localhost', '127.0.0.1', '127.0.0.2', '[::1]', 'app.localhost', 'LOCALHOST', 'javascriptd.internal']) {
        const host = `${name}:${port()}`;
        for (const path of PATHS) assert.equal((await get(daemon.url, path, { host })).status, 200, `${path} as ${host}`);
        assert.equal((await upgrade(daemon.url, { host, origin: `http://${host}` })).status, 101, `own origin as ${host}`);
      }
      await runsOn(daemon, { host: `javascriptd.internal:${port()}`, origin: `http://javascriptd.internal:${port()}` });
    });
  });

  describe('on a daemon with ALLOWED_HOSTS=*', () => {
    const daemon = useDaemon({ ...SMALL, ALLOWED_HOSTS: '*' });

    it('serves any Host', async () => {
      assert.equal((await get(daemon.url, '/healthz', { host: 'evil.example' })).status, 200);
      assert.equal((await upgrade(daemon.url, { host: 'evil.example' })).status, 101);
    });
  });

  describe('on a daemon listening on all interfaces', () => {
    let daemon: RunningDaemon | undefined;
    after(async () => {
      await daemon?.stop();
    });

    it('checks no Host without ALLOWED_HOSTS, and checks it once ALLOWED_HOSTS is set', async () => {
      daemon = await startDaemon({ ...SMALL, HOST: '0.0.0.0', SECRET });
      assert.equal((await get(daemon.url.replace('0.0.0.0', '127.0.0.1'), '/healthz', { host: 'anything.example' })).status, 200);
      await daemon.stop();
      daemon = await startDaemon({ ...SMALL, HOST: '0.0.0.0', SECRET, ALLOWED_HOSTS: 'javascriptd.example' });
      const url = daemon.url.replace('0.0.0.0', '127.0.0.1');
      assert.equal((await get(url, '/healthz', { host: 'anything.example' })).status, 403);
      assert.equal((await get(url, '/healthz', { host: 'javascriptd.example' })).status, 200);
      assert.equal((await get(url, '/healthz', { host: '127.0.0.1' })).status, 200, 'loopback names stay allowed');
    });
  });
});

interface Outcome {
  /** Whether the socket opened. */
  opened: boolean;
  /** The script's value. */
  value?: unknown;
  /** The close code, when it closed before a reply. */
  closed?: number;
}

/**
 * Runs in the page: opens the daemon's WebSocket as a page would (the secret,
 * if any, as a javascriptd.secret. subprotocol) and runs `code` on it.
 */
function executeInPage(url: string, secret: string, code: string): Promise<Outcome> {
  const protocols = ['javascriptd'];
  if (secret !== '') {
    const base64 = btoa(String.fromCharCode(...new TextEncoder().encode(secret)));
    protocols.push(`javascriptd.secret.${base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`);
  }
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send('SIMPLEX/1.0;json');
    };
    ws.onmessage = (event) => {
      if (event.data === '+OK') {
        ws.send(JSON.stringify({ type: 'req', method: 'runtime.execute', id: 1, payload: { code } }));
        return;
      }
      resolve({ opened, value: (JSON.parse(String(event.data)) as { payload?: { value: unknown } }).payload?.value });
      ws.close();
    };
    ws.onclose = (event) => resolve({ opened, closed: event.code });
  });
}

const EMPTY_PAGE = '<!doctype html><title>another origin</title>';
/** A name Chromium is told resolves to 127.0.0.1, as an attacker's DNS would answer once the page is loaded. */
const REBOUND = 'rebound.example';

describeWithEngine('pages in Chromium', browserMissing, function () {
  this.timeout(60000);
  let site: TestServer;
  let chromium: RunningBrowser;
  const open = useDaemon({ ...SMALL, PLAYGROUND: 'true' });
  const guarded = useDaemon({ ...SMALL, PLAYGROUND: 'true', SECRET });

  before(async () => {
    site = await startHttpServer({ '/': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(EMPTY_PAGE) });
    chromium = await launchBrowser([`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`]);
  });
  after(async () => {
    await chromium?.close();
    await site?.close();
  });

  /** Loads `pageUrl`, then runs 1+1 over the daemon's WebSocket from it. */
  const fromPage = async (pageUrl: string, daemonUrl: string, secret = '') => {
    const page = await chromium.browser.newPage();
    try {
      const response = await page.goto(pageUrl, { waitUntil: 'load' });
      const outcome = await page.evaluate(executeInPage, daemonUrl, secret, '1+1');
      return { status: response?.status(), outcome };
    } finally {
      await page.close();
    }
  };
  const opened = (daemon: RunningDaemon) => logged(daemon, 'connection opened').length;

  for (const name of ['127.0.0.1', 'localhost']) {
    it(`a page on another loopback origin (http://${name}:OTHER) cannot open the WebSocket of a daemon without a secret: closed 1006, refusal logged, no connection`, async () => {
      const pageOrigin = `http://${name}:${site.port}`;
      const before = opened(open);
      const { outcome } = await fromPage(`${pageOrigin}/`, open.url);
      assert.deepEqual(outcome, { opened: false, closed: 1006 });
      await untilLogged(open, ORIGIN_LOG, 'origin', pageOrigin);
      assert.equal(opened(open), before, 'the daemon logged no connection opened');
    });
  }

  it('nor with the right secret, offered as a subprotocol', async () => {
    const before = opened(guarded);
    const { outcome } = await fromPage(`${site.origin}/`, guarded.url, SECRET);
    assert.deepEqual(outcome, { opened: false, closed: 1006 });
    await untilLogged(guarded, ORIGIN_LOG, 'origin', site.origin);
    assert.equal(opened(guarded), before);
  });

  it("the same code on the daemon's own origin (/playground) opens it and runs the script, with or without a secret", async () => {
    const mine = await fromPage(`${httpBase(open)}playground`, open.url);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.outcome, { opened: true, value: 2 });
    const withSecret = await fromPage(`${httpBase(guarded)}playground`, guarded.url, SECRET);
    assert.deepEqual(withSecret.outcome, { opened: true, value: 2 });
  });

  it(`a page under a name re-pointed at 127.0.0.1 (${REBOUND}) gets 403 for /playground, and cannot open the WebSocket as its own origin`, async () => {
    const host = `${REBOUND}:${open.port}`;
    const before = opened(open);
    const { status, outcome } = await fromPage(`http://${host}/playground`, `ws://${host}/`);
    assert.equal(status, 403);
    assert.deepEqual(outcome, { opened: false, closed: 1006 });
    await untilLogged(open, HOST_LOG, 'host', host);
    assert.equal(opened(open), before);
  });
});
