import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type BrowserLease, type ChromiumPool } from '../src/booking/browser.js';
import { createAcuitySpaFlow, type AcuitySpaTarget } from '../src/booking/flows/acuity-spa.js';
import { outcomeOfAnswer } from '../src/booking/flows/acuity-spa-outcome.js';
import { dayColumnOf } from '../src/booking/flows/acuity-spa-target.js';
import { createManualClock, systemClock, type ManualClock } from '../src/clock.js';
import { createAcuitySpaSite, type AcuitySpaSite } from '../src/sandbox/acuity-spa/site.js';
import { SPA_ALERT_ES, SPA_OWNER, spaClub } from './helpers/acuity-spa.js';

const OWNER = SPA_OWNER;
const CLUB = spaClub(2);
/** 2027-07-21 09:00 in Guatemala: 2027-07-23 09:00 is released this instant, 10:00 at 16:00Z. */
const T0 = Date.parse('2027-07-21T15:00:00Z');
const ALERT_ES = SPA_ALERT_ES;
const C1 = CLUB.courts[0]!;
const USER = { firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.test', phone: '+502 5555 1234' };
const logger = { info: () => undefined, warn: () => undefined };

interface Xhr { method: string; url: string; arrivedAtMs: number; status: number | 'lost' }

let clock: ManualClock;
let site: AcuitySpaSite;
let url: string;
let pool: ChromiumPool;
let lease: BrowserLease;
let other: Server;
let otherUrl: string;

const target = (time: string, over: Partial<AcuitySpaTarget> = {}): AcuitySpaTarget => ({
  baseUrl: url, ownerKey: OWNER, court: 1, appointmentTypeId: C1.appointmentTypeId, calendarId: C1.calendarId,
  date: '2027-07-23', time, utcOffset: '-06:00', ...over,
});
const posts = (): Xhr[] => (site.state.xhrs() as Xhr[]).filter((x) => x.method === 'POST');
const flow = createAcuitySpaFlow({ clock: systemClock });

beforeAll(async () => {
  clock = createManualClock(T0);
  site = createAcuitySpaSite({ clock, venues: [CLUB], confirmationOrigin: 'http://127.0.0.1:9' });
  url = await site.start(0);
  pool = createBrowserPool({ executablePath: findChromium(null), headless: true, logger });
  // Another page: an empty #secondo-container and no app, as if the site's bundle had changed.
  other = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html><body><div id="secondo-container"></div><p>Mantenimiento</p></body></html>');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await pool?.close();
  await site?.stop();
  await new Promise((resolve) => other?.close(resolve));
});
beforeEach(async () => {
  clock.set(T0);
  site.reset();
  site.state.setSwitches({ limiter: { enabled: false } });
  lease = await pool.acquire();
  return async () => { await lease.release(); };
});

describe('the Acuity SPA flow against the look-alike in real Chromium', () => {
  it('books an offered slot: the hash is the site\'s booking, names as typed, the intent awaited before the POST', async () => {
    const handle = await flow.prepare(lease, target('09:00'));
    expect(handle.preparedView).toBe('form');
    expect(handle.url).toBe(`${url}/schedule/${OWNER}/appointment/${C1.appointmentTypeId}/calendar/${C1.calendarId}/datetime/2027-07-23T09:00:00-06:00?appointmentTypeIds[]=${C1.appointmentTypeId}`);
    let intentAtMs = 0;
    const onBeforeSubmit = async (): Promise<boolean> => {
      expect(posts()).toEqual([]);
      await systemClock.sleep(300); // a slow intent write: the flow must still wait for it
      expect(posts()).toEqual([]);
      clock.advance(1000);
      intentAtMs = clock.now();
      return true;
    };
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit, timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'booked', submitted: true, message: null });
    const list = site.state.bookings();
    expect(list).toHaveLength(1);
    expect(result.confirmationCode).toBe(list[0]!.hash);
    expect(result.confirmationCode).toMatch(/^[0-9a-f]{32}$/);
    expect(list[0]!.client).toEqual(USER);
    expect(list[0]!.source).toBe('client');
    expect({ date: list[0]!.slot.date, time: list[0]!.slot.time, court: list[0]!.slot.court.court }).toEqual({ date: '2027-07-23', time: '09:00', court: 1 });
    const sent = posts();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.status).toBe(200);
    expect(sent[0]!.arrivedAtMs).toBeGreaterThanOrEqual(intentAtMs);
    expect((await lease.page()).url()).toBe(`${url}/schedule/${OWNER}/confirmation/${list[0]!.hash}`);
    // The change/cancel link of the answer (`confirmationPage`, on the site's confirmation origin).
    expect(result.confirmationUrl).toBe(`http://127.0.0.1:9/schedule.php?owner=31337001&action=appt&id[]=${list[0]!.hash}`);
    expect(Object.keys(result.timingsMs)).toEqual(expect.arrayContaining(['prepare_ms', 'fill_ms', 'before_submit_ms', 'submit_to_result_ms', 'total_ms']));
  }, 40_000);

  it('a booked answer the site then lists for another time (looked up by its hash) is not success: site_changed, submitted', async () => {
    // The site's own look-up by hash names the previous slot (08:00): the look-up after the answer must catch it.
    site.state.setSwitches({ misconfirm: 'lookupOtherSlot' });
    const handle = await flow.prepare(lease, target('09:00'));
    let answered = '';
    const onAnswer = (hash: string): void => void (answered = hash);
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, onAnswer, timeoutMs: 10_000 });
    expect(answered).toMatch(/^[0-9a-f]{32}$/);
    expect(answered).toBe(site.state.bookings()[0]!.hash);
    expect(result).toMatchObject({ outcome: 'site_changed', submitted: true, confirmationCode: null });
    expect(result.message).toBe(`site changed: looked up by its hash: the site confirmed 2027-07-23 08:00 type ${C1.appointmentTypeId} calendar ${C1.calendarId}, not the requested 2027-07-23 09:00 type ${C1.appointmentTypeId} calendar ${C1.calendarId} (court 1); hash ${answered}`);
  }, 40_000);

  it('prepared before the release (calendar), released at submit: reloads the calendar, picks the day column, books', async () => {
    const handle = await flow.prepare(lease, target('10:00'));
    expect(handle.preparedView).toBe('calendar');
    clock.set(Date.parse('2027-07-21T16:00:00Z'));
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'booked', submitted: true });
    const list = site.state.bookings();
    expect(list).toHaveLength(1);
    // 10:00 is also offered on 07-22 (another column): the booking is the 07-23 one.
    expect({ hash: list[0]!.hash, date: list[0]!.slot.date, time: list[0]!.slot.time }).toEqual({ hash: result.confirmationCode, date: '2027-07-23', time: '10:00' });
  }, 40_000);

  it('pre-fills an early form at prepare (prefillUser) and submits it as is', async () => {
    const prefilled = createAcuitySpaFlow({ clock: systemClock, prefillUser: USER });
    const handle = await prefilled.prepare(lease, target('09:00'));
    const page = await lease.page();
    expect(await page.locator('input[id="client.firstName"]').inputValue()).toBe('Ana');
    expect(await page.locator('input[id="client.phone"]').inputValue()).toBe('+502 5555 1234');
    expect(await page.locator('input[id="client.email"]').inputValue()).toBe('');
    expect(await page.locator('#your-information-form-container').innerText()).toContain('ana@example.test');
    const result = await prefilled.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 });
    expect(result.outcome).toBe('booked');
    expect(site.state.bookings()[0]!.client).toEqual(USER);
  }, 40_000);

  it('a time still absent at submit → not_open_yet, no POST, the intent never asked', async () => {
    const handle = await flow.prepare(lease, target('10:00'));
    let asked = false;
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => (asked = true), timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'not_open_yet', submitted: false, confirmationCode: null });
    expect(result.message).toContain('2027-07-23 10:00');
    expect(asked).toBe(false);
    expect(posts()).toEqual([]);
    expect(site.state.bookings()).toEqual([]);
  }, 40_000);

  it('a competitor took the slot after prepare → slot_taken (409)', async () => {
    const handle = await flow.prepare(lease, target('09:00'));
    expect(site.book({ ownerKey: OWNER, court: 1, date: '2027-07-23', time: '09:00' })).toBeDefined();
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'slot_taken', submitted: true, confirmationCode: null });
    expect(posts().map((x) => x.status)).toEqual([409]);
    expect(site.state.bookings().map((b) => b.source)).toEqual(['control']);
  }, 40_000);

  it('a failing captcha verdict → site_blocked with the site\'s alert text', async () => {
    site.state.setSwitches({ captchaVerdict: { kind: 'fail' } });
    const handle = await flow.prepare(lease, target('09:00'));
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'site_blocked', submitted: true, message: ALERT_ES, confirmationCode: null });
    expect(posts().map((x) => x.status)).toEqual([422]);
    expect(await (await lease.page()).locator('p[role="alert"]').textContent()).toBe(ALERT_ES);
  }, 40_000);

  it('a 429 on the booking POST → rate_limited with the Retry-After of the answer\'s headers, nothing booked', async () => {
    const handle = await flow.prepare(lease, target('09:00'));
    const onBeforeSubmit = async (): Promise<boolean> => {
      // One request per second from this address, and this fetch takes the second's one place.
      site.state.setSwitches({ limiter: { enabled: true, perSecond: 1, concurrent: 20, scope: 'all' } });
      expect((await fetch(`${url}/app.js`)).status).toBe(200);
      return true;
    };
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit, timeoutMs: 10_000 });
    // The manual clock stands still: the oldest arrival leaves the window in 1000 ms → "Retry-After: 1".
    expect(result).toMatchObject({ outcome: 'rate_limited', submitted: true, confirmationCode: null, retryAfterMs: 1000 });
    expect(result.message).toBe('rate limited (HTTP 429, Retry-After 1000 ms): Rate limit reached. Limit 1req/s and 20 concurrent connections');
    expect(posts().map((x) => x.status)).toEqual([429]);
    expect(site.state.bookings()).toEqual([]);
    // The same form submitted again after Retry-After (the executor's same-court retry): the 429's alert still
    // under the button is not this click's answer; the new POST's 200 is.
    expect(await (await lease.page()).locator('p[role="alert"]').count()).toBe(1);
    clock.advance(1000);
    site.state.setSwitches({ limiter: { enabled: false } });
    let hashed = '';
    const again = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, onAnswer: (h) => void (hashed = h), timeoutMs: 10_000 });
    expect(again).toMatchObject({ outcome: 'booked', submitted: true });
    expect(again.confirmationCode).toBe(site.state.bookings()[0]!.hash);
    expect(hashed).toBe(again.confirmationCode);
    expect(posts().map((x) => x.status)).toEqual([429, 200]);
  }, 40_000);

  it('a 429 for the times XHR of the calendar reload → rate_limited (not "not open yet"), nothing sent', async () => {
    const handle = await flow.prepare(lease, target('10:00'));
    expect(handle.preparedView).toBe('calendar');
    clock.set(Date.parse('2027-07-21T16:00:00Z'));
    // One API request per second, taken now: the reload's times XHR is refused.
    site.state.setSwitches({ limiter: { enabled: true, perSecond: 1, concurrent: 20, scope: 'api' } });
    const times = `${url}/api/scheduling/v1/availability/times?owner=${OWNER}&appointmentTypeId=${C1.appointmentTypeId}&calendarId=${C1.calendarId}&startDate=2027-07-21&maxDays=1&timezone=America/Guatemala`;
    expect((await fetch(times)).status).toBe(200);
    let asked = false;
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => (asked = true), timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'rate_limited', submitted: false, confirmationCode: null, retryAfterMs: 1000 });
    expect(result.message).toBe('rate limited (HTTP 429, Retry-After 1000 ms): the times XHR');
    expect(asked).toBe(false);
    expect(posts()).toEqual([]);
  }, 40_000);

  it('no answer within timeoutMs after the click → timeout, submitted (the site did commit)', async () => {
    // The slow answer waits on the manual clock, which does not move: the answer never comes.
    site.state.setSwitches({ slowSubmitMs: 60_000 });
    const handle = await flow.prepare(lease, target('09:00'));
    const startMs = systemClock.now();
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 1500 });
    expect(result).toMatchObject({ outcome: 'timeout', submitted: true, confirmationCode: null });
    expect(systemClock.now() - startMs).toBeLessThan(5000);
    expect(site.state.bookings()).toHaveLength(1);
  }, 40_000);

  it('onBeforeSubmit false → interrupted; a throw → error; no POST either way', async () => {
    const handle = await flow.prepare(lease, target('09:00'));
    const no = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => false, timeoutMs: 10_000 });
    expect(no).toMatchObject({ outcome: 'interrupted', submitted: false, confirmationCode: null });
    const thrown = await flow.submit(handle, { user: USER, onBeforeSubmit: () => Promise.reject(new Error('db down')), timeoutMs: 10_000 });
    expect(thrown).toMatchObject({ outcome: 'error', submitted: false });
    expect(thrown.message).toContain('db down');
    expect(posts()).toEqual([]);
    expect(site.state.bookings()).toEqual([]);
  }, 40_000);

  it('pages without the hooks → site_changed within a few seconds, after one more look at submit (not-active page; container without the app)', async () => {
    for (const t of [target('09:00', { ownerKey: 'deadbeef' }), target('09:00', { baseUrl: otherUrl })]) {
      const startMs = systemClock.now();
      const handle = await flow.prepare(lease, t);
      expect(handle.preparedView).toBe('missing');
      const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 });
      expect(result).toMatchObject({ outcome: 'site_changed', submitted: false });
      // Prepare's hook budget (5 s) plus the look at submit (a shell with the container gets two budgets): seconds, never a long timeout.
      expect(systemClock.now() - startMs).toBeLessThan(19_000);
    }
    expect(posts()).toEqual([]);
  }, 40_000);
});

describe('a slot beyond the first calendar page', () => {
  /** A second club of the look-alike whose slots open 240 h (10 days) ahead: day 11 is on the third page of five days. */
  const FAR = {
    ...spaClub(1), ownerKey: 'b4e1d2f3', businessId: 31337009,
    courts: [{ court: 1, name: 'Cancha 1', appointmentTypeId: 70000901, calendarId: 9000901 }],
    release: { kind: 'hoursBefore' as const, hours: 240 },
  };
  let far: AcuitySpaSite;
  let farUrl: string;
  beforeAll(async () => {
    far = createAcuitySpaSite({ clock, venues: [FAR], switches: { limiter: { enabled: false } }, confirmationOrigin: 'http://127.0.0.1:9' });
    farUrl = await far.start(0);
  });
  afterAll(async () => far?.stop());

  it('turns "Más horas" pages to the target day (2027-07-19 → 07-29, two pages) and books it at its release', async () => {
    // 2027-07-29 09:00 Guatemala opens at 2027-07-19T15:00Z; prepared an hour before, the picker starts on 07-19.
    clock.set(Date.parse('2027-07-19T14:00:00Z'));
    const farTarget = target('09:00', { baseUrl: farUrl, ownerKey: 'b4e1d2f3', appointmentTypeId: 70000901, calendarId: 9000901, date: '2027-07-29' });
    const handle = await flow.prepare(lease, farTarget);
    expect(handle.preparedView).toBe('calendar');
    clock.set(Date.parse('2027-07-19T15:00:00Z'));
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'booked', submitted: true });
    const booked = far.state.bookings();
    expect(booked.map((b) => [b.slot.date, b.slot.time, b.slot.court.court])).toEqual([['2027-07-29', '09:00', 1]]);
  }, 40_000);

  it('a time not offered on its day: no paging past it, not_open_yet, nothing sent', async () => {
    far.reset();
    clock.set(Date.parse('2027-07-19T14:00:00Z'));
    const farTarget = target('09:00', { baseUrl: farUrl, ownerKey: 'b4e1d2f3', appointmentTypeId: 70000901, calendarId: 9000901, date: '2027-07-29' });
    const handle = await flow.prepare(lease, farTarget);
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 });
    expect(result).toMatchObject({ outcome: 'not_open_yet', submitted: false });
    expect(far.state.xhrs().filter((x) => x.method === 'POST')).toEqual([]);
  }, 40_000);
});

describe('answer mapping and day columns (pure)', () => {
  const t = (): AcuitySpaTarget => ({ ...target('09:00'), baseUrl: 'http://127.0.0.1:1' });
  it('maps the site\'s answers', () => {
    const booked = { hash: 'a'.repeat(32), date: '2027-07-23', time: '09:00', appointmentTypeID: C1.appointmentTypeId, calendarID: C1.calendarId };
    expect(outcomeOfAnswer({ kind: 'response', status: 200, body: booked }, t())).toEqual({ outcome: 'booked', confirmationCode: 'a'.repeat(32), message: null });
    expect(outcomeOfAnswer({ kind: 'response', status: 200, body: { ...booked, time: '10:00' } }, t()).outcome).toBe('site_changed');
    // The right slot booked for another client (e-mail or names changed on the way) is not our booking.
    const ours = { ...booked, firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.test' };
    expect(outcomeOfAnswer({ kind: 'response', status: 200, body: ours }, t(), 0, USER).outcome).toBe('booked');
    expect(outcomeOfAnswer({ kind: 'response', status: 200, body: { ...ours, email: ' ANA@example.test ' } }, t(), 0, USER).outcome).toBe('booked');
    expect(outcomeOfAnswer({ kind: 'response', status: 200, body: { ...ours, email: 'mallory@x.test', firstName: 'Mallory' } }, t(), 0, USER)).toEqual({
      outcome: 'site_changed', confirmationCode: null, message: `the site's booking is for another client (email, firstName differ); hash ${'a'.repeat(32)}`,
    });
    expect(outcomeOfAnswer({ kind: 'response', status: 422, body: { error: 'time_unavailable', message: 'gone' } }, t()).outcome).toBe('slot_taken');
    const limited = outcomeOfAnswer({ kind: 'response', status: 429, body: { message: 'Rate limit reached.' } }, t());
    expect(limited).toEqual({ outcome: 'rate_limited', confirmationCode: null, message: 'rate limited (HTTP 429, no Retry-After): Rate limit reached.' });
    expect(outcomeOfAnswer({ kind: 'response', status: 400, body: { error: 'bad_request', message: 'bad phone' } }, t())).toEqual({ outcome: 'form_rejected', confirmationCode: null, message: 'the site refused the form (HTTP 400): bad phone' });
    expect(outcomeOfAnswer({ kind: 'lost', reason: 'net::ERR_EMPTY_RESPONSE' }, t()).outcome).toBe('unknown');
  });
  it('finds the day column by its label', () => {
    const labels = ['hoy miércoles jul 21', 'mañana jueves jul 22', 'viernes jul 23', 'sábado jul 24', 'domingo jul 25'];
    expect(dayColumnOf(labels, '2027-07-23')).toBe(2);
    expect(dayColumnOf(labels, '2027-07-02')).toBe(-1);
    expect(dayColumnOf(['Fri Jul 23'], '2027-07-23')).toBe(0);
  });
});
