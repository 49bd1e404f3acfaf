import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's package (`apt-get install chromium`); playwright-core downloads no browser. CHROMIUM_PATH points the tests
 * at another Chromium build, e.g. on a developer's machine.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless Chromium for the web UIs' tests, or an error that says how to get one. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM}. Install it with ` +
        '`sudo apt-get install chromium` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * Saves numbered screenshots in test-output/<folder>/, emptied first: only this run's pictures, so a step that stops
 * being reached leaves no stale one behind.
 */
export function screenshotter(
  page: () => Page,
  folder: string,
  options: { fullPage?: boolean } = {},
): (name: string) => Promise<Buffer> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-output', folder);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let shot = 0;
  return (name) =>
    page().screenshot({
      path: join(dir, `${String(++shot).padStart(2, '0')}-${name}.png`),
      fullPage: options.fullPage,
    });
}

/**
 * Collects what the page itself reports as wrong: a script that failed, a file the CSP blocked, or a stylesheet or
 * script of its own that did not load. Chromium also reports every 4xx fetch as a console error ("Failed to load
 * resource"); those are left out, as tests ask for some, so a missing file is caught by its answer instead.
 */
export function collectPageErrors(page: Page, errors: string[]): void {
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      errors.push(message.text());
    }
  });
  page.on('response', (res) => {
    const type = res.request().resourceType();
    if (res.status() >= 400 && (type === 'stylesheet' || type === 'script'))
      errors.push(`${res.status()} ${res.url()}`);
  });
}
