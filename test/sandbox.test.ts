import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../src/clock.js';
import type { VenueConfig } from '../src/config/schema.js';
import { SPA_RECAPTCHA_SITE_KEY } from '../src/sandbox/acuity-spa/pages.js';
import { localInstantMs, spaReleaseAtMs, type SpaVenue } from '../src/sandbox/acuity-spa/venues.js';
import { spaVenueOf, spaVenuesOf } from '../src/sandbox/from-config.js';
import { runSandbox } from '../src/sandbox/run-sandbox.js';
import { APPOINTMENTS_PATH, createSandboxSite } from '../src/sandbox/site.js';
import { LA_VILLA, startTestSandbox, T0, testConfig, type TestSandbox, type TestVenueInput } from './helpers/sandbox.js';

/**
 * The sandbox wrapper (`src/sandbox/site.ts`, `from-config.ts`, `run-sandbox.ts`): a reservd config mapped
 * onto the Acuity look-alike, slots addressed by venue id, and the `bookings()` / `submits()` views of what
 * reached the site over HTTP. The look-alike itself is pinned in sandbox-spa*.test.ts.
 */

const DAY = '2027-07-23';
/** A second club on the same site: its own owner key, courts and release rule (cron). */
const EL_BOSQUE: TestVenueInput = {
  name: 'El Bosque',
  timeZone: 'America/Guatemala',
  releaseRule: { cron: '0 7 * * *', horizonDays: 7 },
  site: { adapter: 'acuity', ownerKey: '5be11a7d', businessId: 31337005 },
  courts: { '1': { appointmentTypeId: 70000501, calendarId: 9000601 } },
  slotLengthS: 1800,
  firstSlotTime: '08:00',
  lastSlotTime: '09:30',
};
const VENUES = { 'la-villa': LA_VILLA, 'el-bosque': EL_BOSQUE };
const ANA = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' };

/** A configured venue (parsed, defaults applied) from a venue as written in a config file. */
const venueOf = (input: TestVenueInput): VenueConfig => testConfig('http://127.0.0.1:1', { v: input }).venues.v!;
/** The site's release instant (ISO) of a venue-local slot under the look-alike's own rule. */
const releaseOf = (venue: SpaVenue, date: string, time: string): string =>
  new Date(spaReleaseAtMs({ venue, date, startMs: localInstantMs(venue.timeZone, date, time)! })).toISOString();

describe('config → look-alike venues', () => {
  it('maps a venue: owner key, business id, courts as appointment type + calendar, grid, release rule', () => {
    expect(spaVenueOf(venueOf(LA_VILLA))).toEqual({
      ownerKey: 'a3f09c1e',
      businessId: 31337001,
      name: 'La Villa Tennis',
      timeZone: 'America/Guatemala',
      country: 'GT',
      courts: [
        { court: 1, name: 'Cancha 1', appointmentTypeId: 70000101, calendarId: 9000201 },
        { court: 2, name: 'Cancha 2', appointmentTypeId: 70000102, calendarId: 9000202 },
        { court: 3, name: 'Cancha 3', appointmentTypeId: 70000103, calendarId: 9000203 },
      ],
      grid: { firstSlotTime: '07:00', lastSlotTime: '21:00', slotLengthS: 3600 },
      release: { kind: 'hoursBefore', hours: 48 },
    });
  });

  it('sorts courts by number, names unnamed ones "Court N", derives a business id from the owner key, maps daysBefore and cron', () => {
    const venue = venueOf({
      ...LA_VILLA,
      releaseRule: { daysBefore: 2, at: '08:00' },
      site: { adapter: 'acuity', ownerKey: 'b0000001' },
      courts: { '10': { appointmentTypeId: 3, calendarId: 30 }, '2': { appointmentTypeId: 2, calendarId: 20, name: 'Central' }, '1': { appointmentTypeId: 1, calendarId: 10 } },
    });
    const spa = spaVenueOf(venue, 'US');
    expect(spa.courts).toEqual([
      { court: 1, name: 'Court 1', appointmentTypeId: 1, calendarId: 10 },
      { court: 2, name: 'Central', appointmentTypeId: 2, calendarId: 20 },
      { court: 10, name: 'Court 10', appointmentTypeId: 3, calendarId: 30 },
    ]);
    // 10 000 000 + 0xb0000001 mod 89 999 999 = 10 000 000 + 72 790 049.
    expect(spa.businessId).toBe(82_790_049);
    expect(spa.country).toBe('US');
    expect(spa.release).toEqual({ kind: 'daysBefore', days: 2, at: '08:00' });
    expect(spaVenueOf(venueOf(EL_BOSQUE)).release).toEqual({ kind: 'cron', pattern: '0 7 * * *', horizonDays: 7 });
  });

  it('lists every venue with the venue id of each owner key; two venues sharing an owner key are an error', () => {
    const { venues, venueIdOf } = spaVenuesOf(testConfig('http://127.0.0.1:1', VENUES));
    expect(venues.map((v) => v.ownerKey)).toEqual(['a3f09c1e', '5be11a7d']);
    expect([...venueIdOf]).toEqual([['a3f09c1e', 'la-villa'], ['5be11a7d', 'el-bosque']]);

    const twin = { ...EL_BOSQUE, site: { ...EL_BOSQUE.site, ownerKey: 'a3f09c1e' } };
    const config = testConfig('http://127.0.0.1:1', { 'la-villa': LA_VILLA, twin });
    const message = 'sandbox: venues "la-villa" and "twin" share the owner key "a3f09c1e"';
    expect(() => spaVenuesOf(config)).toThrow(message);
    expect(() => createSandboxSite({ config, clock: createManualClock(T0) })).toThrow(message);
  });
});

describe('release instants of the mapped venues (the site\'s own rules)', () => {
  it('hoursBefore slides with each slot; daysBefore opens the whole day at a fixed local hour', () => {
    const villa = spaVenueOf(venueOf(LA_VILLA));
    expect(releaseOf(villa, DAY, '09:00')).toBe('2027-07-21T15:00:00.000Z');
    expect(releaseOf(villa, DAY, '20:00')).toBe('2027-07-22T02:00:00.000Z');
    const fixed = spaVenueOf(venueOf({ ...LA_VILLA, releaseRule: { daysBefore: 2, at: '08:00' } }));
    expect(releaseOf(fixed, DAY, '07:00')).toBe('2027-07-21T14:00:00.000Z');
    expect(releaseOf(fixed, DAY, '21:00')).toBe('2027-07-21T14:00:00.000Z');
  });

  it('cron "0 7 * * *", horizonDays 7 in America/Guatemala: 07:00 local seven days before, every time of the day', () => {
    const club = spaVenueOf(venueOf({ ...LA_VILLA, releaseRule: { cron: '0 7 * * *', horizonDays: 7 } }));
    expect(releaseOf(club, DAY, '07:00')).toBe('2027-07-16T13:00:00.000Z');
    expect(releaseOf(club, DAY, '21:00')).toBe('2027-07-16T13:00:00.000Z');
    expect(releaseOf(club, '2027-07-24', '07:00')).toBe('2027-07-17T13:00:00.000Z');
  });

  it('a weekly cron opens a slot at the first run on or after its horizon day (Mondays 06:30)', () => {
    const weekly = spaVenueOf(venueOf({ ...LA_VILLA, releaseRule: { cron: '30 6 * * 1', horizonDays: 7 } }));
    // 2027-07-23 (Fri) − 7 = Fri 07-16 → Mon 07-19; 07-26 (Mon) − 7 = Mon 07-19; 07-27 − 7 = Tue 07-20 → Mon 07-26.
    expect(releaseOf(weekly, DAY, '09:00')).toBe('2027-07-19T12:30:00.000Z');
    expect(releaseOf(weekly, '2027-07-26', '09:00')).toBe('2027-07-19T12:30:00.000Z');
    expect(releaseOf(weekly, '2027-07-27', '09:00')).toBe('2027-07-26T12:30:00.000Z');
  });

  it('cron "0 7 * * *" in America/New_York keeps 07:00 local across the DST changes (EST −05:00, EDT −04:00)', () => {
    const ny = spaVenueOf(venueOf({ ...LA_VILLA, timeZone: 'America/New_York', releaseRule: { cron: '0 7 * * *', horizonDays: 7 } }));
    // Clocks go forward on Sunday 2027-03-14 at 02:00 and back on Sunday 2027-11-07 at 02:00.
    expect(releaseOf(ny, '2027-03-20', '09:00')).toBe('2027-03-13T12:00:00.000Z');
    expect(releaseOf(ny, '2027-03-21', '09:00')).toBe('2027-03-14T11:00:00.000Z');
    expect(releaseOf(ny, '2027-11-13', '09:00')).toBe('2027-11-06T11:00:00.000Z');
    expect(releaseOf(ny, '2027-11-14', '09:00')).toBe('2027-11-07T12:00:00.000Z');
  });
});

describe('the sandbox site over HTTP', () => {
  let clock: ManualClock;
  let sandbox: TestSandbox;

  const token = async (): Promise<string> => {
    const res = await fetch(`${sandbox.url}/__recaptcha/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ siteKey: SPA_RECAPTCHA_SITE_KEY, action: 'book' }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  };
  /** POSTs a booking as the page's app does: JSON, the owner header, a fresh captcha token. */
  const book = async (fields: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> => {
    const body = { firstName: ANA.firstName, lastName: ANA.lastName, email: ANA.email, phone: ANA.phone, timezone: 'America/Guatemala', fields: [], recaptchaToken: await token(), ...fields };
    const res = await fetch(`${sandbox.url}${APPOINTMENTS_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-secondo-owner': 'a3f09c1e' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const court2At = (time: string): Record<string, unknown> => ({ appointmentTypeID: 70000102, calendarID: 9000202, datetime: `${DAY}T${time}:00-06:00` });

  beforeAll(async () => {
    clock = createManualClock(T0);
    sandbox = await startTestSandbox({ clock, venues: VENUES, switches: { limiter: { enabled: false } } });
  });
  afterAll(async () => {
    await sandbox.stop();
  });
  beforeEach(() => {
    clock.set(T0);
    sandbox.site.reset();
  });

  it('a booking POSTed through HTTP shows in bookings() (venue id, hash, client, arrival, release) and submits()', async () => {
    const answer = await book(court2At('08:00'));
    expect(answer.status).toBe(200);
    const hash = answer.json.hash as string;
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(sandbox.site.bookings()).toEqual([
      {
        id: answer.json.id,
        hash,
        venue: 'la-villa',
        court: 2,
        date: DAY,
        time: '08:00',
        ...ANA,
        source: 'client',
        arrivedAtMs: T0,
        arrivedAt: '2027-07-21T15:00:00.000Z',
        releaseAt: '2027-07-21T14:00:00.000Z',
      },
    ]);
    expect(sandbox.site.submits()).toEqual([
      { arrivedAtMs: T0, arrivedAt: '2027-07-21T15:00:00.000Z', venue: 'la-villa', court: 2, date: DAY, time: '08:00', email: ANA.email, status: 200, result: 'booked' },
    ]);
  });

  it('records every refused POST with what it asked for and why: taken, not offered, blocked, invalid, rate limited', async () => {
    expect((await book(court2At('08:00'))).status).toBe(200);
    clock.advance(1_000);
    expect((await book({ ...court2At('08:00'), email: 'rival@example.test' })).status).toBe(409);
    expect((await book(court2At('10:00'))).status).toBe(422); // released at 16:00Z, an hour from now
    sandbox.site.setSwitches({ captchaVerdict: { kind: 'fail' } });
    expect((await book(court2At('09:00'))).json.error).toBe('irregular_usage');
    sandbox.site.setSwitches({ captchaVerdict: { kind: 'pass' } });
    expect((await book({ ...court2At('09:00'), email: 'not-an-email' })).status).toBe(400);
    expect((await book({ appointmentTypeID: 123, calendarID: 9000202, datetime: `${DAY}T09:00:00-06:00` })).status).toBe(400);
    sandbox.site.setSwitches({ limiter: { enabled: true, perSecond: 1 } });
    expect((await book(court2At('07:00'))).status).toBe(200);
    expect((await book(court2At('07:00'))).status).toBe(429);

    const at1 = { arrivedAtMs: T0 + 1_000, arrivedAt: '2027-07-21T15:00:01.000Z' };
    const slot = (time: string) => ({ venue: 'la-villa', court: 2, date: DAY, time });
    expect(sandbox.site.submits()).toEqual([
      { arrivedAtMs: T0, arrivedAt: '2027-07-21T15:00:00.000Z', ...slot('08:00'), email: ANA.email, status: 200, result: 'booked' },
      { ...at1, ...slot('08:00'), email: 'rival@example.test', status: 409, result: 'slot_taken' },
      { ...at1, ...slot('10:00'), email: ANA.email, status: 422, result: 'not_offered' },
      { ...at1, ...slot('09:00'), email: ANA.email, status: 422, result: 'blocked' },
      { ...at1, ...slot('09:00'), email: 'not-an-email', status: 400, result: 'invalid' },
      { ...at1, venue: null, court: null, date: DAY, time: '09:00', email: ANA.email, status: 400, result: 'invalid' },
      { ...at1, ...slot('07:00'), email: ANA.email, status: 200, result: 'booked' },
      // The limiter answers before the body is read: nothing of what was asked is known.
      { ...at1, venue: null, court: null, date: null, time: null, email: null, status: 429, result: 'rate_limited' },
    ]);
    expect(sandbox.site.bookings().map((b) => `${b.time} ${b.email}`)).toEqual(['08:00 ana@example.test', '07:00 ana@example.test']);
  });

  it('a committed booking whose answer is lost is "lost" in submits() and held in bookings(); arrivals are on the skewed site clock', async () => {
    sandbox.site.setClockSkewMs(-90_000);
    expect(sandbox.site.siteNow()).toBe(T0 - 90_000);
    sandbox.site.setSwitches({ loseAnswerAfterCommit: 'once' });
    await expect(book(court2At('07:00'))).rejects.toThrow(/fetch failed/);
    expect(sandbox.site.submits()).toEqual([
      { arrivedAtMs: T0 - 90_000, arrivedAt: '2027-07-21T14:58:30.000Z', venue: 'la-villa', court: 2, date: DAY, time: '07:00', email: ANA.email, status: 'lost', result: 'lost' },
    ]);
    expect(sandbox.site.bookings()).toEqual([expect.objectContaining({ court: 2, time: '07:00', email: ANA.email, source: 'client', arrivedAt: '2027-07-21T14:58:30.000Z' })]);
    // 09:00 opens at 15:00Z on the site clock, which now reads 14:58:30.
    expect((await book(court2At('09:00'))).status).toBe(422);
    sandbox.site.reset();
    expect(sandbox.site.siteNow()).toBe(T0);
    expect(sandbox.site.submits()).toEqual([]);
    expect(sandbox.site.bookings()).toEqual([]);
  });

  it('book() takes a slot by venue id, once, ignoring the release, as the control client or a given one', () => {
    const taken = sandbox.site.book({ venue: 'el-bosque', court: 1, date: '2027-07-30', time: '09:30' });
    expect(taken).toEqual({
      id: expect.any(Number) as number,
      hash: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
      venue: 'el-bosque',
      court: 1,
      date: '2027-07-30',
      time: '09:30',
      firstName: 'Reserva',
      lastName: 'Previa',
      email: 'previa@example.test',
      phone: '+502 5555 0101',
      source: 'control',
      arrivedAtMs: T0,
      arrivedAt: '2027-07-21T15:00:00.000Z',
      // cron 0 7 * * *, horizon 7 days: 2027-07-23 07:00 in Guatemala.
      releaseAt: '2027-07-23T13:00:00.000Z',
    });
    expect(sandbox.site.book({ venue: 'el-bosque', court: 1, date: '2027-07-30', time: '09:30' })).toBeNull();
    const mine = sandbox.site.book({ venue: 'la-villa', court: 1, date: '2027-07-30', time: '21:00' }, ANA);
    expect(mine).toMatchObject({ venue: 'la-villa', court: 1, ...ANA, source: 'control', releaseAt: '2027-07-29T03:00:00.000Z' });
  });
});

describe('book and scheduleCompetitor addressing', () => {
  let clock: ManualClock;
  let sandbox: TestSandbox;
  beforeAll(async () => {
    clock = createManualClock(T0);
    sandbox = await startTestSandbox({ clock, venues: VENUES, switches: { limiter: { enabled: false } } });
  });
  afterAll(async () => {
    await sandbox.stop();
  });
  beforeEach(() => {
    clock.set(T0);
    sandbox.site.reset();
  });

  it('an unknown venue, court or slot time is an error naming it', () => {
    expect(() => sandbox.site.book({ venue: 'nope', court: 1, date: DAY, time: '09:00' })).toThrow('sandbox: unknown slot nope court 1 2027-07-23 09:00');
    expect(() => sandbox.site.book({ venue: 'la-villa', court: 4, date: DAY, time: '09:00' })).toThrow('sandbox: unknown slot la-villa court 4 2027-07-23 09:00');
    expect(() => sandbox.site.book({ venue: 'la-villa', court: 1, date: DAY, time: '09:30' })).toThrow('sandbox: unknown slot la-villa court 1 2027-07-23 09:30');
    expect(() => sandbox.site.scheduleCompetitor({ venue: 'el-bosque', court: 2, date: DAY, time: '08:00' }, 0)).toThrow(
      'sandbox: unknown slot el-bosque court 2 2027-07-23 08:00',
    );
  });

  it('scheduleCompetitor books by venue id at release + delay on the site clock', async () => {
    // la-villa 2027-07-23 10:00 opens at 16:00Z; the site clock runs 2 s ahead.
    sandbox.site.setClockSkewMs(2_000);
    const fireAtMs = sandbox.site.scheduleCompetitor({ venue: 'la-villa', court: 3, date: DAY, time: '10:00' }, 150);
    expect(new Date(fireAtMs).toISOString()).toBe('2027-07-21T16:00:00.150Z');
    clock.set(Date.parse('2027-07-21T15:59:58.149Z'));
    expect(sandbox.site.bookings()).toEqual([]);
    clock.advance(1);
    await sandbox.site.competitorsSettled();
    expect(sandbox.site.bookings()).toEqual([
      expect.objectContaining({ venue: 'la-villa', court: 3, date: DAY, time: '10:00', source: 'competitor', email: 'competidor@example.test', arrivedAt: '2027-07-21T16:00:00.150Z', releaseAt: '2027-07-21T16:00:00.000Z' }),
    ]);
    expect(sandbox.site.submits()).toEqual([]);
  });
});

describe('lifecycle', () => {
  const clock = createManualClock(T0);

  it('start twice (even at once) gives the same address; stop twice is safe; start again after stop serves again', async () => {
    const site = createSandboxSite({ config: testConfig('http://127.0.0.1:1'), clock });
    expect(site.url()).toBeNull();
    const [a, b] = await Promise.all([site.start(0), site.start(0)]);
    expect(b).toEqual(a);
    expect(a.url).toBe(`http://127.0.0.1:${a.port}`);
    expect(await site.start(0)).toEqual(a);
    expect(site.url()).toBe(a.url);
    site.book({ venue: 'la-villa', court: 1, date: DAY, time: '07:00' });
    await site.stop();
    await site.stop();
    expect(site.url()).toBeNull();
    await expect(fetch(`${a.url}/__sandbox/clock`)).rejects.toThrow(/fetch failed/);

    const again = await site.start(0);
    expect(site.url()).toBe(again.url);
    const res = await fetch(`${again.url}/__sandbox/bookings`);
    expect(res.status).toBe(200);
    // Stopping does not forget: the booking made before is still held.
    expect(((await res.json()) as Array<{ time: string }>).map((x) => x.time)).toEqual(['07:00']);
    // Competitors scheduled after the restart fire (stop cancelled only those waiting then).
    site.scheduleCompetitor({ venue: 'la-villa', court: 2, date: DAY, time: '09:00' }, 0);
    await site.competitorsSettled();
    expect(site.bookings().map((x) => `${x.court} ${x.time} ${x.source}`)).toEqual(['1 07:00 control', '2 09:00 competitor']);
    await site.stop();
  });

  it('start on a port already taken rejects, and the site can then start elsewhere', async () => {
    const first = createSandboxSite({ config: testConfig('http://127.0.0.1:1'), clock });
    const { port } = await first.start(0);
    const second = createSandboxSite({ config: testConfig('http://127.0.0.1:1'), clock });
    try {
      await expect(second.start(port)).rejects.toThrow(/EADDRINUSE/);
      expect(second.url()).toBeNull();
      const other = await second.start(0);
      expect(other.port).not.toBe(port);
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  it('runSandbox starts the site and logs every court\'s calendar page on the sandbox\'s own origin', async () => {
    const lines: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = [];
    const logger = { info: (obj: object, msg?: string) => void lines.push({ obj: obj as Record<string, unknown>, msg }), warn() {}, error() {} };
    const config = testConfig('https://example.as.me', VENUES);
    const site = await runSandbox({ config, clock, port: 0, clockSkewMs: 500, logger });
    try {
      const url = site.url()!;
      expect(site.siteNow()).toBe(T0 + 500);
      const calendar = (type: number, cal: number): string => `${url}/schedule/a3f09c1e/appointment/${type}/calendar/${cal}?appointmentTypeIds[]=${type}`;
      expect(lines.filter((l) => l.msg?.startsWith('sandbox'))).toEqual([
        {
          msg: 'sandbox: venue la-villa (La Villa Tennis)',
          obj: {
            venue: 'la-villa',
            timeZone: 'America/Guatemala',
            releaseRule: { hoursBefore: 48 },
            calendars: [calendar(70000101, 9000201), calendar(70000102, 9000202), calendar(70000103, 9000203)],
          },
        },
        {
          msg: 'sandbox: venue el-bosque (El Bosque)',
          obj: {
            venue: 'el-bosque',
            timeZone: 'America/Guatemala',
            releaseRule: { cron: '0 7 * * *', horizonDays: 7 },
            calendars: [`${url}/schedule/5be11a7d/appointment/70000501/calendar/9000601?appointmentTypeIds[]=70000501`],
          },
        },
        { msg: `sandbox site ready at ${url}`, obj: { url, clockSkewMs: 500, controls: `${url}/__sandbox/bookings` } },
      ]);
      const page = await fetch(calendar(70000102, 9000202));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('window.OWNER_KEY = "a3f09c1e";');
    } finally {
      await site.stop();
    }
  });
});
