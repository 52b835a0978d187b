// Headless Chromium for the browser tests: Debian's /usr/bin/chromium
// driven by playwright-core, each browser with a new empty profile. A
// page opened at the hub's HTTP root gets the library the hub serves.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.BRUME_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

/** A browser with its own new profile; `close()` removes the profile. */
export async function browser() {
  const profile = mkdtempSync(join(tmpdir(), 'brume-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    permissions: ['camera', 'microphone'],
  });
  return {
    context,
    profile,
    async page(url) {
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
      if (process.env.BRUME_TEST_VERBOSE) page.on('console', (m) => console.error(`[page] ${m.text()}`));
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The hub's HTTP root for a `ws://` URL. */
export function httpRoot(wsUrl) {
  return `${wsUrl.replace(/^ws/, 'http')}/`;
}

/**
 * Starts a Brume client in `page` as the user of config `cfg`. The page
 * then has `window.brume` and `window.seen`: chat lines heard
 * ({from, text}), transfer offers, and streams.
 */
export async function startInPage(page, cfg) {
  await page.evaluate(async ({ url, access_token, refresh_token }) => {
    const { Brume } = await import('/brume.mjs');
    window.Brume = Brume;
    const brume = new Brume();
    window.brume = brume;
    window.seen = { lines: [], offers: [], streams: [], removed: 0 };
    window.wire = (peer) => {
      if (peer.wired) return;
      peer.wired = true;
      peer.on('data', (d) => {
        const { type, data } = Brume.decodeMsg(d);
        if (type === 'chat') window.seen.lines.push({ from: peer.user, text: data });
      });
      peer.on('stream', (s) => window.seen.streams.push(s));
      peer.on('removetrack', () => window.seen.removed++);
    };
    brume.onconnection(async ({ peer, accept }) => {
      window.wire(peer);
      await accept();
    });
    brume.on('offer', (t) => window.seen.offers.push(t));
    await brume.start({ url, token: access_token, refreshToken: refresh_token });
  }, cfg);
}

/** Polls `fn` in the page until it returns a truthy value; that value. */
export async function until(page, fn, arg, ms = 30000) {
  const handle = await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
  return handle.jsonValue();
}
