import type { APIRequestContext } from 'playwright-core';
import type { FlowResult } from '../flow.js';
import { createTimer, NOT_HELD_MESSAGE, type AcuityHandle, type AcuitySubmitArgs } from './acuity-handle.js';
import { encodeAcuityForm, parseAcuityHtml, type AcuityForm, type AcuityHtmlPage } from './acuity-html.js';
import { outcomeAfterSubmit, outcomeBeforeSubmit } from './acuity-page.js';
import { confirmationPath } from './acuity-urls.js';
import { mapFlowError } from './map-flow-error.js';

/**
 * The request Acuity submit (the default mode): at the fire instant the work is one or two HTTP requests
 * through the page's own request context (`page.request`: the context's cookies, user agent and
 * connection), not a page render (measured against the sandbox on 127.0.0.1: ≈ 8 ms per request against
 * ≈ 470–690 ms for navigate + fill + click; docs/timing.md).
 *
 *   GET direct-slot page → parse (`acuity-html.ts`) → await onBeforeSubmit → POST the form → 303 →
 *   GET the confirmation → code.
 *
 * The site stays in charge: the form and its single-use `form_token` come from the page the site serves
 * once the slot is open, and the site checks the release on its own clock.
 */

/** Extra options of {@link submitAcuityRequest}. */
export interface AcuityRequestOptions {
  /**
   * After a booking, also navigate the page to the confirmation (for a person watching a headed browser).
   * Runs after the outcome is known, never before the POST; its failure does not change the outcome.
   * Default false.
   */
  showConfirmation?: boolean;
}

/**
 * Once the site answered "booked" (a redirect to its confirmation page), reading the code gets at least this
 * long even when the submit's budget is spent: the booking is held either way, and a code read a little
 * late beats an unknown outcome that needs a person.
 */
export const CONFIRMATION_READ_MIN_MS = 1_000;

type Answer = Pick<FlowResult, 'outcome' | 'message'> & { confirmationCode?: string | null; confirmUrl?: string };

/** GETs `url` (redirects followed) and parses the body of where it ended. */
async function getPage(request: APIRequestContext, url: string, timeoutMs: number): Promise<{ status: number; page: AcuityHtmlPage; url: string }> {
  const response = await request.get(url, { timeout: timeoutMs, failOnStatusCode: false, headers: { accept: 'text/html' } });
  return { status: response.status(), page: parseAcuityHtml(await response.text(), response.url()), url: response.url() };
}

/**
 * Reads the site's answer to the booking POST. A redirect is followed with one GET (the confirmation page
 * carries the code); any other answer is classified from its body. `bad_token` is returned as such so the
 * caller can retry with a fresh form.
 */
async function readAnswer(
  handle: AcuityHandle,
  args: AcuitySubmitArgs,
  response: { status: number; location: string | undefined; body: () => Promise<string> },
  actionUrl: string,
  remainingMs: () => number,
): Promise<Answer | 'bad_token'> {
  const { status } = response;
  if (status >= 300 && status < 400) {
    if (!response.location) return { outcome: 'site_changed', message: `the booking POST answered HTTP ${status} without a location` };
    const confirmUrl = new URL(response.location, actionUrl).href;
    const isConfirmation = new URL(confirmUrl).pathname.startsWith(confirmationPath(handle.target.venue.site.slug, ''));
    try {
      const confirm = await getPage(handle.browser.request, confirmUrl, Math.max(remainingMs(), CONFIRMATION_READ_MIN_MS));
      const result = outcomeAfterSubmit(confirm.page, args.user);
      if (result.outcome !== 'site_changed') return { ...result, confirmUrl };
      const what = isConfirmation ? 'its confirmation page' : `${confirmUrl}`;
      return { ...result, message: `the site accepted the booking POST (HTTP ${status}) but ${what} (HTTP ${confirm.status}, "${confirm.page.title}") shows no confirmation code` };
    } catch (err) {
      if (!isConfirmation) throw err;
      // The redirect itself says "booked"; only the code is missing. The executor treats this as an unknown
      // outcome (needs_attention), and the message names the appointment.
      return { outcome: 'booked', confirmationCode: null, message: `the site accepted the booking (HTTP ${status} → ${response.location}) but its confirmation page could not be read: ${mapFlowError(err).message}` };
    }
  }
  const page = parseAcuityHtml(await response.body(), actionUrl);
  if (page.state === 'bad_token') return 'bad_token';
  const result = outcomeAfterSubmit(page, args.user);
  if (result.outcome !== 'site_changed') return result;
  return { ...result, message: `the booking POST answered HTTP ${status} with "${page.title}" (${page.state}): neither a confirmation nor a known error` };
}

/**
 * Submits a prepared attempt with HTTP requests through `handle.browser.request` (the context's):
 * 1. the form: the one kept by `prepare` if the slot was already open then (no request), else a GET of the
 *    direct-slot page; a page without the form ends here, nothing sent (`not_open_yet`, `slot_taken`,
 *    `site_blocked`, or `site_changed` naming what is missing);
 * 2. AWAITS `onBeforeSubmit` (the intent row) — no POST leaves before it resolves;
 * 3. POSTs the form as a browser would (every control, `client.*` set from `args.user`), redirects not followed;
 * 4. 303 → GETs the confirmation for the code (`booked`); 409 `slot_taken` / `not_open_yet`; 400 field
 *    errors → `error` with the messages; a refused form token → once more with a fresh GET (no second
 *    `onBeforeSubmit`: the intent is already written); a block page → `site_blocked`; else `site_changed`.
 *
 * Each request gets what is left of `timeoutMs` (the confirmation read at least
 * {@link CONFIRMATION_READ_MIN_MS}); a budget spent before the POST sends nothing (`timeout`, not
 * submitted). `submitted` is true from the moment the first POST is sent: a `timeout` or `error` after it
 * is an unknown outcome. Timings (ms): `get_ms`, `before_submit_ms`, `post_ms`, `confirm_ms` (reading the
 * answer, i.e. the confirmation GET after a redirect), `retry_get_ms` and `retry_post_ms` after a refused
 * token, `show_ms` with `showConfirmation`, `total_ms`; plus the handle's `prepare_ms`, `warm_ms`.
 * Never throws.
 */
export async function submitAcuityRequest(handle: AcuityHandle, args: AcuitySubmitArgs & AcuityRequestOptions): Promise<FlowResult> {
  const timer = createTimer(args.clock ?? handle.clock);
  const remainingMs = (): number => Math.max(1, args.timeoutMs - timer.elapsedMs());
  const request = handle.browser.request;
  const client = { 'client.firstName': args.user.firstName, 'client.lastName': args.user.lastName, 'client.email': args.user.email, 'client.phone': args.user.phone };
  // What a browser sends with a form POST; sites that check Origin/Referer against CSRF accept it.
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: new URL(handle.url).origin, referer: handle.url };
  let submitted = false;
  const done = (r: Answer): FlowResult => ({
    outcome: r.outcome,
    message: r.message,
    confirmationCode: r.confirmationCode ?? null,
    submitted,
    timingsMs: { ...handle.timingsMs, ...timer.finish() },
  });
  try {
    let form: AcuityForm | null = handle.prepared.form;
    handle.prepared.form = null; // single-use token: whatever happens next, it is spent or stale
    for (let post = 1; ; post++) {
      const phase = post === 1 ? '' : 'retry_';
      if (!form) {
        const got = await getPage(request, handle.url, remainingMs());
        timer.lap(`${phase}get`);
        if (got.page.state !== 'form' || !got.page.form) {
          return done(outcomeBeforeSubmit(got.page, got.status) ?? { outcome: 'site_changed', message: `direct-slot page (HTTP ${got.status}) has no usable booking form` });
        }
        form = got.page.form;
      }
      const body = encodeAcuityForm(form, client);
      if (!submitted) {
        try {
          if (!(await args.onBeforeSubmit())) return done({ outcome: 'interrupted', message: NOT_HELD_MESSAGE });
        } catch (err) {
          return done({ outcome: 'error', message: `not submitted: onBeforeSubmit failed: ${mapFlowError(err).message}` });
        }
        timer.lap('before_submit');
        if (timer.elapsedMs() >= args.timeoutMs) return done({ outcome: 'timeout', message: `the submit budget of ${args.timeoutMs} ms was spent before the booking POST; nothing sent` });
      }
      submitted = true;
      const response = await request.post(form.actionUrl, { data: body, headers, maxRedirects: 0, failOnStatusCode: false, timeout: remainingMs() });
      timer.lap(`${phase}post`);
      const answer = await readAnswer(handle, args, { status: response.status(), location: response.headers().location, body: () => response.text() }, form.actionUrl, remainingMs);
      if (answer === 'bad_token') {
        if (post === 1) {
          form = null;
          continue;
        }
        return done({ outcome: 'error', message: 'the site refused the booking form twice (expired or reused form token); nothing was booked' });
      }
      timer.lap('confirm');
      if (args.showConfirmation && answer.outcome === 'booked' && answer.confirmUrl) {
        await (await handle.browser.page()).goto(answer.confirmUrl, { waitUntil: 'domcontentloaded', timeout: Math.max(remainingMs(), CONFIRMATION_READ_MIN_MS) }).catch(() => undefined);
        timer.lap('show');
      }
      return done(answer);
    }
  } catch (err) {
    return done(mapFlowError(err));
  }
}
