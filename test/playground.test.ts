// The playground page (PLAYGROUND=true): not served without the setting; served
// with strict headers; and, in headless Chromium against a real daemon with a
// SECRET, a script typed into the page runs, its console streams in before the
// reply, an error's line is highlighted, a busy loop is cancelled, a wrong
// secret is refused in words, and the page asks nothing of any other origin.
import assert from 'node:assert/strict';
import type { Page } from 'puppeteer-core';
import { SETTINGS } from '../src/config/settings.js';
import { browserMissing, launchBrowser, type RunningBrowser } from './helpers/browser.js';
import { httpBase, type RunningDaemon, startDaemon } from './helpers/daemon.js';
import { describeWithEngine } from './helpers/engines.js';

const SECRET = 'playground-secret-🔑';
/** Set to a file name to save a screenshot of the page after a run (docs/playground.png, in docs/clients.md). */
const SCREENSHOT = process.env.PLAYGROUND_SCREENSHOT;

/** The little of the DOM these tests read (the project's types have no DOM library). */
interface Field {
  value: string;
  checked: boolean;
  labels: { length: number } | null;
}
interface PageGlobals {
  document: {
    getElementById(id: string): { textContent: string };
    documentElement: { scrollWidth: number };
    addEventListener(
      type: 'securitypolicyviolation',
      listener: (event: { violatedDirective: string; target: { outerHTML: string } }) => void,
    ): void;
  };
  innerWidth: number;
  reportViolation(violation: string): void;
}

const fieldValue = (page: Page, selector: string) => page.$eval(selector, (input) => (input as unknown as Field).value);
const setValue = (page: Page, selector: string, value: string) =>
  page.$eval(
    selector,
    (input, given) => {
      (input as unknown as Field).value = given;
    },
    value,
  );

const get = (daemon: RunningDaemon, path: string, headers: Record<string, string> = {}) =>
  fetch(new URL(path, httpBase(daemon)), { headers });

describe('the playground, over HTTP', function () {
  this.timeout(30000);
  let off: RunningDaemon;
  let on: RunningDaemon;

  before(async () => {
    [off, on] = await Promise.all([startDaemon({ SECRET }), startDaemon({ SECRET, PLAYGROUND: 'true' })]);
  });
  after(async () => {
    await off?.stop();
    await on?.stop();
  });

  it('is not served without PLAYGROUND=true: /playground is any unknown path', async () => {
    const res = await get(off, '/playground');
    assert.equal(res.status, 404);
    assert.equal(await res.text(), 'not found\n');
  });

  it('serves the page, its script and style with strict headers', async () => {
    const res = await get(on, '/playground');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /style-src 'self' 'nonce-[A-Za-z0-9+/=]{24}';/, "CodeMirror's <style> element needs a nonce");
    const host = new URL(httpBase(on)).host;
    assert.ok(csp.includes(`connect-src 'self' ws://${host} wss://${host};`), csp);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const page = await res.text();
    assert.doesNotMatch(page, /<script>|<style|\s(?:style|on[a-z]+)=/, 'no inline script or style');
    const nonce = /nonce="([^"]+)"/.exec(page)?.[1];
    assert.ok(nonce !== undefined && csp.includes(`'nonce-${nonce}'`), 'the page carries its own nonce');
    assert.notEqual((await (await get(on, '/playground')).text()).match(/nonce="([^"]+)"/)?.[1], nonce, 'a fresh nonce each time');
    const assets = [...page.matchAll(/(?:src|href)="(playground\/[^"]+)"/g)].map((m) => m[1]);
    assert.equal(assets.length, 2, page);
    for (const asset of assets) {
      const file = await get(on, `/${asset}`, { 'accept-encoding': 'gzip' });
      assert.equal(file.status, 200, asset);
      assert.equal(file.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(file.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(file.headers.get('content-encoding'), 'gzip');
    }
    assert.equal((await fetch(new URL('/playground', httpBase(on)), { method: 'POST' })).status, 405);
    assert.equal((await get(on, '/playground/nothing.js')).status, 404);
  });
});

describeWithEngine('the playground in a browser', browserMissing, function () {
  this.timeout(60000);
  let daemon: RunningDaemon;
  let chromium: RunningBrowser;
  let origin: string;
  /** Every URL any page asked for (WebSockets included), and every CSP violation. */
  const requested: string[] = [];
  const violations: string[] = [];
  /** The WebSockets each page opened: puppeteer's 'request' event never sees a WebSocket handshake, Chromium's DevTools protocol does. */
  const socketsOf = new WeakMap<Page, string[]>();

  before(async () => {
    daemon = await startDaemon({ SECRET, HOST: '127.0.0.1', PLAYGROUND: 'true' });
    origin = new URL(httpBase(daemon)).origin;
    chromium = await launchBrowser();
  });
  after(async () => {
    await chromium?.close();
    await daemon?.stop();
  });

  const open = async (secret = SECRET): Promise<Page> => {
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    page.on('request', (request) => requested.push(request.url()));
    const sockets: string[] = [];
    socketsOf.set(page, sockets);
    const devtools = await page.createCDPSession();
    await devtools.send('Network.enable');
    devtools.on('Network.webSocketCreated', ({ url }) => {
      sockets.push(url);
      requested.push(url);
    });
    await page.exposeFunction('reportViolation', (violation: string) => violations.push(violation));
    await page.evaluateOnNewDocument(() => {
      const { document, reportViolation } = globalThis as unknown as PageGlobals;
      document.addEventListener('securitypolicyviolation', (event) =>
        reportViolation(`${event.violatedDirective} ${event.target.outerHTML.slice(0, 200)}`),
      );
    });
    await page.goto(`${origin}/playground`, { waitUntil: 'load' });
    await page.waitForSelector('#code .cm-content');
    await setValue(page, '#secret', secret);
    return page;
  };

  /** Replaces the script with `code`, inserted as typed text (one insertion: no auto-closed brackets or indentation). */
  const type = async (page: Page, code: string, options: { typescript?: boolean } = {}) => {
    if ((await page.$eval('#typescript', (box) => (box as unknown as Field).checked)) !== (options.typescript === true))
      await page.click('#typescript');
    await page.click('#code .cm-content');
    await page.keyboard.down('Control');
    await page.keyboard.press('a');
    await page.keyboard.up('Control');
    await page.keyboard.sendCharacter(code);
  };

  const runWithKeys = async (page: Page) => {
    await page.keyboard.down('Control');
    await page.keyboard.press('Enter');
    await page.keyboard.up('Control');
  };

  const text = (page: Page, selector: string) => page.$eval(selector, (node) => node.textContent ?? '');
  /** Waits until no run is in progress, and returns the status line. */
  const finished = async (page: Page) => {
    await page.waitForSelector('#run:not([disabled])');
    return text(page, '#status');
  };
  const consoleShows = (page: Page, line: string) =>
    page.waitForFunction(
      (wanted) => (globalThis as unknown as PageGlobals).document.getElementById('console').textContent.includes(wanted),
      {},
      line,
    );

  it("shows the sample script's first line whole, with no horizontal scrollbar, on a desktop and on a phone", async () => {
    const page = await open();
    await page.evaluate(() => localStorage.clear());
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 390, height: 844, isMobile: true },
    ]) {
      await page.setViewport(viewport);
      await page.reload({ waitUntil: 'load' });
      await page.waitForSelector('#code .cm-content');
      const seen = await page.$eval('#code .cm-scroller', (scroller) => {
        const line = scroller.querySelector('.cm-line');
        const range = scroller.ownerDocument.createRange();
        if (line !== null) range.selectNodeContents(line);
        const text = range.getBoundingClientRect();
        const box = scroller.getBoundingClientRect();
        // What shows of the scroller: its box less its borders and scrollbars.
        const left = box.left + scroller.clientLeft;
        const top = box.top + scroller.clientTop;
        return {
          line: line?.textContent ?? '',
          text: { left: text.left, top: text.top, right: text.right, bottom: text.bottom },
          shown: { left, top, right: left + scroller.clientWidth, bottom: top + scroller.clientHeight },
          scrollWidth: scroller.scrollWidth,
          clientWidth: scroller.clientWidth,
        };
      });
      const at = `at ${viewport.width} px: ${JSON.stringify(seen)}`;
      assert.match(seen.line, /^\/\/ \S/, `the sample's first line is its comment ${at}`);
      assert.ok(seen.scrollWidth <= seen.clientWidth, `no horizontal scrolling, so no horizontal scrollbar ${at}`);
      assert.ok(seen.text.right - seen.text.left > 0 && seen.text.bottom - seen.text.top > 0, `the line has a box ${at}`);
      assert.ok(
        seen.text.left >= seen.shown.left &&
          seen.text.right <= seen.shown.right &&
          seen.text.top >= seen.shown.top &&
          seen.text.bottom <= seen.shown.bottom,
        `the whole first line is within what shows of the editor ${at}`,
      );
    }
    await page.close();
  });

  it("shows the caller field's default as its placeholder: a script run with the placeholder as its caller gets what one run with the field empty gets", async () => {
    const page = await open();
    const placeholder = await page.$eval('#caller', (input) => input.getAttribute('placeholder') ?? '');
    await type(page, 'function run(...args) { args[args.length - 1]({ args: args.length }); }');
    await setValue(page, '#call', 'run');
    const runWith = async (caller: string) => {
      await setValue(page, '#caller', caller);
      await page.click('#run');
      assert.match(await finished(page), /^Done/);
      return text(page, '#value');
    };
    const byDefault = await runWith('');
    assert.equal(byDefault, JSON.stringify({ args: 1 }, null, 2), 'the default caller calls the function with cb alone');
    assert.equal(await runWith(placeholder), byDefault, `the placeholder ${placeholder} is the default`);
    await page.evaluate(() => localStorage.clear()); // the inputs a run keeps, for the next tests' pages
    await page.close();
  });

  it('runs a typed script on Ctrl+Enter: its value pretty-printed, its console, time and usage', async () => {
    const page = await open();
    await type(page, "console.log('hello', 6 * 7);\n({ answer: 42, list: [1, 2] })");
    await runWithKeys(page);
    assert.match(await finished(page), /^Done in [\d.]+ ms\.$/);
    assert.equal(await text(page, '#value'), JSON.stringify({ answer: 42, list: [1, 2] }, null, 2));
    assert.equal(await text(page, '#console'), 'hello 42\n');
    assert.match(await text(page, '#usage'), /time[\d.]+ msCPU[\d.]+ msheap grown/);
    if (SCREENSHOT !== undefined) await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });

  it('streams console lines while the script still runs', async () => {
    const page = await open();
    await type(
      page,
      "(async () => {\n  for (let i = 1; i <= 5; i++) {\n    console.log('tick ' + i);\n    await new Promise((r) => setTimeout(r, 200));\n  }\n  return 'done';\n})()",
    );
    await page.click('#run');
    await consoleShows(page, 'tick 1');
    assert.equal(await text(page, '#status'), 'Running…', 'the first line shows before the reply');
    assert.doesNotMatch(await text(page, '#console'), /tick 5/);
    assert.match(await finished(page), /^Done/);
    assert.equal(await text(page, '#console'), 'tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n');
    assert.equal(await text(page, '#value'), '"done"');
    await page.close();
  });

  it("highlights the line of a TypeScript error's first frame in the script", async () => {
    const page = await open();
    await type(page, 'const a: number = 1;\nfunction h(x: { y: number } | null) {\n  return x!.y;\n}\nh(null);\n', { typescript: true });
    await page.click('#run');
    assert.match(await finished(page), /^Error 1000 Exception at line 3: TypeError: Cannot read properties of null/);
    assert.match(await text(page, '#value'), /at h \(script\.ts:3:\d+\)/);
    assert.equal(await text(page, '#code .cm-error-line'), '  return x!.y;');
    await page.close();
  });

  it('cancels a busy loop: 1007 Cancelled, with its console so far', async () => {
    const page = await open();
    await type(page, "(async () => {\n  console.log('spinning');\n  await new Promise((r) => setTimeout(r, 50));\n  while (true) {}\n})()");
    await setValue(page, '#timeout', '20000');
    await page.click('#run');
    await consoleShows(page, 'spinning');
    assert.equal(await text(page, '#status'), 'Running…');
    await page.click('#cancel');
    assert.match(await finished(page), /^Error 1007 Cancelled/);
    assert.equal(await text(page, '#console'), 'spinning\n');
    await page.close();
  });

  it('says the connection was refused when the secret is wrong', async () => {
    const page = await open('not the secret');
    await page.click('#run');
    assert.equal(await finished(page), 'Connection refused: the daemon did not accept the secret (wrong or missing).');
    await page.close();
  });

  it('sends nothing while the globals are not a JSON object', async () => {
    const page = await open();
    await page.click('#globals .cm-content');
    await page.keyboard.down('Control');
    await page.keyboard.press('a');
    await page.keyboard.up('Control');
    await page.keyboard.sendCharacter('{"event": ');
    await page.click('#run');
    assert.equal(await finished(page), 'Not run: fix the globals first.');
    assert.match(await text(page, '#globals-error'), /^Globals are not valid JSON/);
    assert.deepEqual(socketsOf.get(page), []);
    // The same page, with the globals mended, does open its socket: the watch above sees WebSockets.
    await page.keyboard.sendCharacter('1}');
    await type(page, 'event');
    await page.click('#run');
    assert.match(await finished(page), /^Done/);
    assert.equal(await text(page, '#value'), '1');
    assert.deepEqual(socketsOf.get(page), [daemon.url]);
    await page.close();
  });

  it('keeps the script and inputs across a reload, and the secret only when asked to', async () => {
    const page = await open();
    await type(page, 'const kept = 1;');
    await page.type('#call', 'kept');
    await page.click('#code .cm-content');
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#code .cm-content');
    assert.equal(await text(page, '#code .cm-content'), 'const kept = 1;');
    assert.equal(await fieldValue(page, '#call'), 'kept');
    assert.equal(await fieldValue(page, '#secret'), '', 'not remembered by default');
    await page.type('#secret', SECRET);
    await page.click('#remember');
    await page.reload({ waitUntil: 'load' });
    assert.equal(await fieldValue(page, '#secret'), SECRET);
    await page.evaluate(() => localStorage.clear());
    await page.close();
  });

  it('labels every control, and fits a phone in portrait', async () => {
    const page = await open();
    const unlabelled = await page.$$eval('input, button, [contenteditable]', (controls) =>
      controls
        .filter(
          (control) =>
            !(control as unknown as Field).labels?.length && !control.getAttribute('aria-labelledby') && !control.textContent?.trim(),
        )
        .map((control) => control.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unlabelled, []);
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    const { scrollWidth, innerWidth } = await page.evaluate(() => {
      const { document, innerWidth: width } = globalThis as unknown as PageGlobals;
      return { scrollWidth: document.documentElement.scrollWidth, innerWidth: width };
    });
    assert.ok(scrollWidth <= innerWidth, `no sideways scrolling (${scrollWidth} px in ${innerWidth})`);
    await page.close();
  });

  it('asked nothing of any other origin, and broke no CSP rule', () => {
    assert.ok(requested.some((url) => url.startsWith(origin)));
    assert.ok(
      requested.some((url) => url.startsWith('ws://')),
      'the pages opened WebSockets, and they are among what was asked',
    );
    assert.deepEqual(
      requested.filter((url) => new URL(url).origin !== origin && new URL(url.replace(/^ws/, 'http')).origin !== origin),
      [],
    );
    // Chromium's own contenteditable editing styles the text it inserts; CodeMirror replaces those nodes at once.
    assert.deepEqual(
      violations.filter((violation) => !/^style-src-attr <div class="cm-line(?: cm-activeLine)?">/.test(violation)),
      [],
    );
  });
});

describeWithEngine('the playground on a daemon whose key has no secret', browserMissing, function () {
  this.timeout(60000);
  let daemon: RunningDaemon;
  let chromium: RunningBrowser;

  before(async () => {
    daemon = await startDaemon({ PLAYGROUND: 'true' });
    chromium = await launchBrowser();
  });
  after(async () => {
    await chromium?.close();
    await daemon?.stop();
  });

  it('runs a script for a visitor who gives no secret, as the PLAYGROUND setting says', async () => {
    const help = SETTINGS.find((s) => s.env === 'PLAYGROUND')?.help ?? '';
    assert.match(help, /with a key without a secret, what any client can/, help);
    const page = await chromium.browser.newPage();
    await page.goto(new URL('/playground', httpBase(daemon)).href, { waitUntil: 'load' });
    await page.waitForSelector('#code .cm-content');
    assert.equal(await fieldValue(page, '#secret'), '');
    await page.click('#run');
    await page.waitForSelector('#run:not([disabled])');
    assert.match(await page.$eval('#status', (node) => node.textContent ?? ''), /^Done/);
    await page.evaluate(() => localStorage.clear());
    await page.close();
  });
});
