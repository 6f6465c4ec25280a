// What a web page can do with JSON-RPC over HTTP, in headless Chromium: a page
// on another origin runs nothing, neither with a JSON body (the browser asks
// first, and the daemon refuses its preflight) nor with a text/plain "simple"
// body (no preflight: refused by its Origin, and by its type); a page whose
// name is re-pointed at 127.0.0.1 is refused by its Host. That nothing ran is
// shown by the daemon's execution log: after each attempt the same body, sent
// by a program, is logged as the one execution of its script.
import assert from 'node:assert/strict';
import { browserMissing, launchBrowser, type RunningBrowser } from './helpers/browser.js';
import { executionLines, httpBase, type RunningDaemon, useDaemon } from './helpers/daemon.js';
import { describeWithEngine } from './helpers/engines.js';
import { startHttpServer, type TestServer } from './helpers/http-server.js';
import { until } from './helpers/poll.js';

const REBOUND = 'rebound.example';
const EMPTY_PAGE = '<!doctype html><title>another origin</title>';

interface PageOutcome {
  /** The status the page could read (0 for an opaque no-cors answer), or the fetch's error. */
  status?: number;
  body?: string;
  error?: string;
}

/** Runs in the page: POSTs `body` to `url` as `contentType`, in `mode`. */
async function postInPage(url: string, body: string, contentType: string, mode: 'cors' | 'no-cors'): Promise<PageOutcome> {
  try {
    const answer = await fetch(url, { method: 'POST', mode, headers: { 'content-type': contentType }, body });
    return { status: answer.status, body: mode === 'no-cors' ? '' : await answer.text() };
  } catch (error) {
    return { error: String(error) };
  }
}

const request = (code: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'runtime.execute', params: { code } });
const unique = (what: string) => `6 * 7 // ${what} ${Math.random()}`;

/** Sends `code` as a program would and waits for its execution: then it must be the script's only one. */
async function ranOnlyOnceSent(daemon: RunningDaemon, code: string): Promise<void> {
  const answer = await fetch(httpBase(daemon), { method: 'POST', headers: { 'content-type': 'application/json' }, body: request(code) });
  assert.equal(answer.status, 200);
  await until(() => executionLines(daemon, code).length > 0, 'the control execution logged');
  assert.equal(executionLines(daemon, code).length, 1, 'the page ran the script');
}

describeWithEngine('JSON-RPC over HTTP from pages in Chromium', browserMissing, function () {
  this.timeout(60000);
  let site: TestServer;
  let chromium: RunningBrowser;
  // Before the daemons: one lists the site's origin.
  before(async () => {
    site = await startHttpServer({ '/': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(EMPTY_PAGE) });
    chromium = await launchBrowser([`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`]);
  });
  const open = useDaemon({ POOL_SIZE: '1' });
  const listing = useDaemon(() => ({ POOL_SIZE: '1', ALLOWED_ORIGINS: site.origin }));

  after(async () => {
    await chromium?.close();
    await site?.close();
  });

  const fromPage = async (pageUrl: string, ...args: Parameters<typeof postInPage>) => {
    const page = await chromium.browser.newPage();
    try {
      await page.goto(pageUrl, { waitUntil: 'load' });
      return await page.evaluate(postInPage, ...args);
    } finally {
      await page.close();
    }
  };

  it('a page on another origin POSTing JSON: its preflight is refused, the fetch fails, nothing runs', async () => {
    const code = unique('json from another origin');
    const outcome = await fromPage(`${site.origin}/`, httpBase(open), request(code), 'application/json', 'cors');
    assert.match(outcome.error ?? '', /TypeError/);
    await until(
      () => open.logs().some((line) => line.origin === site.origin && String(line.msg).startsWith('refused a CORS preflight')),
      'the refused preflight logged',
    );
    await ranOnlyOnceSent(open, code);
  });

  it('nor with a text/plain "simple" body, which is sent without a preflight: nothing runs', async () => {
    // Another origin than the test above's (localhost, not 127.0.0.1): each refused origin is logged once.
    const pageOrigin = `http://localhost:${site.port}`;
    const code = unique('text from another origin');
    const outcome = await fromPage(`${pageOrigin}/`, httpBase(open), request(code), 'text/plain', 'no-cors');
    assert.deepEqual(outcome, { status: 0, body: '' });
    await until(
      () => open.logs().some((line) => line.origin === pageOrigin && String(line.msg).startsWith('refused a POST')),
      'the refused POST logged',
    );
    await ranOnlyOnceSent(open, code);
  });

  it('a page on an ALLOWED_ORIGINS origin runs JSON and reads the reply, but a text/plain body runs nothing', async () => {
    const json = await fromPage(`${site.origin}/`, httpBase(listing), request('6 * 7'), 'application/json', 'cors');
    assert.equal(json.status, 200);
    assert.equal((JSON.parse(json.body ?? '') as { result: { value: number } }).result.value, 42);
    const code = unique('text from a listed origin');
    assert.deepEqual(await fromPage(`${site.origin}/`, httpBase(listing), request(code), 'text/plain', 'no-cors'), { status: 0, body: '' });
    await ranOnlyOnceSent(listing, code);
  });

  it(`a page under a name re-pointed at 127.0.0.1 (${REBOUND}) POSTing JSON to its own origin (no preflight) gets 403: nothing runs`, async () => {
    const code = unique('rebound');
    const own = `http://${REBOUND}:${open.port}/`;
    const outcome = await fromPage(own, own, request(code), 'application/json', 'cors');
    assert.equal(outcome.status, 403);
    assert.match(outcome.body ?? '', /^Host not allowed/);
    await ranOnlyOnceSent(open, code);
  });
});
