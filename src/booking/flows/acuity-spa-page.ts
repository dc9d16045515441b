import type { Page, Request, Response } from 'playwright-core';
import type { Clock } from '../../clock.js';
import type { AcuityClient } from './acuity-common.js';
import type { SpaAnswer } from './acuity-spa-outcome.js';
import { dayColumnOf, type AcuitySpaTarget } from './acuity-spa-target.js';

/**
 * What the SPA flow does in the page, through the real page's stable hooks only (class names are build
 * hashes): wait for the app, pick a time by day column and text, fill the form with real input events, and
 * wait for the answer to the page's own booking XHR.
 */

/** The stable hooks of the Acuity client page the flow relies on. */
export const SPA_HOOKS = {
  container: '#secondo-container',
  time: 'button.time-selection',
  moreTimes: 'button[aria-label="Más horas"], button[aria-label="More times"]',
  form: '#your-information-form-container',
  firstName: 'input[id="client.firstName"]',
  lastName: 'input[id="client.lastName"]',
  phone: 'input[id="client.phone"]',
  email: 'input[id="client.email"]',
  confirm: '#your-information-form-container button.btn',
  alert: 'p[role="alert"]',
} as const;

/** The booking XHR's path. */
export const APPOINTMENTS_PATH = '/api/scheduling/v1/appointments';

/** What the app rendered: the details form, the time picker, or neither (hooks missing). */
export type SpaView = 'form' | 'calendar' | 'missing';

/**
 * Checks `#secondo-container` once the document is parsed (it is in the server's shell, so its absence is
 * known at once), then waits for the form, a time button or the "more times" pager (a calendar with no time
 * offered still has it). Both waits share ONE budget of `hookTimeoutMs` on `clock`: a document or a script
 * that never finishes loading costs one hook budget, not two. Never waits for a page `load`.
 */
export async function waitForApp(page: Page, hookTimeoutMs: number, clock: Clock): Promise<SpaView> {
  const deadlineMs = clock.now() + hookTimeoutMs;
  const left = (): number => Math.max(1, deadlineMs - clock.now());
  const ok = (selector: string): Promise<boolean> =>
    page.locator(selector).first().waitFor({ state: 'attached', timeout: left() }).then(() => true, () => false);
  await page.waitForLoadState('domcontentloaded', { timeout: left() }).catch(() => undefined);
  if ((await page.locator(SPA_HOOKS.container).count()) === 0) return 'missing';
  if (!(await ok(`${SPA_HOOKS.form}, ${SPA_HOOKS.time}, ${SPA_HOOKS.moreTimes}`))) return 'missing';
  return (await page.locator(SPA_HOOKS.form).count()) > 0 ? 'form' : 'calendar';
}

/**
 * Why the page at `url` is not the scheduler, for a `site_changed` message: its title and whether the app's
 * container is there (a login wall or a maintenance page answered with 200 has no container). Never quotes
 * more than the title (60 characters at most).
 */
export async function notSchedulerReason(page: Page, url: string): Promise<string> {
  const title = await page.title().then((t) => t.replace(/\s+/g, ' ').trim().slice(0, 60), () => '');
  const container = await page.locator(SPA_HOOKS.container).count().then((n) => n > 0, () => false);
  const what = container ? `${SPA_HOOKS.container} without a time picker or form` : `no ${SPA_HOOKS.container}`;
  return `the page at ${new URL(url).pathname} is not the scheduler (title "${title}", ${what})`;
}

/** The time buttons as the page lays them out: day labels (in order) and each button's text and grid column. */
interface CalendarLayout {
  labels: string[];
  buttons: { text: string; column: number }[];
}

function readLayout(page: Page): Promise<CalendarLayout> {
  return page.locator(SPA_HOOKS.time).evaluateAll((nodes) => {
    const buttons = nodes.map((b) => ({
      text: (b.querySelector('p')?.textContent ?? '').trim(),
      column: Number.parseInt(getComputedStyle(b).gridColumnStart, 10),
    }));
    const labelBox = nodes[0]?.parentElement?.previousElementSibling;
    const labels = labelBox ? Array.from(labelBox.children).map((d) => (d as HTMLElement).innerText.replace(/\s+/g, ' ').trim()) : [];
    return { labels, buttons };
  });
}

/** Most "more times" pages the flow turns looking for the target's day (one careful person, not a crawler). */
export const MAX_CALENDAR_PAGES = 6;

/** How far past the target a visible day label proves the picker has passed it, days. */
const PASSED_WINDOW_DAYS = 31;

/** Whether the picker's text shows a day label for `date` (whole words, Spanish or English). */
function showsDay(text: string, date: string): boolean {
  return dayColumnOf([text], date) === 0;
}

/** `YYYY-MM-DD` `days` after `date` (UTC calendar arithmetic on a plain date). */
function dayAfter(date: string, days: number): string {
  return new Date(Date.parse(`${date}T12:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Clicks the time button of the target's date AND time (day column from the labels, then the
 * `button.time-selection > p` text in that grid column). When the picker does not show the target's day yet
 * it turns pages with "Más horas" (each one XHR), at most {@link MAX_CALENDAR_PAGES}, stopping as soon as a
 * later day shows. Returns false when the time is not offered.
 */
export async function clickTargetTime(page: Page, target: AcuitySpaTarget, timeoutMs: number): Promise<boolean> {
  const container = page.locator(SPA_HOOKS.container);
  for (let turned = 0; ; turned++) {
    const layout = await readLayout(page);
    const day = dayColumnOf(layout.labels, target.date);
    if (day >= 0) {
      const index = layout.buttons.findIndex((b) => b.column === day + 1 && b.text === target.time);
      if (index < 0) return false;
      await page.locator(SPA_HOOKS.time).nth(index).click({ timeout: timeoutMs });
      return true;
    }
    const text = await container.innerText({ timeout: timeoutMs });
    const more = page.locator(SPA_HOOKS.moreTimes).first();
    if (showsDay(text, target.date) || turned >= MAX_CALENDAR_PAGES || (await more.count()) === 0) return false;
    for (let d = 1; d <= PASSED_WINDOW_DAYS; d++) if (showsDay(text, dayAfter(target.date, d))) return false;
    await more.click({ timeout: timeoutMs });
    // The next page replaces the picker after its XHR: wait until it shows other text and its pager again.
    await page.waitForFunction(
      ({ selector, pager, before }) => {
        const box = document.querySelector(selector) as HTMLElement | null;
        return box !== null && box.innerText !== before && box.querySelector(pager) !== null;
      },
      { selector: SPA_HOOKS.container, pager: SPA_HOOKS.moreTimes, before: text },
      { timeout: timeoutMs },
    );
  }
}

/** Whether the form already holds `user` (names and phone as typed, the e-mail committed as a chip). */
export async function formHolds(page: Page, user: AcuityClient): Promise<boolean> {
  const [first, last, phone, draft, text] = await Promise.all([
    page.locator(SPA_HOOKS.firstName).inputValue(), page.locator(SPA_HOOKS.lastName).inputValue(),
    page.locator(SPA_HOOKS.phone).inputValue(), page.locator(SPA_HOOKS.email).inputValue(),
    page.locator(SPA_HOOKS.form).innerText(),
  ]);
  const digits = (t: string): string => t.replace(/\D/g, '');
  return first === user.firstName && last === user.lastName && digits(phone).endsWith(digits(user.phone)) &&
    draft === '' && text.includes(user.email);
}

/**
 * Fills the form as a person does: names and phone through `fill` (which fires `input` events), the phone
 * after the prefilled dial code unless it carries its own `+`; the e-mail typed key by key and committed as
 * a chip with Enter. Each step waits at most `timeoutMs`.
 */
export async function fillForm(page: Page, user: AcuityClient, timeoutMs: number): Promise<void> {
  const opts = { timeout: timeoutMs };
  await page.locator(SPA_HOOKS.firstName).fill(user.firstName, opts);
  await page.locator(SPA_HOOKS.lastName).fill(user.lastName, opts);
  const phone = page.locator(SPA_HOOKS.phone);
  const dial = (await phone.inputValue(opts)).trim();
  const wanted = user.phone.startsWith('+') || dial === '' ? user.phone : `${dial} ${user.phone}`;
  await phone.fill(wanted, opts);
  if (await page.locator(SPA_HOOKS.form).innerText(opts).then((t) => t.includes(user.email))) return;
  await page.locator(SPA_HOOKS.email).click(opts);
  await page.keyboard.type(user.email);
  await page.keyboard.press('Enter');
}

/** `text` with the regular-expression specials escaped. */
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first of `waits` to resolve, or null when all reject. */
function firstResolved<T>(waits: Promise<T>[]): Promise<T | null> {
  return new Promise((resolve) => {
    let left = waits.length;
    for (const w of waits) w.then(resolve, () => { if (--left === 0) resolve(null); });
  });
}

/**
 * Most bytes of a booking answer the flow reads into the daemon (a real answer is about 1 KB). A larger
 * answer is not read: Playwright would copy it out of the browser whole (base64 over the protocol), so a
 * 50 MB answer would cost the daemon hundreds of MB.
 */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The body size of `response`, bytes: its `content-length`, else (chunked) the size the browser counted once
 * the body is in (never read into the daemon).
 */
async function bodyBytes(response: Response): Promise<number> {
  const declared = Number.parseInt(response.headers()['content-length'] ?? '', 10);
  if (Number.isFinite(declared) && declared >= 0) return declared;
  await response.finished().catch(() => undefined);
  return (await response.request().sizes().catch(() => ({ responseBodySize: 0 }))).responseBodySize;
}

/** The answer of the booking POST as the flow reads it: its JSON body, unless it is over {@link MAX_ANSWER_BYTES}. */
async function readAnswer(r: Response): Promise<SpaAnswer> {
  const bytes = await bodyBytes(r);
  if (bytes > MAX_ANSWER_BYTES) return { kind: 'response', status: r.status(), body: null, headers: r.headers(), oversizedBytes: bytes };
  return { kind: 'response', status: r.status(), body: await r.json().catch(() => null), headers: r.headers() };
}

/**
 * Starts waiting for the outcome of a click on "Confirmar cita" (call BEFORE clicking): the answer to the
 * page's booking POST (status, JSON body and headers, e.g. a 429's `Retry-After`), its failure (socket lost), or a `p[role=alert]` shown without any POST (e.g. the
 * captcha script failed). Resolves null when nothing came within `timeoutMs`. `staleAlert`: the text of an
 * alert already on the form before the click (a previous submit's), which is not taken for this one's answer.
 */
export function awaitBookingAnswer(page: Page, timeoutMs: number, staleAlert: string | null = null): Promise<SpaAnswer | null> {
  const isPost = (r: Request): boolean => r.method() === 'POST' && new URL(r.url()).pathname === APPOINTMENTS_PATH;
  let posted = false;
  const onRequest = (r: Request): void => { if (isPost(r)) posted = true; };
  page.on('request', onRequest);
  const response = page.waitForResponse((r) => isPost(r.request()), { timeout: timeoutMs })
    .then(readAnswer);
  const failed = page.waitForEvent('requestfailed', { predicate: isPost, timeout: timeoutMs })
    .then((r): SpaAnswer => ({ kind: 'lost', reason: r.failure()?.errorText ?? 'request failed' }));
  // An alert still shown from the previous submit (a 429 retried on the same form) is not this click's answer.
  const alerts = page.locator(SPA_HOOKS.alert);
  const fresh = (staleAlert === null ? alerts : alerts.filter({ hasNotText: new RegExp(`^\\s*${escapeRegExp(staleAlert)}\\s*$`) })).first();
  const alert = fresh.waitFor({ state: 'visible', timeout: timeoutMs })
    .then(async (): Promise<SpaAnswer> => {
      // The app shows the alert after the POST's answer: when a POST went out, its answer decides.
      if (posted) return firstResolved([response, failed]).then((a) => a ?? Promise.reject(new Error('no answer')));
      return { kind: 'alert', text: ((await fresh.textContent()) ?? '').trim() };
    });
  return firstResolved([response, failed, alert]).finally(() => page.off('request', onRequest));
}
