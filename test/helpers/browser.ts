// Headless Chromium (Debian's package) driven by puppeteer-core, for tests of
// what a browser can and cannot do. Started with the flags this closed network
// needs: no background connections, no first-run work, a fresh profile.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why no browser test can run here, or undefined. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`;
}

export interface RunningBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** `args`: more command-line flags, e.g. --host-resolver-rules to point a name at loopback. */
export async function launchBrowser(args: string[] = []): Promise<RunningBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'javascriptd-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...args,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
