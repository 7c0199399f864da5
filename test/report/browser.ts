/** A real browser for the HTML report tests: Debian's chromium driven by playwright-core (no downloads). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, ConsoleMessage, Page } from 'playwright-core';

export const CHROMIUM = process.env.CORONER_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  return undefined;
}

export interface Browser {
  context: BrowserContext;
  /** Opens a URL in a new page, collecting console errors, page errors and any network request. */
  open(url: string, opts?: { colorScheme?: 'light' | 'dark'; width?: number }): Promise<OpenPage>;
  close(): Promise<void>;
}

export interface OpenPage {
  page: Page;
  errors: string[];
  /** Requests the page made to anything but its own file:// URL. */
  requests: string[];
}

/** Launches chromium with a fresh profile directory. */
export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'coroner-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    viewport: { width: 1400, height: 900 },
  });
  return {
    context,
    async open(url, opts = {}) {
      const page = await context.newPage();
      await page.setViewportSize({ width: opts.width ?? 1400, height: 900 });
      await page.emulateMedia({ colorScheme: opts.colorScheme ?? 'light' });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m: ConsoleMessage) => {
        if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('request', (r) => {
        if (r.url() !== url) requests.push(r.url());
      });
      await page.goto(url, { waitUntil: 'load' });
      return { page, errors, requests };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
