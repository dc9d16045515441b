import type { Page } from 'playwright-core';
import { DEFAULT_ALLOWED_HOSTS, DEFAULT_REQUEST_BUDGET } from '../../config/schema.js';
import { systemClock, type Clock } from '../../clock.js';
import type { FlowResult, PageLease, SlotFlow } from '../flow.js';
import { createTimer, NOT_HELD_MESSAGE, type AcuityClient } from './acuity-common.js';
import { installRequestGuard, type GuardLogger, type RequestGuard } from './acuity-spa-guard.js';
import { openSlot, siteChanged, type OpenOptions } from './acuity-spa-open.js';
import { outcomeOfAnswer, type SpaAnswer, type SpaOutcome } from './acuity-spa-outcome.js';
import { awaitBookingAnswer, clickTargetTime, fillForm, formHolds, SPA_HOOKS, waitForApp, type SpaView } from './acuity-spa-page.js';
import { acuitySpaCalendarUrl, acuitySpaSlotUrl, checkAcuitySpaTarget, type AcuitySpaTarget } from './acuity-spa-target.js';
import { checkByLookup, confirmRoute, guardAfterClick, reportAnswer, routedHash } from './acuity-spa-answer.js';
import { mapFlowError } from './map-flow-error.js';
import { createRequestBudget, type RequestBudget } from './request-budget.js';

/**
 * The Acuity single-page-app flow: books through the real page as one person does. The server's HTML is an
 * empty shell; the app renders the calendar or the form from XHRs, and the page's own scripts (captcha
 * included) send the booking. No stealth, no forged XHRs: the flow only navigates, clicks and types.
 */

export type { AcuitySpaTarget } from './acuity-spa-target.js';

/** A prepared attempt: the lease's page sits on the court's direct-slot URL (form or calendar). */
export interface AcuitySpaHandle {
  readonly lease: PageLease;
  readonly target: AcuitySpaTarget;
  /** The direct-slot URL (raw colons). */
  readonly url: string;
  /** The court's calendar route, reloaded at submit when the form is not shown. */
  readonly calendarUrl: string;
  /** What the page showed after prepare (`missing`: hooks absent), or null when navigation failed. */
  readonly preparedView: SpaView | null;
  /** Why prepare failed (submit navigates again), else null. */
  readonly prepareError: string | null;
  /** `prepare_ms`. */
  readonly timingsMs: Readonly<Record<string, number>>;
  /** The page's request guard (null when the page could not be opened at all). */
  readonly guard: RequestGuard | null;
  /** The venue's request budget, shared by every page of the venue in this flow (one daemon). */
  readonly budget: RequestBudget;
}

/** Options of {@link createAcuitySpaFlow}. */
export interface AcuitySpaFlowOptions {
  /** Clock of the phase timings and time budgets (default the system clock). */
  clock?: Clock;
  /** How long each stable hook may take to appear before the page counts as changed (default 5000 ms: a busy host renders slowly). */
  hookTimeoutMs?: number;
  /** Budget of one navigation to the direct-slot URL, until its response starts (default 15000 ms). */
  navigationTimeoutMs?: number;
  /** Who to pre-fill the form with when it shows at prepare time (submit fills with its own user anyway). */
  prefillUser?: AcuityClient;
  /** Where the request guard logs a host it stopped (once per host and flow); default none. */
  logger?: GuardLogger;
}

/** The options `submitAcuitySpa` and the page helpers share (budgets in ms). */
export type FlowOpts = { clock: Clock; hookTimeoutMs: number; navigationTimeoutMs: number };

/** The SPA flow: a {@link SlotFlow} whose `prepare` takes an {@link AcuitySpaTarget}. */
export type AcuitySpaFlow = Omit<SlotFlow<AcuitySpaHandle>, 'prepare'> & {
  /** `prefill`: who to pre-fill an early form with (default the `prefillUser` option). */
  prepare(lease: PageLease, target: AcuitySpaTarget, prefill?: AcuityClient): Promise<AcuitySpaHandle>;
};

/**
 * Brings the form up for `handle`: keeps it when shown, else loads the court's calendar route (a fresh times
 * XHR) and clicks the time by day column and text; a page that shows the form straight away is taken too.
 * Returns an outcome when there is nothing to submit (`not_open_yet`, `rate_limited`, `site_changed`), else
 * null.
 */
async function bringUpForm(page: Page, handle: AcuitySpaHandle, opts: OpenOptions): Promise<SpaOutcome | null> {
  // A form counts only on the venue's own origin: a page that went elsewhere is opened again (and reported).
  const onVenue = new URL(page.url()).origin === new URL(handle.target.baseUrl).origin;
  if (onVenue && (await page.locator(SPA_HOOKS.form).count()) > 0) return null;
  const opened = await openSlot(page, handle.calendarUrl, opts);
  if ('stopped' in opened) return opened.stopped;
  let { view } = opened;
  // The scheduler's shell without its picker yet is an app still rendering (a busy host, a slow times XHR): at
  // the fire it gets one more hook budget, sending nothing more, before the page counts as changed.
  if (view === 'missing' && (await page.locator(SPA_HOOKS.container).count()) > 0) view = await waitForApp(page, opts.hookTimeoutMs, opts.clock);
  if (view === 'missing') return siteChanged(opened.missingReason ?? `no ${SPA_HOOKS.container} with a time picker or form at ${handle.calendarUrl}`);
  if (view === 'form') return null;
  const { date, time } = handle.target;
  if (!(await clickTargetTime(page, handle.target, opts.hookTimeoutMs))) {
    return { outcome: 'not_open_yet', confirmationCode: null, message: `${date} ${time} is not offered on the calendar yet` };
  }
  const shown = await page.locator(SPA_HOOKS.form).waitFor({ state: 'attached', timeout: opts.hookTimeoutMs }).then(() => true, () => false);
  return shown ? null : siteChanged(`clicking ${date} ${time} did not show ${SPA_HOOKS.form}`);
}

/**
 * Creates the SPA flow. `prepare` opens the direct-slot URL, waits for the app (never a page `load`) and
 * pre-fills an early form; it never throws (`preparedView` / `prepareError` say what happened). `submit`
 * never throws either: see {@link submitAcuitySpa}.
 */
export function createAcuitySpaFlow(options: AcuitySpaFlowOptions = {}): AcuitySpaFlow {
  const opts: FlowOpts = {
    clock: options.clock ?? systemClock,
    hookTimeoutMs: options.hookTimeoutMs ?? 5000,
    navigationTimeoutMs: options.navigationTimeoutMs ?? 15_000,
  };
  // One budget per venue (origin + owner key) for every reservation this flow (one per daemon) books.
  const budgets = new Map<string, RequestBudget>();
  const budgetOf = (target: AcuitySpaTarget): RequestBudget => {
    const key = `${new URL(target.baseUrl).origin} ${target.ownerKey}`;
    let budget = budgets.get(key);
    if (!budget) budgets.set(key, (budget = createRequestBudget(target.requestBudget ?? DEFAULT_REQUEST_BUDGET)));
    return budget;
  };
  const guards = new WeakMap<Page, Promise<RequestGuard>>();
  const loggedHosts = new Set<string>();
  const guardOf = async (page: Page, target: AcuitySpaTarget, budget: RequestBudget): Promise<RequestGuard> => {
    const venue = {
      venueOrigin: new URL(target.baseUrl).origin, allowedHosts: target.allowedHosts ?? DEFAULT_ALLOWED_HOSTS, allowedPostHosts: target.allowedPostHosts ?? [], budget,
    };
    const known = guards.get(page);
    if (known) {
      const guard = await known;
      await guard.use(venue);
      return guard;
    }
    const installing = installRequestGuard(page, { ...venue, clock: opts.clock, loggedHosts, ...(options.logger ? { logger: options.logger } : {}) });
    guards.set(page, installing);
    installing.catch(() => guards.delete(page));
    return installing;
  };
  return {
    name: 'acuity-spa',
    async prepare(lease, target, prefill = options.prefillUser) {
      checkAcuitySpaTarget(target);
      const timer = createTimer(opts.clock);
      const url = acuitySpaSlotUrl(target);
      const budget = budgetOf(target);
      let preparedView: SpaView | null = null;
      let prepareError: string | null = null;
      let guard: RequestGuard | null = null;
      try {
        const page = await lease.page();
        guard = await guardOf(page, target, budget);
        if (prefill) guard.protect(prefill);
        const opened = await openSlot(page, url, { ...opts, guard, budget });
        // Stopped at prepare (a 429, the budget, another host): submit opens the calendar again and reports it if it is still so.
        preparedView = 'stopped' in opened ? null : opened.view;
        if ('stopped' in opened) prepareError = opened.stopped.message;
        if (preparedView === 'form' && prefill) await fillForm(page, prefill, opts.hookTimeoutMs);
      } catch (err) {
        prepareError = mapFlowError(err).message;
      }
      timer.lap('prepare');
      return { lease, target, url, calendarUrl: acuitySpaCalendarUrl(target), preparedView, prepareError, timingsMs: { ...timer.timingsMs }, guard, budget };
    },
    submit: async (handle, args) => {
      const guard = handle.guard ?? (await handle.lease.page().then((page) => guardOf(page, handle.target, handle.budget)).catch(() => null));
      return submitAcuitySpa(handle, args, opts, guard);
    },
  };
}

/**
 * Fills and submits a prepared attempt. Without the form (a prepare that found the hooks missing included:
 * the page is looked at once more, and still without them it is `site_changed` within one hook budget) on the page it loads the calendar route and clicks the time by date AND time (absent → `not_open_yet`, nothing sent). Fills, AWAITS
 * `onBeforeSubmit` (false → `interrupted`, a throw → `error`; nothing sent either way), then clicks
 * "Confirmar cita" with the answer waiters registered before the click, and maps the booking XHR's answer
 * (`outcomeOfAnswer`). A 2xx answer carrying a 32-hex hash is handed to `onAnswer` first (awaited; a throw
 * is ignored), before the hash is checked against the target and the confirmation route, so the caller can
 * store it while the outcome is open. `submitted` is true from the click on (false again when the request
 * guard kept the booking POST from leaving the browser); no answer within `timeoutMs` after the click →
 * `timeout`. What the page's `guard` saw decides first: another host → `site_changed` naming it, the venue's
 * request budget spent → `rate_limited` (`guardAfterClick`). A 2xx answer too large to read is judged by the
 * confirmation route's hash and the site's look-up of it. Timings: `open_ms`, `fill_ms`, `before_submit_ms`,
 * `submit_to_result_ms`, `total_ms`.
 */
export async function submitAcuitySpa(
  handle: AcuitySpaHandle,
  args: { user: AcuityClient; onBeforeSubmit: () => Promise<boolean>; timeoutMs: number; onAnswer?: (hash: string) => Promise<void> | void },
  opts: FlowOpts,
  guard: RequestGuard | null,
): Promise<FlowResult> {
  const timer = createTimer(opts.clock);
  let submitted = false;
  const done = (r: SpaOutcome & { notSent?: boolean }): FlowResult => {
    const { notSent, ...outcome } = r;
    return { ...outcome, submitted: submitted && notSent !== true, timingsMs: { ...handle.timingsMs, ...timer.finish() } };
  };
  // A page without the app's hooks at prepare (or one still loading on a busy host) is looked at once more:
  // `bringUpForm` reloads the calendar and answers site_changed within one more hook budget if they are still missing.
  try {
    if (guard === null) return done(siteChanged('the page could not be guarded (closed?); nothing is sent'));
    guard.protect(args.user);
    const page = await handle.lease.page();
    const early = await bringUpForm(page, handle, { ...opts, guard, budget: handle.budget });
    if (early) return done(early);
    timer.lap('open');
    if (!(await formHolds(page, args.user))) {
      const filled = await fillForm(page, args.user, opts.hookTimeoutMs).then(() => null, (err: unknown) => mapFlowError(err).message);
      if (filled !== null) return done(siteChanged(`the form could not be filled: ${filled}`));
    }
    timer.lap('fill');
    try {
      if (!(await args.onBeforeSubmit())) return done({ outcome: 'interrupted', confirmationCode: null, message: NOT_HELD_MESSAGE });
    } catch (err) {
      return done({ outcome: 'error', confirmationCode: null, message: `not submitted: onBeforeSubmit failed: ${mapFlowError(err).message}` });
    }
    timer.lap('before_submit');
    const alertBox = page.locator(SPA_HOOKS.alert).first();
    const staleAlert = (await alertBox.count()) > 0 ? ((await alertBox.textContent()) ?? '').trim() : null;
    const answer = awaitBookingAnswer(page, Math.max(1, args.timeoutMs), staleAlert);
    const clickMark = guard.mark();
    submitted = true;
    // A click that timed out may still have been delivered: the answer, if one comes, decides.
    const clickError = await page.locator(SPA_HOOKS.confirm).click({ timeout: opts.hookTimeoutMs }).then(() => null, (err: unknown) => err);
    const seen = await answer;
    timer.lap('submit_to_result');
    const stopped = guardAfterClick(guard.since(clickMark), seen, handle.budget, opts.clock.now());
    if (stopped) return done(stopped);
    if (seen === null && clickError !== null) throw clickError;
    if (seen === null) return done({ outcome: 'timeout', confirmationCode: null, message: `no answer within ${args.timeoutMs} ms after "Confirmar cita"` });
    if (seen.kind === 'response' && seen.oversizedBytes !== undefined && (seen.status === 200 || seen.status === 201)) {
      return done(await bookedFromRoute(page, seen, handle.target, args, opts));
    }
    await reportAnswer(seen, args.onAnswer);
    const routed = await confirmRoute(page, outcomeOfAnswer(seen, handle.target, opts.clock.now(), args.user));
    return done(await checkByLookup(routed, handle.target, args.user, opts));
  } catch (err) {
    return done({ ...mapFlowError(err), confirmationCode: null });
  }
}

/**
 * A 2xx booking answer too large to read: the app's confirmation route names the hash (handed to `onAnswer`),
 * and only the site's look-up by that hash can make it `booked` (a failed look-up → `unknown`: the site may
 * hold the booking, and reconciliation looks the hash up again). No route → `unknown`.
 */
async function bookedFromRoute(
  page: Page, seen: SpaAnswer, target: AcuitySpaTarget, args: { user: AcuityClient; onAnswer?: (hash: string) => Promise<void> | void }, opts: FlowOpts,
): Promise<SpaOutcome> {
  const unread = outcomeOfAnswer(seen, target, opts.clock.now(), args.user);
  const hash = await routedHash(page);
  if (hash === undefined) return unread;
  await reportAnswer(hash, args.onAnswer);
  return checkByLookup({ outcome: 'booked', confirmationCode: hash, message: null }, target, args.user, { clock: opts.clock, lookupFailed: unread });
}
