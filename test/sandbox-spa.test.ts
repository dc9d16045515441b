import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { SPA_RECAPTCHA_SITE_KEY } from '../src/sandbox/acuity-spa/pages.js';
import { createAcuitySpaSite, type AcuitySpaSite } from '../src/sandbox/acuity-spa/site.js';
import { localInstantMs, spaDaySlotTimes, spaReleaseAtMs, type SpaVenue } from '../src/sandbox/acuity-spa/venues.js';
import { SPA_ALERT_ES, SPA_OWNER, spaClub } from './helpers/acuity-spa.js';

const OWNER = SPA_OWNER;
const CLUB = spaClub(3);
/** 2027-07-21 08:30 in Guatemala (UTC-6). */
const T0 = Date.parse('2027-07-21T14:30:00Z');
const DAY = '2027-07-23';
const ALERT_ES = SPA_ALERT_ES;

let clock: ManualClock;
let site: AcuitySpaSite;
let url: string;

const get = async (path: string): Promise<{ status: number; body: string; res: Response }> => {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: await res.text(), res };
};
const times = async (day: string, court = 1, extra = ''): Promise<{ status: number; json: Record<string, Array<{ time: string; slotsAvailable: number }>> }> => {
  const c = CLUB.courts[court - 1]!;
  const res = await fetch(
    `${url}/api/scheduling/v1/availability/times?owner=${OWNER}&appointmentTypeId=${c.appointmentTypeId}&calendarId=${c.calendarId}&startDate=${day}&maxDays=1&timezone=America%2FGuatemala${extra}`,
  );
  return { status: res.status, json: (await res.json()) as never };
};
const hhmm = (list: Array<{ time: string }> | undefined): string[] => (list ?? []).map((t) => t.time.slice(11, 16));
const token = async (): Promise<string> => {
  const res = await fetch(`${url}/__recaptcha/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ siteKey: SPA_RECAPTCHA_SITE_KEY, action: 'book' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
};
const bookBody = async (datetime: string, court = 1, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> => ({
  appointmentTypeID: CLUB.courts[court - 1]!.appointmentTypeId,
  calendarID: CLUB.courts[court - 1]!.calendarId,
  datetime,
  firstName: 'Ana',
  lastName: 'Pérez',
  email: 'ana@example.test',
  phone: '+502 5555 1234',
  timezone: 'America/Guatemala',
  recaptchaToken: await token(),
  ...extra,
});
const post = async (body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await fetch(`${url}/api/scheduling/v1/appointments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-secondo-owner': OWNER },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as never };
};
const controls = async <T>(path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${url}/__sandbox/${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as T;
};

beforeAll(async () => {
  clock = createManualClock(T0);
  site = createAcuitySpaSite({ clock, venues: [CLUB], confirmationOrigin: 'http://127.0.0.1:9' });
  url = await site.start(0);
});
afterAll(async () => {
  await site.stop();
});
beforeEach(() => {
  clock.set(T0);
  site.reset();
  // The limiter counts on the manual clock, which does not move by itself; only its own tests keep it on.
  site.state.setSwitches({ limiter: { enabled: false } });
});

describe('release rules and slot grid (the sandbox\'s own)', () => {
  const at = (v: SpaVenue, date: string, time: string): string =>
    new Date(spaReleaseAtMs({ venue: v, date, startMs: localInstantMs(v.timeZone, date, time)! })).toISOString();

  it('hoursBefore slides with each slot; daysBefore opens at a fixed local hour', () => {
    expect(at(CLUB, '2027-07-23', '09:00')).toBe('2027-07-21T15:00:00.000Z');
    expect(at(CLUB, '2027-07-23', '06:00')).toBe('2027-07-21T12:00:00.000Z');
    const fixed: SpaVenue = { ...CLUB, release: { kind: 'daysBefore', days: 2, at: '06:00' } };
    expect(at(fixed, '2027-07-23', '09:00')).toBe('2027-07-21T12:00:00.000Z');
    expect(at(fixed, '2027-07-23', '21:00')).toBe('2027-07-21T12:00:00.000Z');
  });

  it('handles DST: skipped wall times leave the grid, a skipped release hour opens after the jump, hoursBefore counts real hours', () => {
    const ny: SpaVenue = { ...CLUB, timeZone: 'America/New_York', grid: { firstSlotTime: '01:00', lastSlotTime: '03:30', slotLengthS: 1800 } };
    expect(spaDaySlotTimes(ny, '2027-03-14')).toEqual(['01:00', '01:30', '03:00', '03:30']);
    expect(spaDaySlotTimes(ny, '2027-03-15')).toEqual(['01:00', '01:30', '02:00', '02:30', '03:00', '03:30']);
    expect(at({ ...ny, release: { kind: 'daysBefore', days: 1, at: '02:30' } }, '2027-03-15', '03:00')).toBe('2027-03-14T07:00:00.000Z');
    // 2027-03-15 03:00 EDT = 07:00Z; 48 h earlier is 2027-03-13 07:00Z (02:00 EST): real hours, not wall hours.
    expect(at(ny, '2027-03-15', '03:00')).toBe('2027-03-13T07:00:00.000Z');
  });
});

describe('page shell', () => {
  const c1 = CLUB.courts[0]!;
  const calendar = `/schedule/${OWNER}/appointment/${c1.appointmentTypeId}/calendar/${c1.calendarId}?appointmentTypeIds[]=${c1.appointmentTypeId}`;
  const routes = [
    `/schedule/${OWNER}`,
    calendar,
    `/schedule/${OWNER}/appointment/${c1.appointmentTypeId}/calendar/${c1.calendarId}/datetime/2027-07-23T09:00:00-06:00?appointmentTypeIds[]=${c1.appointmentTypeId}`,
    // Not offered yet (released at 2027-07-21T19:00Z): still the same shell.
    `/schedule/${OWNER}/appointment/${c1.appointmentTypeId}/calendar/${c1.calendarId}/datetime/2027-07-23T13%3A00%3A00-06%3A00?appointmentTypeIds[]=${c1.appointmentTypeId}`,
    `/schedule/${OWNER}/confirmation/0123456789abcdef0123456789abcdef`,
  ];

  it('answers every scheduler route with the same shell: globals, local captcha, empty container, app; no form, no token', async () => {
    const pages = await Promise.all(routes.map(get));
    for (const p of pages) {
      expect(p.status).toBe(200);
      expect(p.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(p.body).toBe(pages[0]!.body);
    }
    const html = pages[0]!.body;
    expect(html).toContain(`window.OWNER_KEY = "${OWNER}";`);
    expect(html).toContain('<div id="secondo-container"></div>');
    expect(html).toContain('<script src="/recaptcha/enterprise.js?render=6LsandboxSpaLookAlikeKey0000000000000000"></script>');
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect(html).toContain('window.RECAPTCHA_SITE_KEY = "6LsandboxSpaLookAlikeKey0000000000000000";');
    expect(html).not.toMatch(/<form|<input|csrf|token|google\.com/i);
    const business = JSON.parse(/window\.BUSINESS = (.*);\n/.exec(html)![1]!) as Record<string, unknown>;
    expect(business).toMatchObject({
      id: 31337001,
      ownerKey: OWNER,
      name: 'Club de Tenis Sandbox',
      timezone: 'America/Guatemala',
      timeFormat: '24h',
      language: 'es',
      country: 'GT',
    });
    expect(business.appointmentTypes).toEqual(
      CLUB.courts.map((c) => ({ id: c.appointmentTypeId, name: c.name, duration: 60, price: '0.00', category: '', calendarIDs: [c.calendarId] })),
    );
    expect(business.calendars).toEqual(CLUB.courts.map((c) => ({ id: c.calendarId, name: c.name, timezone: 'America/Guatemala' })));
  });

  it('switches the language; an unknown owner key is "not active"; serves the local captcha and the app', async () => {
    site.state.setSwitches({ language: 'en' });
    expect((await get(`/schedule/${OWNER}`)).body).toContain('"language":"en"');
    const unknown = await get('/schedule/deadbeef/appointment/1/calendar/2');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('This page is not active');
    const captcha = await get('/recaptcha/enterprise.js?render=x');
    expect(captcha.res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(captcha.body).toContain('grecaptcha.enterprise = { ready: ready, execute: execute }');
    expect(captcha.body).toContain("fetch('/__recaptcha/token'");
    expect(captcha.body).not.toContain('google');
    const app = await get('/app.js');
    expect(app.res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(app.body).toMatch(/^const C = \{"app":"css-[0-9a-z]{7}"/m);
    expect(app.body).toContain('export const SPA_APP_SETTINGS = {"unofferedSlotPage":"calendar"};');
  });
});

describe('availability', () => {
  it('omits unreleased times until their release on the site clock', async () => {
    expect(await times(DAY)).toEqual({
      status: 200,
      json: { [DAY]: ['06', '07', '08'].map((h) => ({ time: `${DAY}T${h}:00:00-06:00`, slotsAvailable: 1 })) },
    });
    clock.set(Date.parse('2027-07-21T14:59:59.999Z'));
    expect(hhmm((await times(DAY)).json[DAY])).toEqual(['06:00', '07:00', '08:00']);
    clock.set(Date.parse('2027-07-21T15:00:00Z'));
    expect(hhmm((await times(DAY)).json[DAY])).toEqual(['06:00', '07:00', '08:00', '09:00']);
    clock.set(T0);
    await controls('clock', { skewMs: 30 * 60_000 });
    expect(hhmm((await times(DAY)).json[DAY])).toEqual(['06:00', '07:00', '08:00', '09:00']);
    expect(await controls<{ siteNow: string }>('clock')).toMatchObject({ siteNow: '2027-07-21T15:00:00Z', skewMs: 1_800_000 });
  });

  it('omits taken and started times, keeps courts apart, lists every requested day', async () => {
    expect(site.book({ ownerKey: OWNER, court: 1, date: DAY, time: '07:00' })).toBeDefined();
    expect(hhmm((await times(DAY)).json[DAY])).toEqual(['06:00', '08:00']);
    expect(hhmm((await times(DAY, 2)).json[DAY])).toEqual(['06:00', '07:00', '08:00']);
    const c = CLUB.courts[0]!;
    const res = await fetch(
      `${url}/api/scheduling/v1/availability/times?owner=${OWNER}&appointmentTypeId=${c.appointmentTypeId}&calendarId=${c.calendarId}&startDate=2027-07-21&maxDays=5&timezone=America%2FGuatemala`,
    );
    const json = (await res.json()) as Record<string, Array<{ time: string }>>;
    expect(Object.keys(json)).toEqual(['2027-07-21', '2027-07-22', '2027-07-23', '2027-07-24', '2027-07-25']);
    // 08:30 local: 08:00 has started; today's later times and all of tomorrow are released.
    expect(hhmm(json['2027-07-21'])).toEqual(['09', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '20', '21'].map((h) => `${h}:00`));
    expect(json['2027-07-22']).toHaveLength(16);
    expect(hhmm(json['2027-07-23'])).toEqual(['06:00', '08:00']);
    expect(json['2027-07-24']).toEqual([]);
    expect(json['2027-07-25']).toEqual([]);
  });

  it('answers in the requested zone and offset format; refuses a past startDate and a foreign calendar', async () => {
    const c = CLUB.courts[0]!;
    const base = `${url}/api/scheduling/v1/availability/times?owner=${OWNER}&appointmentTypeId=${c.appointmentTypeId}`;
    const nyJson = (await (await fetch(`${base}&calendarId=${c.calendarId}&startDate=${DAY}&maxDays=1&timezone=America%2FNew_York`)).json()) as Record<string, Array<{ time: string }>>;
    expect(nyJson[DAY]!.map((t) => t.time)).toEqual(['2027-07-23T08:00:00-04:00', '2027-07-23T09:00:00-04:00', '2027-07-23T10:00:00-04:00']);
    site.state.setSwitches({ offsetFormat: 'compact' });
    expect((await times(DAY)).json[DAY]![0]!.time).toBe('2027-07-23T06:00:00-0600');
    const past = await fetch(`${base}&calendarId=${c.calendarId}&startDate=2027-07-20&maxDays=5&timezone=America%2FGuatemala`);
    expect(past.status).toBe(400);
    expect(await past.json()).toEqual({ status_code: 400, error: 'bad_request', message: 'startDate must not be in the past.' });
    const foreign = await fetch(`${base}&calendarId=${CLUB.courts[1]!.calendarId}&startDate=${DAY}&maxDays=1`);
    expect(foreign.status).toBe(400);
  });
});

describe('booking', () => {
  it('books, finds the booking by hash only, and answers 409 double_booked for the same slot', async () => {
    const ok = await post(await bookBody(`${DAY}T08:00:00-06:00`, 2));
    expect(ok.status).toBe(200);
    const hash = ok.json.hash as string;
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof ok.json.id).toBe('number');
    expect(ok.json).toMatchObject({
      firstName: 'Ana',
      lastName: 'Pérez',
      email: 'ana@example.test',
      date: DAY,
      time: '08:00',
      endTime: '09:00',
      datetime: `${DAY}T08:00:00-06:00`,
      datetimeCreated: '2027-07-21T08:30:00-06:00',
      type: 'Cancha 2',
      appointmentTypeID: 70000102,
      calendar: 'Cancha 2',
      calendarID: 9000202,
      confirmationPage: `http://127.0.0.1:9/schedule.php?owner=31337001&action=appt&id[]=${hash}`,
    });
    expect(hhmm((await times(DAY, 2)).json[DAY])).toEqual(['06:00', '07:00']);

    const lookup = await fetch(`${url}/api/scheduling/v1/appointments?owner=${OWNER}&appointmentIds[]=${hash}`);
    expect(lookup.status).toBe(200);
    expect(await lookup.json()).toEqual({ appointments: [ok.json] });
    const byEmail = await fetch(`${url}/api/scheduling/v1/appointments?owner=${OWNER}&email=ana%40example.test`);
    expect(byEmail.status).toBe(400);
    const otherHash = await fetch(`${url}/api/scheduling/v1/appointments?owner=${OWNER}&appointmentIds[]=${'0'.repeat(32)}`);
    expect(await otherHash.json()).toEqual({ appointments: [] });

    const again = await post(await bookBody(`${DAY}T08:00:00-06:00`, 2, { email: 'other@example.test' }));
    expect(again).toEqual({ status: 409, json: { status_code: 409, error: 'double_booked', message: 'The time you have selected is already booked.' } });
    const bookings = await controls<Array<Record<string, unknown>>>('bookings');
    expect(bookings).toEqual([
      expect.objectContaining({ hash, court: 2, date: DAY, time: '08:00', source: 'client', arrivedAt: '2027-07-21T14:30:00Z' }),
    ]);
    const xhrs = await controls<Array<{ method: string; status: number; arrivedAt: string }>>('xhrs');
    expect(xhrs.map((x) => `${x.method} ${x.status} ${x.arrivedAt}`)).toEqual([
      'POST 200 2027-07-21T14:30:00Z',
      'GET 200 2027-07-21T14:30:00Z',
      'GET 400 2027-07-21T14:30:00Z',
      'GET 200 2027-07-21T14:30:00Z',
      'POST 409 2027-07-21T14:30:00Z',
    ]);
  });

  it('answers 422 time_unavailable for a time not offered: off the grid, not released yet (default), started', async () => {
    const expected = { status: 422, json: { status_code: 422, error: 'time_unavailable', message: 'The time you have selected is not available.' } };
    expect(await post(await bookBody(`${DAY}T08:30:00-06:00`))).toEqual(expected);
    expect(await post(await bookBody(`${DAY}T13:00:00-06:00`))).toEqual(expected);
    expect(await post(await bookBody('2027-07-21T08:00:00-06:00'))).toEqual(expected);
    expect(await controls('bookings')).toEqual([]);
    site.state.setSwitches({ unreleasedPost: 'book' });
    expect((await post(await bookBody(`${DAY}T13:00:00-0600`))).status).toBe(200);
  });

  it('answers 400 bad_request for invalid data and a mismatched calendar', async () => {
    expect(await post(await bookBody(`${DAY}T08:00:00-06:00`, 1, { email: 'not-an-email' }))).toEqual({
      status: 400,
      json: { status_code: 400, error: 'bad_request', message: 'email is invalid.' },
    });
    expect((await post(await bookBody(`${DAY}T08:00:00-06:00`, 1, { calendarID: CLUB.courts[1]!.calendarId }))).status).toBe(400);
    expect((await post(await bookBody('tomorrow at 8'))).status).toBe(400);
  });

  it('answers 422 with the irregular-usage alert when the captcha flags the submit', async () => {
    const flagged = { status: 422, json: { status_code: 422, error: 'irregular_usage', message: ALERT_ES } };
    expect(await post({ ...(await bookBody(`${DAY}T08:00:00-06:00`)), recaptchaToken: undefined })).toEqual(flagged);
    const spent = await bookBody(`${DAY}T08:00:00-06:00`);
    site.state.setSwitches({ captchaVerdict: { kind: 'failAfter', passes: 2 } });
    expect((await post(spent)).status).toBe(200); // check 2 of 2 passing (the missing token was check 1)
    expect(await post(spent)).toEqual(flagged); // a spent token never passes
    expect(await post(await bookBody(`${DAY}T07:00:00-06:00`))).toEqual(flagged);
    site.state.setSwitches({ captchaVerdict: { kind: 'fail' }, language: 'en' });
    expect((await post(await bookBody(`${DAY}T07:00:00-06:00`))).json.message).toBe(
      'Irregular use of the site was detected. Contact the business to make a booking.',
    );
    expect(await controls<unknown[]>('bookings')).toHaveLength(1);
  });

  it('commits and then loses the answer: the client sees a socket error, the booking is in the controls', async () => {
    await controls('switches', { loseAnswerAfterCommit: 'once' });
    const body = await bookBody(`${DAY}T06:00:00-06:00`, 3);
    await expect(
      fetch(`${url}/api/scheduling/v1/appointments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    ).rejects.toThrow(/fetch failed/);
    const bookings = await controls<Array<{ court: number; time: string; hash: string }>>('bookings');
    expect(bookings).toEqual([expect.objectContaining({ court: 3, date: DAY, time: '06:00', source: 'client' })]);
    const xhrs = await controls<Array<{ status: unknown; body: { hash: string } }>>('xhrs');
    expect(xhrs.map((x) => x.status)).toEqual(['lost']);
    expect(xhrs[0]!.body.hash).toBe(bookings[0]!.hash);
    expect(hhmm((await times(DAY, 3)).json[DAY])).toEqual(['07:00', '08:00']);
    expect((await post(await bookBody(`${DAY}T07:00:00-06:00`, 3))).status).toBe(200);
  });

  it('books for a competitor at release + N ms on the site clock', async () => {
    expect(await controls('competitors', { ownerKey: OWNER, court: 1, date: DAY, time: '09:00', delayAfterReleaseMs: 250 })).toEqual({
      fireAtMs: Date.parse('2027-07-21T15:00:00.250Z'),
      fireAt: '2027-07-21T15:00:00.25Z',
    });
    clock.set(Date.parse('2027-07-21T15:00:00.249Z'));
    await new Promise((r) => setImmediate(r));
    expect(await controls('bookings')).toEqual([]);
    clock.advance(1);
    await site.competitorsSettled();
    expect(await controls('bookings')).toEqual([
      expect.objectContaining({ court: 1, date: DAY, time: '09:00', source: 'competitor', arrivedAt: '2027-07-21T15:00:00.25Z' }),
    ]);
    expect((await post(await bookBody(`${DAY}T09:00:00-06:00`))).status).toBe(409);
  });
});

describe('faults and switches', () => {
  it('slows booking answers only (committed at arrival), delays the captcha mint, expires tokens after 120 s', async () => {
    const body = await bookBody(`${DAY}T06:00:00-06:00`);
    site.state.setSwitches({ slowSubmitMs: 2000 });
    const pending = post(body);
    while (clock.pendingSleeps() < 1) await new Promise((r) => setImmediate(r));
    expect(await controls('bookings')).toEqual([expect.objectContaining({ time: '06:00', arrivedAt: '2027-07-21T14:30:00Z' })]);
    expect((await times(DAY)).status).toBe(200); // a GET is not slowed by slowSubmitMs
    clock.advance(2000);
    expect((await pending).status).toBe(200);

    const next = await bookBody(`${DAY}T07:00:00-06:00`);
    site.state.setSwitches({ slowSubmitMs: 0, captchaLatencyMs: 300 });
    const minting = token();
    while (clock.pendingSleeps() < 1) await new Promise((r) => setImmediate(r));
    clock.advance(300);
    const late = await minting;
    clock.advance(120_001);
    const expired = await post({ ...next, recaptchaToken: late });
    expect(expired.status).toBe(422);
    expect(expired.json.message).toBe(ALERT_ES);
  });

  it('refuses an invalid switch patch and resets to the defaults', async () => {
    const bad = await fetch(`${url}/__sandbox/switches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"offsetFormat":"x"}' });
    expect(bad.status).toBe(400);
    await controls('switches', { language: 'en', captchaVerdict: { kind: 'fail' } });
    await controls('reset', {});
    expect(await controls('switches')).toEqual({
      offsetFormat: 'colon',
      language: 'es',
      captchaVerdict: { kind: 'pass' },
      captchaLatencyMs: 0,
      limiter: { enabled: true, perSecond: 10, concurrent: 20, scope: 'api' },
      slowMs: 0,
      slowSubmitMs: 0,
      loseAnswerAfterCommit: 'off',
      skewMs: 0,
      unofferedSlotPage: 'calendar',
      unreleasedPost: 'time_unavailable',
      hugeAnswer: { times: false, booking: false, bytes: 52_428_800 },
      redirect: null,
      hang: 'off',
      pageAnswer: 'shell',
      misconfirm: 'off',
      notOffered: { status: 422, error: 'time_unavailable' },
      taken: { status: 409, error: 'double_booked' },
      invalid: { status: 400, error: 'bad_request' },
    });
    expect(await controls('release?ownerKey=' + OWNER + '&court=1&date=' + DAY + '&time=09:00')).toEqual({
      startAt: '2027-07-23T15:00:00Z',
      releaseAt: '2027-07-21T15:00:00Z',
      offered: false,
    });
  });
});

describe('hostile switches', () => {
  const slotPage = `/schedule/${OWNER}/appointment/${CLUB.courts[0]!.appointmentTypeId}/calendar/${CLUB.courts[0]!.calendarId}?appointmentTypeIds[]=1`;

  it('redirect: pages with 302, the booking POST with 307 (nothing booked) to the same path on the other origin', async () => {
    site.state.setSwitches({ redirect: { target: 'page', to: 'http://localhost:9' } });
    const page = await fetch(`${url}${slotPage}`, { redirect: 'manual' });
    expect([page.status, page.headers.get('location')]).toEqual([302, `http://localhost:9${slotPage}`]);
    expect((await times(DAY)).status).toBe(200);
    site.state.setSwitches({ redirect: { target: 'booking', to: 'http://localhost:9' } });
    const res = await fetch(`${url}/api/scheduling/v1/appointments`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify(await bookBody(`${DAY}T06:00:00-06:00`)),
    });
    expect([res.status, res.headers.get('location')]).toEqual([307, 'http://localhost:9/api/scheduling/v1/appointments']);
    expect(site.state.bookings()).toEqual([]);
    expect(site.state.xhrs().map((x) => [x.method, x.status])).toEqual([['POST', 307]]);
  });

  it('hugeAnswer: the JSON padded in front with whitespace to `bytes`, still valid', async () => {
    site.state.setSwitches({ hugeAnswer: { times: true, bytes: 4096 } });
    const c = CLUB.courts[0]!;
    const res = await fetch(`${url}/api/scheduling/v1/availability/times?owner=${OWNER}&appointmentTypeId=${c.appointmentTypeId}&calendarId=${c.calendarId}&startDate=${DAY}&maxDays=1`);
    const text = await res.text();
    expect([res.headers.get('content-length'), text.length, text.startsWith('    ')]).toEqual(['4096', 4096, true]);
    expect(Object.keys(JSON.parse(text) as object)).toEqual([DAY]);
    site.state.setSwitches({ hugeAnswer: { times: false, booking: true, bytes: 8192 } });
    const booked = await fetch(`${url}/api/scheduling/v1/appointments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(await bookBody(`${DAY}T06:00:00-06:00`)) });
    const answer = await booked.text();
    expect([booked.status, booked.headers.get('content-length'), (JSON.parse(answer) as { hash: string }).hash]).toEqual([200, '8192', site.state.bookings()[0]!.hash]);
  });

  it('pageAnswer: a login wall or a maintenance page with 200, no app container; hang: the head, then nothing', async () => {
    for (const [pageAnswer, title] of [['login', 'Iniciar sesión'], ['maintenance', 'Mantenimiento']] as const) {
      site.state.setSwitches({ pageAnswer });
      const { status, body } = await get(slotPage);
      expect([status, body.includes(`<title>${title}</title>`), body.includes('secondo-container')]).toEqual([200, true, false]);
    }
    site.state.setSwitches({ pageAnswer: 'shell', hang: 'document' });
    const stop = new AbortController();
    const res = await fetch(`${url}${slotPage}`, { signal: stop.signal });
    const reader = res.body!.getReader();
    const head = new TextDecoder().decode((await reader.read()).value);
    expect([res.status, head.includes('window.OWNER_KEY'), head.includes('secondo-container')]).toEqual([200, true, false]);
    stop.abort();
    await reader.closed.catch(() => undefined);
  });

  it('misconfirm: the answer names another slot or client, or the look-up another slot; the booking is the one asked for', async () => {
    site.state.setSwitches({ misconfirm: 'answerOtherClient' });
    const a = await post(await bookBody(`${DAY}T06:00:00-06:00`));
    expect([a.status, a.json.firstName, a.json.email, a.json.time]).toEqual([200, 'Mallory', 'mallory@example.test', '06:00']);
    site.state.setSwitches({ misconfirm: 'answerOtherSlot' });
    const b = await post(await bookBody(`${DAY}T07:00:00-06:00`));
    expect([b.json.time, b.json.firstName]).toEqual(['08:00', 'Ana']);
    site.state.setSwitches({ misconfirm: 'lookupOtherSlot' });
    const looked = (await get(`/api/scheduling/v1/appointments?owner=${OWNER}&appointmentIds[]=${String(b.json.hash)}`)).body;
    expect((JSON.parse(looked) as { appointments: Array<{ time: string }> }).appointments.map((x) => x.time)).toEqual(['06:00']);
    expect(site.state.bookings().map((x) => [x.slot.time, x.client.firstName])).toEqual([['06:00', 'Ana'], ['07:00', 'Ana']]);
  });

  it('refuses invalid hostile switches, naming the field', () => {
    expect(() => site.state.setSwitches({ redirect: { target: 'pages' as 'page', to: 'http://localhost:9' } })).toThrow('acuity-spa: invalid switch redirect');
    expect(() => site.state.setSwitches({ redirect: { target: 'page', to: 'http://localhost:9/x' } })).toThrow('acuity-spa: invalid switch redirect');
    expect(() => site.state.setSwitches({ hugeAnswer: { bytes: -1 } })).toThrow('acuity-spa: invalid switch hugeAnswer');
    expect(() => site.state.setSwitches({ hang: 'forever' as 'off' })).toThrow('acuity-spa: invalid switch hang');
    expect(() => site.state.setSwitches({ pageAnswer: 'blank' as 'shell' })).toThrow('acuity-spa: invalid switch pageAnswer');
    expect(() => site.state.setSwitches({ misconfirm: 'yes' as 'off' })).toThrow('acuity-spa: invalid switch misconfirm');
  });
});

describe('limiter', () => {
  it('defaults to 10 req/s and 20 concurrent per address, answering 429 with Retry-After', async () => {
    site.reset();
    expect((await controls<{ limiter: unknown }>('switches')).limiter).toEqual({ enabled: true, perSecond: 10, concurrent: 20, scope: 'api' });
    // Scope `api`: page routes are not counted.
    for (let i = 0; i < 12; i++) expect((await get(`/schedule/${OWNER}`)).status).toBe(200);
    const times = `/api/scheduling/v1/availability/times?owner=${OWNER}&appointmentTypeId=${CLUB.courts[0]!.appointmentTypeId}&calendarId=${CLUB.courts[0]!.calendarId}&startDate=2027-07-21&maxDays=1&timezone=America/Guatemala`;
    for (let i = 0; i < 10; i++) expect((await get(times)).status).toBe(200);
    const limited = await get(times);
    expect(limited.status).toBe(429);
    expect(limited.res.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(limited.body)).toEqual({
      status_code: 429,
      error: 'too_many_requests',
      message: 'Rate limit reached. Limit 10req/s and 20 concurrent connections',
    });
    clock.advance(1000);
    expect((await get(times)).status).toBe(200);
  });

  it('scope all also counts the page routes', async () => {
    site.reset();
    site.state.setSwitches({ limiter: { enabled: true, perSecond: 10, concurrent: 20, scope: 'all' } });
    for (let i = 0; i < 10; i++) expect((await get(`/schedule/${OWNER}`)).status).toBe(200);
    expect((await get(`/schedule/${OWNER}`)).status).toBe(429);
    expect((await get('/app.js')).status).toBe(429);
  });

  it('counts slow answers in flight against the concurrent limit', async () => {
    site.state.setSwitches({ limiter: { enabled: true, perSecond: 100, concurrent: 20, scope: 'all' }, slowMs: 500 });
    const inFlight = Array.from({ length: 20 }, () => get(`/schedule/${OWNER}`));
    while (clock.pendingSleeps() < 20) await new Promise((r) => setImmediate(r));
    const limited = await get(`/schedule/${OWNER}`);
    expect(limited.status).toBe(429);
    clock.advance(500);
    expect((await Promise.all(inFlight)).map((p) => p.status)).toEqual(Array(20).fill(200));
    site.state.setSwitches({ slowMs: 0 });
    expect((await get(`/schedule/${OWNER}`)).status).toBe(200);
  });
});
