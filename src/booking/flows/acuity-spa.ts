import type { Page, Response } from 'playwright-core';
import { systemClock, type Clock } from '../../clock.js';
import type { FlowResult, PageLease, SlotFlow } from '../flow.js';
import { createTimer, NOT_HELD_MESSAGE, type AcuityClient } from './acuity-common.js';
import { answerHash, outcomeOfAnswer, rateLimited, type SpaAnswer, type SpaOutcome } from './acuity-spa-outcome.js';
import { awaitBookingAnswer, clickTargetTime, fillForm, formHolds, SPA_HOOKS, waitForApp, type SpaView } from './acuity-spa-page.js';
import { lookupAppointmentsByHash } from './acuity-spa-lookup.js';
import { acuitySpaCalendarUrl, acuitySpaSlotUrl, bookedMismatch, checkAcuitySpaTarget, clientMismatch, type AcuitySpaTarget } from './acuity-spa-target.js';
import { mapFlowError } from './map-flow-error.js';

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
}

/** The SPA flow: a {@link SlotFlow} whose `prepare` takes an {@link AcuitySpaTarget}. */
export type AcuitySpaFlow = Omit<SlotFlow<AcuitySpaHandle>, 'prepare'> & {
  /** `prefill`: who to pre-fill an early form with (default the `prefillUser` option). */
  prepare(lease: PageLease, target: AcuitySpaTarget, prefill?: AcuityClient): Promise<AcuitySpaHandle>;
};

/** What opening a page gave: the app's view, or the site's 429 (for the page itself or its times XHR). */
type Opened = { view: SpaView } | { limited: SpaOutcome };

/** The path of the times XHR the calendar loads. */
const TIMES_PATH = '/api/scheduling/v1/availability/times';

/**
 * Navigates `page` to `url` (waiting only for the response to start) and waits for the app's hooks. A 429
 * for the page, or for the first times XHR the app sends while it renders, is the site's rate limit: it is
 * returned as `rate_limited` with its `Retry-After` (a calendar without its times would read "not open
 * yet", and retrying that every 250 ms would only hammer a limit).
 */
async function openSlot(page: Page, url: string, opts: { navigationTimeoutMs: number; hookTimeoutMs: number; clock: Clock }): Promise<Opened> {
  let timesLimited: SpaOutcome | null = null;
  const onResponse = (r: Response): void => {
    if (timesLimited === null && r.status() === 429 && new URL(r.url()).pathname === TIMES_PATH) {
      timesLimited = rateLimited({ headers: r.headers() }, 'the times XHR', opts.clock.now());
    }
  };
  page.on('response', onResponse);
  try {
    const response = await page.goto(url, { waitUntil: 'commit', timeout: opts.navigationTimeoutMs });
    if (response?.status() === 429) return { limited: rateLimited({ headers: response.headers() }, `the page ${new URL(url).pathname}`, opts.clock.now()) };
    const view = await waitForApp(page, opts.hookTimeoutMs);
    return timesLimited === null ? { view } : { limited: timesLimited };
  } finally {
    page.off('response', onResponse);
  }
}

const siteChanged = (what: string): SpaOutcome => ({ outcome: 'site_changed', confirmationCode: null, message: `site changed: ${what}` });

/**
 * Brings the form up for `handle`: keeps it when shown, else loads the court's calendar route (a fresh times
 * XHR) and clicks the time by day column and text; a page that shows the form straight away is taken too.
 * Returns an outcome when there is nothing to submit (`not_open_yet`, `rate_limited`, `site_changed`), else
 * null.
 */
async function bringUpForm(page: Page, handle: AcuitySpaHandle, opts: Required<Omit<AcuitySpaFlowOptions, 'prefillUser'>>): Promise<SpaOutcome | null> {
  if ((await page.locator(SPA_HOOKS.form).count()) > 0) return null;
  const opened = await openSlot(page, handle.calendarUrl, opts);
  if ('limited' in opened) return opened.limited;
  const { view } = opened;
  if (view === 'missing') return siteChanged(`no ${SPA_HOOKS.container} with a time picker or form at ${handle.calendarUrl}`);
  if (view === 'form') return null;
  const { date, time } = handle.target;
  if (!(await clickTargetTime(page, handle.target, opts.hookTimeoutMs))) {
    return { outcome: 'not_open_yet', confirmationCode: null, message: `${date} ${time} is not offered on the calendar yet` };
  }
  const shown = await page.locator(SPA_HOOKS.form).waitFor({ state: 'attached', timeout: opts.hookTimeoutMs }).then(() => true, () => false);
  return shown ? null : siteChanged(`clicking ${date} ${time} did not show ${SPA_HOOKS.form}`);
}

/** Budget of the look-up that checks a booked answer, ms. */
const CHECK_LOOKUP_MS = 3000;

/**
 * A booked answer checked as a member can, by looking the hash up (the confirmation page's own look-up):
 * listed, not cancelled, and the requested date, time, appointment type and calendar → stays `booked`;
 * anything else → `site_changed` with what the site lists (after a submit the executor records that
 * `unknown`, and reconciliation looks the hash up again). A look-up that fails or times out keeps `booked`:
 * the booking answer is the site's own word, already checked against the target.
 */
async function checkByLookup(result: SpaOutcome, target: AcuitySpaTarget, client: AcuityClient, opts: { clock: Clock }): Promise<SpaOutcome> {
  if (result.outcome !== 'booked' || result.confirmationCode === null) return result;
  const hash = result.confirmationCode;
  const timedOut = new AbortController();
  const finished = new AbortController();
  void opts.clock.sleep(CHECK_LOOKUP_MS, finished.signal).then(() => {
    if (!finished.signal.aborted) timedOut.abort();
  }, () => undefined);
  let listed: Awaited<ReturnType<typeof lookupAppointmentsByHash>>;
  try {
    listed = await lookupAppointmentsByHash({ baseUrl: target.baseUrl, ownerKey: target.ownerKey, hashes: [hash] }, timedOut.signal);
  } catch {
    return result;
  } finally {
    finished.abort();
  }
  const found = listed.find((a) => a.hash === hash);
  if (!found) return { ...siteChanged(`the site does not list the appointment ${hash} it just confirmed`), confirmationCode: null };
  if (found.canceled) return { ...siteChanged(`the site lists the appointment ${hash} it just confirmed as cancelled`), confirmationCode: null };
  const mismatch = bookedMismatch(found, target) ?? clientMismatch(found, client);
  return mismatch ? { ...siteChanged(`looked up by its hash: ${mismatch}; hash ${hash}`), confirmationCode: null } : result;
}

/** The outcome after a 200: also the confirmation route, when the app has moved there, must name the same hash. */
async function confirmRoute(page: Page, result: SpaOutcome): Promise<SpaOutcome> {
  if (result.outcome !== 'booked' || result.confirmationCode === null) return result;
  await page.waitForURL(/\/confirmation\/[0-9a-f]{32}(\?|$)/, { timeout: 2000 }).catch(() => undefined);
  const routed = /\/confirmation\/([0-9a-f]{32})(\?|$)/.exec(page.url())?.[1];
  if (routed === undefined || routed === result.confirmationCode) return result;
  return { ...siteChanged(`the answer's hash ${result.confirmationCode} differs from the route's ${routed}`), confirmationCode: null };
}

/**
 * Hands the hash of a 2xx booking answer to `onAnswer` (awaited). Never throws: storing the hash is the
 * caller's business, and the flow's outcome must not depend on it.
 */
async function reportAnswer(seen: SpaAnswer, onAnswer: ((hash: string) => Promise<void> | void) | undefined): Promise<void> {
  const hash = answerHash(seen);
  if (hash === null || !onAnswer) return;
  try {
    await onAnswer(hash);
  } catch {
    // The caller logs its own failures (the attempt port retries and logs); the answer stands.
  }
}

/**
 * Creates the SPA flow. `prepare` opens the direct-slot URL, waits for the app (never a page `load`) and
 * pre-fills an early form; it never throws (`preparedView` / `prepareError` say what happened). `submit`
 * never throws either: see {@link submitAcuitySpa}.
 */
export function createAcuitySpaFlow(options: AcuitySpaFlowOptions = {}): AcuitySpaFlow {
  const opts = {
    clock: options.clock ?? systemClock,
    hookTimeoutMs: options.hookTimeoutMs ?? 5000,
    navigationTimeoutMs: options.navigationTimeoutMs ?? 15_000,
  };
  return {
    name: 'acuity-spa',
    async prepare(lease, target, prefill = options.prefillUser) {
      checkAcuitySpaTarget(target);
      const timer = createTimer(opts.clock);
      const url = acuitySpaSlotUrl(target);
      let preparedView: SpaView | null = null;
      let prepareError: string | null = null;
      try {
        const page = await lease.page();
        const opened = await openSlot(page, url, opts);
        // A 429 at prepare: submit opens the calendar again (and reports the limit if it is still there).
        preparedView = 'limited' in opened ? null : opened.view;
        if ('limited' in opened) prepareError = opened.limited.message;
        if (preparedView === 'form' && prefill) await fillForm(page, prefill, opts.hookTimeoutMs);
      } catch (err) {
        prepareError = mapFlowError(err).message;
      }
      timer.lap('prepare');
      return { lease, target, url, calendarUrl: acuitySpaCalendarUrl(target), preparedView, prepareError, timingsMs: { ...timer.timingsMs } };
    },
    submit: (handle, args) => submitAcuitySpa(handle, args, opts),
  };
}

/**
 * Fills and submits a prepared attempt. Without the form (a prepare that found the hooks missing included:
 * the page is looked at once more, and still without them it is `site_changed` within one hook budget) on the page it loads the calendar route and clicks the time by date AND time (absent → `not_open_yet`, nothing sent). Fills, AWAITS
 * `onBeforeSubmit` (false → `interrupted`, a throw → `error`; nothing sent either way), then clicks
 * "Confirmar cita" with the answer waiters registered before the click, and maps the booking XHR's answer
 * (`outcomeOfAnswer`). A 2xx answer carrying a 32-hex hash is handed to `onAnswer` first (awaited; a throw
 * is ignored), before the hash is checked against the target and the confirmation route, so the caller can
 * store it while the outcome is open. `submitted` is true from the click on; no answer within `timeoutMs` after the click
 * → `timeout`. Timings: `open_ms`, `fill_ms`, `before_submit_ms`, `submit_to_result_ms`, `total_ms`.
 */
export async function submitAcuitySpa(
  handle: AcuitySpaHandle,
  args: { user: AcuityClient; onBeforeSubmit: () => Promise<boolean>; timeoutMs: number; onAnswer?: (hash: string) => Promise<void> | void },
  opts: Required<Omit<AcuitySpaFlowOptions, 'prefillUser'>>,
): Promise<FlowResult> {
  const timer = createTimer(opts.clock);
  let submitted = false;
  const done = (r: SpaOutcome): FlowResult => ({ ...r, submitted, timingsMs: { ...handle.timingsMs, ...timer.finish() } });
  // A page without the app's hooks at prepare (or one still loading on a busy host) is looked at once more:
  // `bringUpForm` reloads the calendar and answers site_changed within one more hook budget if they are still missing.
  try {
    const page = await handle.lease.page();
    const early = await bringUpForm(page, handle, opts);
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
    submitted = true;
    // A click that timed out may still have been delivered: the answer, if one comes, decides.
    const clickError = await page.locator(SPA_HOOKS.confirm).click({ timeout: opts.hookTimeoutMs }).then(() => null, (err: unknown) => err);
    const seen = await answer;
    if (seen === null && clickError !== null) throw clickError;
    timer.lap('submit_to_result');
    if (seen === null) return done({ outcome: 'timeout', confirmationCode: null, message: `no answer within ${args.timeoutMs} ms after "Confirmar cita"` });
    await reportAnswer(seen, args.onAnswer);
    const routed = await confirmRoute(page, outcomeOfAnswer(seen, handle.target, opts.clock.now(), args.user));
    return done(await checkByLookup(routed, handle.target, args.user, opts));
  } catch (err) {
    return done({ ...mapFlowError(err), confirmationCode: null });
  }
}
