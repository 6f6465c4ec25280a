// A browser cannot set headers: it presents the secret as a WebSocket
// subprotocol. A page served on loopback, in headless Chromium, opens the
// socket and calls runtime.execute, with the right secret and a wrong one. The
// page is on another origin than the daemon's, which ALLOWED_ORIGINS lists.
import assert from 'node:assert/strict';
import { browserMissing, launchBrowser, type RunningBrowser } from './helpers/browser.js';
import { useDaemon } from './helpers/daemon.js';
import { describeWithEngine } from './helpers/engines.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';

const SECRET = 'browser-secret-🔑-value';

// The page's own code: Duplex over the browser's WebSocket, the secret as a subprotocol beside javascriptd.
const PAGE = `<!doctype html><title>javascriptd from a browser</title><script>
window.execute = (url, secret, code) => new Promise((resolve) => {
  const bytes = new TextEncoder().encode(secret);
  const encoded = btoa(String.fromCharCode(...bytes)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const ws = new WebSocket(url, ['javascriptd', 'javascriptd.secret.' + encoded]);
  ws.onopen = () => ws.send('SIMPLEX/1.0;json');
  ws.onmessage = (event) => {
    if (event.data === '+OK') return ws.send(JSON.stringify({ type: 'req', method: 'runtime.execute', id: 1, payload: { code } }));
    resolve({ protocol: ws.protocol, reply: JSON.parse(event.data) });
    ws.close();
  };
  ws.onclose = (event) => resolve({ closed: event.code });
});
</script>`;

describeWithEngine('a browser', browserMissing, function () {
  this.timeout(60000);
  let site: TestServer;
  let chromium: RunningBrowser;

  before(async () => {
    site = await startHttpServer({ '/': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE) });
  });
  const daemon = useDaemon(() => ({ SECRET, HOST: '127.0.0.1', ALLOWED_ORIGINS: site.origin }));
  before(async () => {
    chromium = await launchBrowser();
  });
  after(async () => {
    await chromium?.close();
    await site?.close();
  });

  const run = async (secret: string) => {
    const page = await chromium.browser.newPage();
    await page.goto(`${site.origin}/`);
    const outcome = await page.evaluate(
      (url, s) =>
        (globalThis as unknown as { execute: (u: string, s: string, c: string) => Promise<unknown> }).execute(
          url,
          s,
          '"from " + typeof window',
        ),
      daemon.url,
      secret,
    );
    await page.close();
    return outcome as { protocol?: string; reply?: { payload?: { value: unknown } }; closed?: number };
  };

  it('runs a script with the secret offered as a javascriptd.secret. subprotocol', async () => {
    const outcome = await run(SECRET);
    assert.equal(outcome.protocol, 'javascriptd');
    assert.equal(outcome.reply?.payload?.value, 'from undefined');
  });

  it('is refused with a wrong secret, and the daemon logs no secret', async () => {
    const outcome = await run('not the secret');
    assert.equal(outcome.closed, 1006, 'the upgrade was refused (401), so the socket never opened');
    assert.doesNotMatch(daemon.output.join('\n'), /browser-secret|not the secret/);
  });
});
