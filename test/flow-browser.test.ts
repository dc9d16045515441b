import { errors } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { BrowserNotFoundError, createBrowserPool, findChromium, type ChromiumPool } from '../src/booking/browser.js';
import { mapFlowError } from '../src/booking/flows/map-flow-error.js';

const has = (...paths: string[]) => (path: string) => paths.includes(path);
const PW = '/pw/chrome';
const pools: ChromiumPool[] = [];

afterAll(async () => {
  for (const pool of pools) await pool.close();
});

describe('findChromium', () => {
  it('prefers the configured path, then Playwright\'s browser, then the system paths', () => {
    expect(findChromium('/opt/chrome', { exists: has('/opt/chrome', PW), playwrightPath: () => PW })).toBe('/opt/chrome');
    expect(findChromium(null, { exists: has(PW, '/usr/bin/chromium'), playwrightPath: () => PW })).toBe(PW);
    expect(findChromium(null, { exists: has('/usr/bin/chromium-browser', '/usr/bin/google-chrome'), playwrightPath: () => PW })).toBe('/usr/bin/chromium-browser');
    expect(findChromium(null, { exists: has('/usr/bin/google-chrome'), playwrightPath: () => { throw new Error('no registry'); } })).toBe('/usr/bin/google-chrome');
  });

  it('throws an error naming the fix', () => {
    expect(() => findChromium('/nope', { exists: has(PW) })).toThrow(/\/nope .*does not exist/);
    const err = (() => {
      try {
        findChromium(null, { exists: () => false, playwrightPath: () => PW });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BrowserNotFoundError);
    expect((err as Error).message).toContain('apt-get install -y chromium');
    expect((err as Error).message).toContain('daemon.browserExecutable');
    expect((err as Error).message).toContain('RESERVD_BROWSER');
  });

  it('finds this machine\'s Chromium', () => {
    expect(findChromium(null)).toMatch(/chrom/);
  });
});

describe('mapFlowError', () => {
  it('maps Playwright timeouts to timeout and everything else to error, first line only', () => {
    expect(mapFlowError(new errors.TimeoutError('page.click: Timeout 100ms exceeded.\nCall log: ...'))).toEqual({
      outcome: 'timeout',
      message: 'page.click: Timeout 100ms exceeded.',
    });
    expect(mapFlowError(new Error('net::ERR_CONNECTION_REFUSED'))).toEqual({ outcome: 'error', message: 'net::ERR_CONNECTION_REFUSED' });
    expect(mapFlowError('weird')).toEqual({ outcome: 'error', message: 'weird' });
  });
});

describe('browser pool (real Chromium)', () => {
  it('launches lazily, lends a fresh context per acquire, relaunches after a crash, closes twice', async () => {
    const launched: string[] = [];
    const pool = createBrowserPool({
      executablePath: findChromium(null),
      headless: true,
      logger: { info: (o) => launched.push((o as { browser_id: string }).browser_id), warn() {} },
    });
    pools.push(pool);
    expect(launched).toEqual([]);
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    expect(launched).toEqual(['chromium-1']);
    expect(a?.browserId).toBe('chromium-1');
    expect(a?.context).not.toBe(b?.context);
    expect(a?.isClosed()).toBe(false);
    const pageA = await a!.page();
    expect(await a!.page()).toBe(pageA); // opened once, on demand
    await pageA.setContent('<title>a</title>');
    expect(await pageA.title()).toBe('a');
    await a?.release();
    await a?.release();
    expect(a?.isClosed()).toBe(true);
    expect(b?.context.pages()).toEqual([]); // never asked for a page: no renderer opened

    await b?.context.browser()?.close();
    const c = await pool.acquire();
    expect(c.browserId).toBe('chromium-2');
    await c.release();
    await pool.close();
    await pool.close();
    await expect(pool.acquire()).rejects.toThrow(/closed/);
  });

  it('browserPerLease (the polling baseline): a browser per lease, closed by its release; close() closes the rest', async () => {
    const launched: string[] = [];
    const pool = createBrowserPool({
      executablePath: findChromium(null),
      headless: true,
      browserPerLease: true,
      logger: { info: (o) => launched.push((o as { browser_id: string }).browser_id), warn() {} },
    });
    pools.push(pool);
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    expect(launched.sort()).toEqual(['chromium-1', 'chromium-2']);
    expect(a.browserId).not.toBe(b.browserId);
    const browserA = a.context.browser()!;
    const browserB = b.context.browser()!;
    expect(browserA).not.toBe(browserB);
    await a.release();
    expect(browserA.isConnected()).toBe(false);
    expect(browserB.isConnected()).toBe(true);
    await pool.close();
    expect(browserB.isConnected()).toBe(false);
  });
});
