import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ReservdError } from '../errors.js';
import type { BrowserPool, PageLease } from './flow.js';

/**
 * Finding and lending Chromium (the only module that launches a browser). No browser download is possible
 * on our machines: we run an installed Chromium through playwright-core.
 */

/** Thrown when no Chromium executable can be found; the message says how to fix it. */
export class BrowserNotFoundError extends ReservdError {
  /** Always `browser_not_found`. */
  declare readonly code: 'browser_not_found';
  /** Never retryable: an operator must install a browser or fix the configured path. */
  declare readonly retryable: false;

  /** @param message - names the paths tried and the fix. */
  constructor(message: string) {
    super('browser_not_found', message, { retryable: false });
  }
}

/** System paths tried after the configured one and Playwright's own (README "Configuration"). */
const SYSTEM_CHROMIUM_PATHS: readonly string[] = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Lookups {@link findChromium} uses; tests replace them. */
export interface FindChromiumDeps {
  /** Whether a file exists (default `fs.existsSync`). */
  exists?: (path: string) => boolean;
  /** Playwright's own browser path, whether installed or not (default `chromium.executablePath()`). */
  playwrightPath?: () => string;
}

/**
 * The Chromium executable to launch. Order (README "Configuration"): `configured` (from
 * `daemon.browserExecutable` or RESERVD_BROWSER) → Playwright's own browser if it is installed →
 * /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome.
 *
 * @throws BrowserNotFoundError when the configured path does not exist (no silent fallback: the operator
 *   asked for it) or when nothing is found; the message names the fix.
 */
export function findChromium(configured: string | null, deps: FindChromiumDeps = {}): string {
  const exists = deps.exists ?? existsSync;
  if (configured !== null) {
    if (exists(configured)) return configured;
    throw new BrowserNotFoundError(
      `browser executable ${configured} (daemon.browserExecutable or RESERVD_BROWSER) does not exist; fix the path, or unset it to auto-detect`,
    );
  }
  const candidates: string[] = [];
  try {
    candidates.push((deps.playwrightPath ?? (() => chromium.executablePath()))());
  } catch {
    // playwright-core throws when it knows no browser for this platform; the system paths remain.
  }
  candidates.push(...SYSTEM_CHROMIUM_PATHS);
  const found = candidates.find((path) => path !== '' && exists(path));
  if (found) return found;
  throw new BrowserNotFoundError(
    `no Chromium found (tried ${candidates.join(', ')}); install it with \`apt-get update && apt-get install -y chromium\`, ` +
      'or set daemon.browserExecutable in the config (or RESERVD_BROWSER) to a Chromium/Chrome executable',
  );
}

/** The part of a pino logger the pool uses. */
export interface BrowserPoolLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link createBrowserPool}. */
export interface BrowserPoolOptions {
  /** From {@link findChromium}. */
  executablePath: string;
  headless: boolean;
  logger: BrowserPoolLogger;
  /** Launch budget, ms (default 30 s). */
  launchTimeoutMs?: number;
  /**
   * Launch a new browser for every lease and close it with the lease (the `polling-baseline` mode: how a
   * generic job queue runs a browser job). Default false: one shared browser, a fresh context per lease.
   */
  browserPerLease?: boolean;
  /** Called when the shared browser is launched again after a crash or disconnect (metrics). */
  onRestart?: (browserId: string) => void;
}

/** What the observability endpoint reports of the pool. */
export interface BrowserPoolState {
  /** `close()` was called. */
  closed: boolean;
  /** The shared browser is launched and connected (false before the first lease: it launches lazily). */
  connected: boolean;
  /** Browsers launched so far. */
  launches: number;
}

/** A page lease with its context (one fresh context per lease: no cookies shared between attempts). */
export interface BrowserLease extends PageLease {
  context: BrowserContext;
}

/** A {@link BrowserPool} whose leases also expose their context. */
export interface ChromiumPool extends BrowserPool {
  acquire(): Promise<BrowserLease>;
  /** The pool's state now (no I/O). */
  state(): BrowserPoolState;
}

/** Chromium flags: this machine has no network, so no background traffic, updates, first-run or sync. */
const CHROMIUM_ARGS: readonly string[] = [
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** Launches Chromium with reservd's arguments. */
function launchChromium(options: BrowserPoolOptions): Promise<Browser> {
  return chromium.launch({
    executablePath: options.executablePath,
    headless: options.headless,
    args: [...CHROMIUM_ARGS],
    timeout: options.launchTimeoutMs ?? 30_000,
    // reservd owns the stop sequence: in-flight bookings keep their browser through the grace period
    // and the pool closes it last. Playwright's defaults would close Chromium on the first SIGTERM.
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
  });
}

/** A fresh context of `browser` as a lease: its page opened on demand; `release` closes it, then `closeOwn`. */
async function lendContext(browser: Browser, browserId: string, closeOwn: () => Promise<void>) {
  const lent: BrowserContext = await browser.newContext();
  let closed = false;
  lent.on('close', () => {
    closed = true;
  });
  let opening: Promise<Page> | null = null;
  let released: Promise<void> | null = null;
  const release = (): Promise<void> => (released ??= lent.close().catch(() => undefined).then(closeOwn));
  return {
    context: lent,
    request: lent.request,
    page: () => (opening ??= lent.newPage()),
    isClosed: () => closed || !browser.isConnected(),
    browserId,
    release,
  };
}

/**
 * Creates a pool that launches ONE Chromium lazily (on the first `acquire`), relaunches it when it has
 * crashed or disconnected, and lends a fresh context per `acquire` (its page opened on demand). `browserId` is
 * `chromium-<launch number>`. No I/O until `acquire`. With `browserPerLease` every lease gets its own
 * browser instead, closed by `release()`.
 *
 * `acquire` rejects after `close()` or when the launch fails. `close()` closes the browser (and so every
 * lent context); safe to call twice.
 */
export function createBrowserPool(options: BrowserPoolOptions): ChromiumPool {
  const { executablePath, headless, logger } = options;
  let launches = 0;
  let current: { browser: Browser; browserId: string } | null = null;
  let launching: Promise<{ browser: Browser; browserId: string }> | null = null;
  let closed = false;
  let closing: Promise<void> | null = null;
  let sharedLaunched = false;

  /** Browsers launched for one lease each (`browserPerLease`), closed with their lease or the pool. */
  const perLease = new Set<Browser>();

  const launch = async (shared: boolean): Promise<{ browser: Browser; browserId: string }> => {
    const browserId = `chromium-${++launches}`;
    // A shared launch after one that connected is a restart (the first lazy launch is not).
    if (shared && sharedLaunched) options.onRestart?.(browserId);
    if (shared) sharedLaunched = true;
    const browser = await launchChromium(options);
    const entry = { browser, browserId };
    if (shared) {
      browser.on('disconnected', () => {
        if (current === entry) current = null;
        if (!closed) logger.warn({ browser_id: browserId }, 'browser disconnected; the next page relaunches it');
      });
    }
    logger.info({ browser_id: browserId, version: browser.version(), executable: executablePath }, 'browser launched');
    if (closed) {
      await browser.close().catch(() => undefined);
      throw new Error('browser pool is closed');
    }
    if (shared) current = entry;
    return entry;
  };

  const ensureBrowser = async (): Promise<{ browser: Browser; browserId: string }> => {
    if (current?.browser.isConnected()) return current;
    launching ??= launch(true).finally(() => {
      launching = null;
    });
    return launching;
  };

  return {
    async acquire() {
      if (closed) throw new Error('browser pool is closed');
      const own = options.browserPerLease === true;
      const { browser, browserId } = own ? await launch(false) : await ensureBrowser();
      if (own) perLease.add(browser);
      const closeOwn = async (): Promise<void> => {
        if (!own) return;
        perLease.delete(browser);
        await browser.close().catch(() => undefined);
      };
      try {
        return await lendContext(browser, browserId, closeOwn);
      } catch (err) {
        await closeOwn();
        throw err;
      }
    },
    state: () => ({ closed, connected: current?.browser.isConnected() ?? false, launches }),
    close() {
      closed = true;
      closing ??= (async () => {
        await launching?.catch(() => undefined);
        const entry = current;
        current = null;
        await Promise.all([...perLease].map((b) => b.close().catch(() => undefined)));
        perLease.clear();
        if (entry) await entry.browser.close();
      })();
      return closing;
    },
  };
}

/**
 * Launches `executablePath` headless with the pool's arguments, reads its version and closes it (`reservd
 * doctor`). @returns the browser's version, e.g. "131.0.6778.204".
 * @throws playwright's error when it does not start within `launchTimeoutMs`.
 */
export async function launchChromiumVersion(executablePath: string, launchTimeoutMs: number): Promise<string> {
  const browser = await chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS], timeout: launchTimeoutMs });
  try {
    return browser.version();
  } finally {
    await browser.close().catch(() => undefined);
  }
}
