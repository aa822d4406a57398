import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium: the browser tests drive it (a downloaded browser fails here). */
export const CHROMIUM = '/usr/bin/chromium';

/** Why a browser test is skipped on this machine (one line saying what to install), or false. */
export const noChromium: string | false =
  !existsSync(CHROMIUM) && `${CHROMIUM} is missing: install it with "apt-get install -y chromium"`;

/** Chromium without a display, closed at `teardown`. */
export async function launchChromium(teardown: (fn: () => unknown) => void): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  teardown(() => browser.close());
  return browser;
}

/** A new page of `browser`, and the errors its scripts throw, as they come. */
export async function watchedPage(
  browser: Browser,
  opts?: Parameters<Browser['newPage']>[0],
): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage(opts);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return { page, pageErrors };
}
