import type { Page } from 'playwright-core';
import type { Clock } from '../../clock.js';
import type { FlowResult, SlotFlow, SlotTarget } from '../flow.js';
import { outcomeAfterSubmit, outcomeBeforeSubmit, readAcuityPage, type AcuityPageSnapshot } from './acuity-page.js';
import { directSlotUrl } from './acuity-urls.js';
import { mapFlowError } from './map-flow-error.js';

/**
 * The Acuity Scheduling flow for ONE court attempt: open the slot's direct link (C10) ahead of time, then at
 * the fire instant fill `client.*`, await the caller's intent write, press "Confirm Appointment" and read
 * the result page. Expected outcomes are values (STYLE.md "Errors"); an unexpected exception goes through
 * {@link mapFlowError}.
 */

/** The person booked; `BookingUser` from `src/contracts/` fits. */
export interface AcuityClient {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}

/** A prepared attempt: the page sits on the slot's direct link. */
export interface AcuityHandle {
  readonly page: Page;
  readonly target: SlotTarget;
  /** Absolute direct-slot URL (C10 segment, percent-encoded). */
  readonly url: string;
  readonly clock: Clock | null;
  /** What the page showed after preparing, or null when navigation failed. */
  readonly preparedState: AcuityPageSnapshot['state'] | null;
  /** Why preparing failed (submit navigates again), else null. */
  readonly prepareError: string | null;
  /** `prepare` duration in ms (empty without a clock). */
  readonly timingsMs: Readonly<Record<string, number>>;
}

/** Arguments of {@link submitAcuityAttempt}. */
export interface AcuitySubmitArgs {
  user: AcuityClient;
  /** Awaited after filling and BEFORE the confirm click; when it throws nothing is submitted (`error`). */
  onBeforeSubmit: () => Promise<void>;
  /** Budget for the whole submit (reload, fill, confirm, result page), ms; measured on the clock if any. */
  timeoutMs: number;
  /** For `timingsMs` and the budget; defaults to the handle's clock. Without one, timings are empty. */
  clock?: Clock;
}

const DEFAULT_PREPARE_TIMEOUT_MS = 30_000;

function createTimer(clock: Clock | null) {
  const startMs = clock?.now() ?? 0;
  let lastMs = startMs;
  const timingsMs: Record<string, number> = {};
  return {
    timingsMs,
    lap(name: string): void {
      if (!clock) return;
      const nowMs = clock.now();
      timingsMs[name] = nowMs - lastMs;
      lastMs = nowMs;
    },
    elapsedMs: (): number => (clock ? clock.now() - startMs : 0),
    finish(): Record<string, number> {
      if (clock) timingsMs.total = clock.now() - startMs;
      return timingsMs;
    },
  };
}

/**
 * Opens the slot's direct link (`waitUntil: 'domcontentloaded'`) and returns a handle. A failed navigation
 * is kept in `prepareError` (submit navigates again), not thrown.
 *
 * @throws UnknownCourtError (court not in `venue.courts`) or SlotTimeError (slot in a DST gap): the
 *   request itself is wrong.
 */
export async function prepareAcuityAttempt(page: Page, target: SlotTarget, options: { clock?: Clock; timeoutMs?: number } = {}): Promise<AcuityHandle> {
  const url = directSlotUrl(target.venue, target.court, target.targetDate, target.targetTime);
  const clock = options.clock ?? null;
  const timer = createTimer(clock);
  let preparedState: AcuityHandle['preparedState'] = null;
  let prepareError: string | null = null;
  try {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: options.timeoutMs ?? DEFAULT_PREPARE_TIMEOUT_MS });
    preparedState = (await readAcuityPage(page)).state;
  } catch (err) {
    prepareError = mapFlowError(err).message;
  }
  timer.lap('prepare');
  return { page, target, url, clock, preparedState, prepareError, timingsMs: { ...timer.timingsMs } };
}

/**
 * Submits a prepared attempt. Reloads the direct link when the form is not on the page (prepared before the
 * release, or prepare failed); returns `not_open_yet` / `slot_taken` / `site_blocked` / `site_changed`
 * without submitting when the page says so. Otherwise fills the four fields, AWAITS `onBeforeSubmit`
 * (never clicks before it resolves), clicks confirm and reads the result page.
 *
 * `submitted` is true from the moment the click is attempted: the site may have taken the booking even
 * when the result is `timeout` or `error`. Never throws.
 */
export async function submitAcuityAttempt(handle: AcuityHandle, args: AcuitySubmitArgs): Promise<FlowResult> {
  const { page } = handle;
  const timer = createTimer(args.clock ?? handle.clock);
  const remainingMs = (): number => Math.max(1, args.timeoutMs - timer.elapsedMs());
  let submitted = false;
  const done = (r: Pick<FlowResult, 'outcome' | 'message'> & { confirmationCode?: string | null }): FlowResult => ({
    confirmationCode: null,
    ...r,
    submitted,
    timingsMs: { ...handle.timingsMs, ...timer.finish() },
  });
  try {
    let snapshot = await readAcuityPage(page).catch(() => null);
    let httpStatus: number | null = null;
    if (snapshot?.state !== 'form') {
      const response = await page.goto(handle.url, { waitUntil: 'domcontentloaded', timeout: remainingMs() });
      httpStatus = response?.status() ?? null;
      snapshot = await readAcuityPage(page);
      timer.lap('reload');
    }
    const early = outcomeBeforeSubmit(snapshot, httpStatus);
    if (early) return done(early);
    const values = [args.user.firstName, args.user.lastName, args.user.email, args.user.phone];
    for (const [i, name] of ['client.firstName', 'client.lastName', 'client.email', 'client.phone'].entries()) {
      await page.fill(`#booking-form [name="${name}"]`, values[i] ?? '', { timeout: remainingMs() });
    }
    timer.lap('fill');
    try {
      await args.onBeforeSubmit();
    } catch (err) {
      return done({ outcome: 'error', message: `not submitted: onBeforeSubmit failed: ${mapFlowError(err).message}` });
    }
    timer.lap('beforeSubmit');
    // Listen before clicking: the result document (confirmation or error page) is the next one to load.
    const loaded = page.waitForEvent('domcontentloaded', { timeout: remainingMs() }).then(
      () => null,
      (err: unknown) => err,
    );
    submitted = true;
    await page.click('#booking-form button.btn-confirm', { timeout: remainingMs() });
    const loadError = await loaded;
    if (loadError) throw loadError;
    const result = outcomeAfterSubmit(await readAcuityPage(page), args.user);
    timer.lap('submitToResult');
    return done(result);
  } catch (err) {
    return done(mapFlowError(err));
  }
}

/**
 * The Acuity flow as a {@link SlotFlow} whose prepare and submit time themselves on `clock`
 * (`timingsMs`: prepare, reload, fill, beforeSubmit, submitToResult, total).
 */
export function createAcuityFlow(options: { clock: Clock; prepareTimeoutMs?: number }): SlotFlow<AcuityHandle> {
  return {
    name: 'acuity',
    prepare: (page, target) => prepareAcuityAttempt(page, target, { clock: options.clock, timeoutMs: options.prepareTimeoutMs ?? DEFAULT_PREPARE_TIMEOUT_MS }),
    submit: (handle, args) => submitAcuityAttempt(handle, { ...args, clock: options.clock }),
  };
}
