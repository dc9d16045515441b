import type { APIRequestContext, Page } from 'playwright-core';
import type { Clock } from '../../clock.js';
import type { PageLease, SlotTarget } from '../flow.js';
import { parseAcuityHtml, type AcuityForm, type AcuityHtmlPage } from './acuity-html.js';
import { readAcuityPage, type AcuityPageSnapshot } from './acuity-page.js';
import { directSlotUrl } from './acuity-urls.js';
import { mapFlowError } from './map-flow-error.js';

/**
 * What both Acuity flows (request and rendered) share: the client type, the prepared handle, the submit
 * arguments, the phase timer and `prepare` (before the release: open the slot's direct link, C10).
 */

/** The person booked; `BookingUser` from `src/contracts/` fits. */
export interface AcuityClient {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}

/** How a submit talks to the site; see `createAcuityFlow`. */
export type AcuityMode = 'request' | 'rendered';

/** Where an attempt runs: a browser context's request API and its page on demand (a {@link PageLease} fits). */
export type AcuityBrowser = Pick<PageLease, 'request' | 'page'>;

/** A playwright Page as an {@link AcuityBrowser} (its context's request API, itself as the page). */
function browserOfPage(page: Page): AcuityBrowser {
  return { request: page.request, page: async () => page };
}

/**
 * A prepared attempt: the context holds the site's cookies and a warm connection; in rendered mode its page
 * sits on the slot's direct link.
 */
export interface AcuityHandle {
  readonly browser: AcuityBrowser;
  readonly target: SlotTarget;
  /** Absolute direct-slot URL (C10 segment, percent-encoded). */
  readonly url: string;
  readonly clock: Clock | null;
  /** What the page showed after preparing, or null when navigation failed. */
  readonly preparedState: AcuityPageSnapshot['state'] | null;
  /** Why preparing failed (submit navigates again), else null. */
  readonly prepareError: string | null;
  /**
   * The booking form (with its single-use `form_token`) when the slot was already open at prepare time
   * (a late start, a fallback court, book-now): the first request-mode submit posts it without a fresh GET
   * and sets `form` to null. Empty for a slot prepared before its release.
   */
  readonly prepared: { form: AcuityForm | null };
  /** `prepare_ms`, `warm_ms` (empty without a clock). */
  readonly timingsMs: Readonly<Record<string, number>>;
}

/** The message of a submit `onBeforeSubmit` refused: the intent guard found the row no longer held. */
export const NOT_HELD_MESSAGE = 'not submitted: the reservation is no longer held by this daemon (cancelled or taken over)';

/** Arguments of an Acuity submit (either mode). */
export interface AcuitySubmitArgs {
  user: AcuityClient;
  /**
   * Awaited BEFORE the booking POST leaves (the intent row): false → nothing is submitted (`interrupted`);
   * a throw → nothing is submitted (`error`).
   */
  onBeforeSubmit: () => Promise<boolean>;
  /** Budget for the whole submit, ms; every request and browser step gets what is left of it. */
  timeoutMs: number;
  /** For `timingsMs` and the budget; defaults to the handle's clock. Without one, timings are empty. */
  clock?: Clock;
}

/** Default budget of `prepare`'s navigation, ms. */
export const DEFAULT_PREPARE_TIMEOUT_MS = 30_000;

/** Options of {@link prepareAcuityAttempt}. */
export interface PrepareAcuityOptions {
  /** Times `prepare_ms`/`warm_ms`; without it, timings are empty. */
  clock?: Clock;
  /** Budget of each prepare step (navigation, GET), ms. Default {@link DEFAULT_PREPARE_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Also open `page.request`'s own connection (see {@link warmRequestContext}); the request mode wants it. */
  warmRequest?: boolean;
  /**
   * Navigate the page to the slot (a render: ≈ 100–300 ms of browser work per page). Default true. The
   * request mode passes false: its submit never uses the rendered page, and a burst of 100 bookings must not
   * render 100 pages on 2 cores; it only GETs the slot through `page.request` (cookies, connection).
   */
  render?: boolean;
}

/**
 * GETs the direct-slot page through `page.request`: opens (or keeps open) that context's keep-alive
 * connection to the site and returns what the page shows, with the form when the slot is open. Servers
 * close idle connections (often after 60–75 s), so a caller that waits long after `prepare` calls this again
 * shortly before the fire instant.
 *
 * @throws playwright errors (timeout, connection refused, context closed).
 */
export async function warmRequestContext(request: APIRequestContext, url: string, timeoutMs: number): Promise<AcuityHtmlPage> {
  const response = await request.get(url, { timeout: timeoutMs, failOnStatusCode: false, headers: { accept: 'text/html' } });
  return parseAcuityHtml(await response.text(), response.url());
}

/** Phase timer on an injected clock; laps are recorded as `<name>_ms`, plus `total_ms` at the end. */
export function createTimer(clock: Clock | null) {
  const startMs = clock?.now() ?? 0;
  let lastMs = startMs;
  const timingsMs: Record<string, number> = {};
  return {
    timingsMs,
    /** Records the time since the previous lap (or the start) as `<name>_ms`. */
    lap(name: string): void {
      if (!clock) return;
      const nowMs = clock.now();
      timingsMs[`${name}_ms`] = nowMs - lastMs;
      lastMs = nowMs;
    },
    elapsedMs: (): number => (clock ? clock.now() - startMs : 0),
    finish(): Record<string, number> {
      if (clock) timingsMs.total_ms = clock.now() - startMs;
      return timingsMs;
    },
  };
}

/**
 * Opens the slot's direct link (`waitUntil: 'domcontentloaded'`; with `render: false` only a GET through
 * `page.request`, timed as `warm_ms`) and returns a handle: the context now has the site's cookies. With `warmRequest` it also GETs the link through `page.request`, which has its own
 * keep-alive connection pool (Node's, not the browser's): without it the first request at the fire instant
 * would pay DNS + TCP + TLS. When the slot is already open, the served form is kept for the request flow
 * (`prepared.form`). A failed navigation or GET is kept in `prepareError` (submit tries again), not thrown.
 * Timings: `prepare_ms` (navigation; absent with `render: false`), `warm_ms`.
 *
 * @throws ReservdError with code `unknown_court` (court not in `venue.courts`) or RangeError (slot in a DST
 *   gap): the request itself is wrong.
 */
export async function prepareAcuityAttempt(on: AcuityBrowser | Page, target: SlotTarget, options: PrepareAcuityOptions = {}): Promise<AcuityHandle> {
  const browser = 'goto' in on ? browserOfPage(on) : on;
  const url = directSlotUrl(target.venue, target.court, target.targetDate, target.targetTime);
  const clock = options.clock ?? null;
  const timer = createTimer(clock);
  let preparedState: AcuityHandle['preparedState'] = null;
  let prepareError: string | null = null;
  let form: AcuityForm | null = null;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PREPARE_TIMEOUT_MS;
  let phase = 'prepare';
  try {
    let served: AcuityHtmlPage | null = null;
    if (options.render === false) {
      phase = 'warm';
      served = await warmRequestContext(browser.request, url, timeoutMs);
      preparedState = served.state;
      timer.lap(phase);
      form = served.state === 'form' ? served.form : null;
      return { browser, target, url, clock, preparedState, prepareError, prepared: { form }, timingsMs: { ...timer.timingsMs } };
    }
    const page = await browser.page();
    const response = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
    preparedState = (await readAcuityPage(page)).state;
    timer.lap(phase);
    if (options.warmRequest) {
      phase = 'warm';
      served = await warmRequestContext(browser.request, url, timeoutMs);
      timer.lap(phase);
    } else if (response && preparedState === 'form') {
      // Without the body the form is just not kept: the submit GETs a fresh one.
      const html = await response.text().catch(() => null);
      served = html === null ? null : parseAcuityHtml(html, response.url());
    }
    form = served?.state === 'form' ? served.form : null;
  } catch (err) {
    prepareError = `${phase === 'warm' ? 'warming page.request failed' : 'opening the direct-slot page failed'}: ${mapFlowError(err).message}`;
    timer.lap(phase);
  }
  return { browser, target, url, clock, preparedState, prepareError, prepared: { form }, timingsMs: { ...timer.timingsMs } };
}
