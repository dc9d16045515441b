import type { FlowResult } from '../flow.js';
import { createTimer, NOT_HELD_MESSAGE, type AcuityHandle, type AcuitySubmitArgs } from './acuity-handle.js';
import { ACUITY_CLIENT_INPUTS, outcomeAfterSubmit, outcomeBeforeSubmit, readAcuityPage } from './acuity-page.js';
import { mapFlowError } from './map-flow-error.js';

/**
 * The rendered Acuity submit (the fallback mode, and how a person sees it): fill `client.*` in the page,
 * await the caller's intent write, press "Confirm Appointment" and read the result page. Slow at the fire
 * instant (a page render, ≈ 470–690 ms against the sandbox on 127.0.0.1); the request mode
 * (`acuity-request.ts`) is the default.
 */

/**
 * Submits a prepared attempt through the rendered page. Reloads the direct link when the form is not on the
 * page (prepared before the release, or prepare failed); returns `not_open_yet` / `slot_taken` /
 * `site_blocked` / `site_changed` without submitting when the page says so. Otherwise fills the four fields,
 * AWAITS `onBeforeSubmit` (never clicks before it resolves), clicks confirm and reads the result page.
 *
 * `submitted` is true from the moment the click is attempted: the site may have taken the booking even
 * when the result is `timeout` or `error`. Timings: `reload_ms`, `fill_ms`, `before_submit_ms`,
 * `submit_to_result_ms`, `total_ms` (plus the handle's `prepare_ms`). Never throws.
 */
export async function submitAcuityRendered(handle: AcuityHandle, args: AcuitySubmitArgs): Promise<FlowResult> {
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
    const page = await handle.browser.page();
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
    for (const [i, name] of ACUITY_CLIENT_INPUTS.entries()) {
      await page.fill(`#booking-form [name="${name}"]`, values[i] ?? '', { timeout: remainingMs() });
    }
    timer.lap('fill');
    try {
      if (!(await args.onBeforeSubmit())) return done({ outcome: 'interrupted', message: NOT_HELD_MESSAGE });
    } catch (err) {
      return done({ outcome: 'error', message: `not submitted: onBeforeSubmit failed: ${mapFlowError(err).message}` });
    }
    timer.lap('before_submit');
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
    timer.lap('submit_to_result');
    return done(result);
  } catch (err) {
    return done(mapFlowError(err));
  }
}
