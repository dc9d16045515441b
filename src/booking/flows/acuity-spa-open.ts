import type { Page, Response } from 'playwright-core';
import type { Clock } from '../../clock.js';
import type { GuardEvent, RequestGuard } from './acuity-spa-guard.js';
import { rateLimited, type SpaOutcome } from './acuity-spa-outcome.js';
import { notSchedulerReason, waitForApp, type SpaView } from './acuity-spa-page.js';
import type { RequestBudget } from './request-budget.js';

/**
 * Opening a scheduler page under the request guard: the navigation, the app's hooks, and what the guard saw
 * meanwhile (a navigation or a redirect to another host, a spent request budget), turned into outcomes.
 */

/** `site_changed` with `what`. */
export const siteChanged = (what: string): SpaOutcome => ({ outcome: 'site_changed', confirmationCode: null, message: `site changed: ${what}` });

/**
 * What opening a page gave: the app's view (`missing` with why the page is not the scheduler), or an outcome
 * that ends the attempt (`rate_limited`, `site_changed`).
 */
export type Opened = { view: SpaView; missingReason?: string } | { stopped: SpaOutcome };

/** The path of the times XHR the calendar loads. */
const TIMES_PATH = '/api/scheduling/v1/availability/times';

/** What `openSlot` needs. */
export interface OpenOptions {
  navigationTimeoutMs: number;
  hookTimeoutMs: number;
  clock: Clock;
  guard: RequestGuard;
  budget: RequestBudget;
}

/** `rate_limited` for a request the venue's budget refused, with the wait until the budget has room. */
export function budgetSpent(event: GuardEvent, budget: RequestBudget, nowMs: number): SpaOutcome {
  const { requests, perS } = budget.setting;
  const retryAfterMs = budget.retryAfterMs(nowMs);
  return {
    outcome: 'rate_limited', confirmationCode: null, retryAfterMs,
    message: `the venue's request budget (${requests} requests per ${perS} s, site.requestBudget) is spent: ${event.method} ${event.path} was not sent; room again in ${retryAfterMs} ms`,
  };
}

/**
 * The outcome the guard's `events` call for, or null: a main-frame navigation to another host or a redirect to
 * another host → `site_changed` naming the host; a request the budget refused → `rate_limited`. Requests to
 * other hosts the guard merely refused (a third-party script) end nothing.
 */
export function guardOutcome(events: readonly GuardEvent[], budget: RequestBudget, nowMs: number): SpaOutcome | null {
  const navigation = events.find((e) => e.kind === 'navigation');
  if (navigation) return siteChanged(`the page went to another host, ${navigation.host} (nothing is sent there)`);
  const redirect = events.find((e) => e.kind === 'redirect');
  if (redirect) return siteChanged(`the site redirected ${redirect.method} ${redirect.path} to another host, ${redirect.host} (not followed)`);
  const spent = events.find((e) => e.kind === 'budget');
  return spent ? budgetSpent(spent, budget, nowMs) : null;
}

/**
 * Navigates `page` to `url` (waiting only for the response to start) and waits for the app's hooks (one hook
 * budget). A 429 for the page, or for the first times XHR the app sends while it renders, is the site's rate
 * limit: returned as `rate_limited` with its `Retry-After` (a calendar without its times would read "not open
 * yet", and retrying that every 250 ms would only hammer a limit). What the guard saw meanwhile comes first
 * ({@link guardOutcome}); hooks missing → view `missing` with what the page is.
 */
export async function openSlot(page: Page, url: string, opts: OpenOptions): Promise<Opened> {
  const mark = opts.guard.mark();
  const guarded = (): Opened | null => {
    const outcome = guardOutcome(opts.guard.since(mark), opts.budget, opts.clock.now());
    return outcome === null ? null : { stopped: outcome };
  };
  let timesLimited: SpaOutcome | null = null;
  const onResponse = (r: Response): void => {
    if (timesLimited === null && r.status() === 429 && new URL(r.url()).pathname === TIMES_PATH) {
      timesLimited = rateLimited({ headers: r.headers() }, 'the times XHR', opts.clock.now());
    }
  };
  page.on('response', onResponse);
  try {
    const response = await page.goto(url, { waitUntil: 'commit', timeout: opts.navigationTimeoutMs }).catch((err: unknown) => {
      if (guarded() === null) throw err;
      return null;
    });
    if (response?.status() === 429) return { stopped: rateLimited({ headers: response.headers() }, `the page ${new URL(url).pathname}`, opts.clock.now()) };
    const early = guarded();
    if (early) return early;
    const view = await waitForApp(page, opts.hookTimeoutMs, opts.clock);
    const late = guarded();
    if (late) return late;
    if (timesLimited !== null) return { stopped: timesLimited };
    return view === 'missing' ? { view, missingReason: await notSchedulerReason(page, url) } : { view };
  } finally {
    page.off('response', onResponse);
  }
}
