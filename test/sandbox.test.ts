import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { calendarPath, directSlotPath } from '../src/booking/flows/acuity-urls.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { daySlotTimes } from '../src/sandbox/site-venues.js';
import { clientFields, formToken, LA_VILLA, postForm, postJson, startTestSandbox, T0, testConfig, type TestSandbox } from './helpers/sandbox.js';

const DAY = '2027-07-23';
let sandbox: TestSandbox;
let clock: ManualClock;

const slotUrl = (time: string, court = 1, date = DAY): string => `${sandbox.url}${directSlotPath(sandbox.venue(), court, date, time)}`;
const text = async (url: string): Promise<{ status: number; body: string; res: Response }> => {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, body: await res.text(), res };
};
const openTimes = (html: string): string[] =>
  [...html.matchAll(/<button type="submit" class="time-selection" data-time="([^"]+)">([^<]+)<\/button>/g)].map((m) => `${m[2]}|${m[1]}`);
const submits = async (): Promise<Array<{ result: string; arrivedAt: string; time: string }>> =>
  (await fetch(`${sandbox.url}/__sandbox/submits`)).json() as never;

beforeAll(async () => {
  clock = createManualClock(T0);
  sandbox = await startTestSandbox({ clock });
});
afterAll(async () => {
  await sandbox.stop();
});
beforeEach(async () => {
  clock.set(T0);
  await fetch(`${sandbox.url}/__sandbox/reset`, { method: 'POST' });
});

describe('acuity urls', () => {
  it('builds the C10 direct-slot path from the slot with the venue offset, percent-encoded', () => {
    expect(directSlotPath(sandbox.venue(), 1, '2027-07-23', '09:00')).toBe(
      '/schedule/la-villa/appointment/1001/calendar/5001/datetime/2027-07-23T09%3A00%3A00-06%3A00',
    );
    expect(calendarPath(sandbox.venue(), 3, '2027-07-23')).toBe('/schedule/la-villa/appointment/1001/calendar/5003?date=2027-07-23');
    expect(() => directSlotPath(sandbox.venue(), 9, DAY, '09:00')).toThrow(/court 9 is not configured/);
  });

  it('lists a DST day without the skipped slot times', () => {
    const config = testConfig('http://127.0.0.1:1', {
      ny: { ...LA_VILLA, timeZone: 'America/New_York', slotLengthS: 1800, firstSlotTime: '01:00', lastSlotTime: '03:30' },
    });
    const venue = config.venues.ny!;
    expect(daySlotTimes(venue, '2027-03-14')).toEqual(['01:00', '01:30', '03:00', '03:30']);
    expect(daySlotTimes(venue, '2027-03-15')).toEqual(['01:00', '01:30', '02:00', '02:30', '03:00', '03:30']);
  });
});

describe('calendar page', () => {
  it('lists exactly the open times, with notes for unreleased ones', async () => {
    const page = await text(`${sandbox.url}${calendarPath(sandbox.venue(), 1, DAY)}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>');
    expect(openTimes(page.body)).toEqual(['07:00|2027-07-23T07:00:00-06:00', '08:00|2027-07-23T08:00:00-06:00', '09:00|2027-07-23T09:00:00-06:00']);
    expect(page.body.match(/class="time-unreleased"/g)).toHaveLength(12);
    expect(page.body).toContain(`action="${directSlotPath(sandbox.venue(), 1, DAY, '08:00')}"`);

    sandbox.site.book({ venue: 'la-villa', court: 1, date: DAY, time: '08:00' });
    const after = await text(`${sandbox.url}${calendarPath(sandbox.venue(), 1, DAY)}`);
    expect(openTimes(after.body).map((t) => t.slice(0, 5))).toEqual(['07:00', '09:00']);
    const court2 = await text(`${sandbox.url}${calendarPath(sandbox.venue(), 2, DAY)}`);
    expect(openTimes(court2.body)).toHaveLength(3);
  });

  it('hides slots that already started and defaults to the site-local today', async () => {
    const page = await text(`${sandbox.url}${calendarPath(sandbox.venue(), 1)}`);
    expect(page.body).toContain('data-date="2027-07-21"');
    expect(openTimes(page.body).map((t) => t.slice(0, 5))).toEqual(
      ['10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '20', '21'].map((h) => `${h}:00`),
    );
  });
});

describe('direct-slot page', () => {
  it('is "not available for booking yet" before the release and a form after it, on the skewed site clock', async () => {
    const before = await text(slotUrl('10:00'));
    expect(before.status).toBe(200);
    expect(before.body).toContain('class="not-open-yet"');
    expect(before.body).toContain('This time is not available for booking yet');
    expect(before.body).not.toContain('booking-form');

    sandbox.site.setClockSkewMs(3_600_000);
    const after = await text(slotUrl('10:00'));
    expect(after.body).toContain('<form id="booking-form" method="post"');
    for (const name of ['client.firstName', 'client.lastName', 'client.email', 'client.phone', 'form_token']) {
      expect(after.body).toContain(`name="${name}"`);
    }
    expect(after.body).toContain('<button type="submit" class="btn-confirm">Confirm Appointment</button>');
    expect(new Date(after.res.headers.get('date') ?? '').getTime()).toBe(T0 + 3_600_000);
  });

  it('answers 404 for unknown slug, type, calendar, segment, offset and non-slot times', async () => {
    const good = directSlotPath(sandbox.venue(), 1, DAY, '09:00');
    const bad = [
      good.replace('/la-villa/', '/nope/'),
      good.replace('/1001/', '/1002/'),
      good.replace('/5001/', '/5009/'),
      good.replace('-06%3A00', '-05%3A00'),
      good.replace('09%3A00%3A00', '09%3A30%3A00'),
      good.replace('2027-07-23T09%3A00%3A00-06%3A00', 'tomorrow'),
    ];
    for (const path of bad) expect((await fetch(`${sandbox.url}${path}`)).status, path).toBe(404);
    expect((await fetch(`${sandbox.url}${good.replace(/%3A/g, ':')}`)).status).toBe(200);
  });

  it('shows "no longer available" for a taken slot', async () => {
    sandbox.site.book({ venue: 'la-villa', court: 1, date: DAY, time: '09:00' });
    const page = await text(slotUrl('09:00'));
    expect(page.body).toContain('class="slot-unavailable"');
    expect(page.body).toContain('no longer available');
  });
});

describe('booking POST', () => {
  it('refuses a POST that arrives before the release on the site clock and records it', async () => {
    sandbox.site.setClockSkewMs(3_600_000);
    const token = formToken((await text(slotUrl('10:00'))).body);
    sandbox.site.setClockSkewMs(0);
    const res = await postForm(slotUrl('10:00'), clientFields(token));
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('class="not-open-yet"');
    expect(await submits()).toEqual([expect.objectContaining({ result: 'not_open_yet', time: '10:00', arrivedAt: new Date(T0).toISOString() })]);
    expect(sandbox.site.bookings()).toEqual([]);
  });

  it('books once per court-slot: the second booker gets "no longer available"', async () => {
    const [a, b] = [formToken((await text(slotUrl('09:00'))).body), formToken((await text(slotUrl('09:00'))).body)];
    const first = await postForm(slotUrl('09:00'), clientFields(a));
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toMatch(/^\/schedule\/la-villa\/confirmation\/\d+$/);
    const second = await postForm(slotUrl('09:00'), clientFields(b, { 'client.email': 'rival@example.test' }));
    expect(second.status).toBe(409);
    const body = await second.text();
    expect(body).toContain('class="slot-unavailable"');
    expect(body).toContain('no longer available');
    expect((await submits()).map((s) => s.result)).toEqual(['booked', 'slot_taken']);
    const bookings = sandbox.site.bookings();
    expect(bookings).toHaveLength(1);
    expect(bookings[0]).toMatchObject({ venue: 'la-villa', court: 1, calendarId: '5001', date: DAY, time: '09:00', booker: 'client' });
    expect(bookings[0]).toMatchObject({ arrivedAt: new Date(T0).toISOString(), releaseAt: new Date(T0).toISOString() });
  });

  it('rejects missing, unknown, reused, expired and other-slot tokens', async () => {
    const url = slotUrl('09:00');
    expect((await postForm(url, clientFields(''))).status).toBe(403);
    expect((await postForm(url, clientFields('forged'))).status).toBe(403);
    const otherCourt = formToken((await text(slotUrl('09:00', 2))).body);
    expect((await postForm(url, clientFields(otherCourt))).status).toBe(403);
    const stale = formToken((await text(url)).body);
    clock.advance(31 * 60_000);
    const expired = await postForm(url, clientFields(stale));
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('class="form-expired"');
    const token = formToken((await text(url)).body);
    expect((await postForm(url, clientFields(token, { 'client.email': 'bad' }))).status).toBe(400);
    expect((await postForm(url, clientFields(token))).status).toBe(403);
    expect((await submits()).map((s) => s.result)).toEqual(['bad_token', 'bad_token', 'bad_token', 'bad_token', 'invalid', 'bad_token']);
    expect(sandbox.site.bookings()).toEqual([]);
  });

  it('validates the fields and shows each error, with a fresh token that then books', async () => {
    const url = slotUrl('09:00');
    const token = formToken((await text(url)).body);
    const res = await postForm(url, clientFields(token, { 'client.firstName': '  ', 'client.email': 'ana@', 'client.phone': '12' }));
    expect(res.status).toBe(400);
    const body = await res.text();
    const errors = [...body.matchAll(/class="field-error" data-field="([^"]+)"/g)].map((m) => m[1]);
    expect(errors).toEqual(['client.firstName', 'client.email', 'client.phone']);
    expect(body).toContain('value="López"');
    const retry = await postForm(url, clientFields(formToken(body)));
    expect(retry.status).toBe(303);
  });
});

describe('confirmation, lookup and cancel', () => {
  const book = async (): Promise<{ location: string }> => {
    const token = formToken((await text(slotUrl('08:00'))).body);
    const res = await postForm(slotUrl('08:00'), clientFields(token, { 'client.firstName': 'Ana <b>' }));
    return { location: res.headers.get('location') ?? '' };
  };

  it('shows the name, the recorded confirmation code and a cancel link', async () => {
    const { location } = await book();
    const page = await text(`${sandbox.url}${location}`);
    const [booking] = sandbox.site.bookings();
    expect(booking?.confirmationCode).toMatch(/^[A-Z]{8}$/);
    expect(page.body).toContain('<span class="client-name">Ana &lt;b&gt; López</span>');
    expect(page.body).toContain(`<strong class="confirmation-code">${booking?.confirmationCode}</strong>`);
    expect(page.body).toContain(`href="/schedule/la-villa/appointments/${booking?.id}/cancel"`);
    expect((await fetch(`${sandbox.url}/schedule/la-villa/confirmation/999999`)).status).toBe(404);
  });

  it('lists a client\'s appointments as JSON, and cancel frees the slot', async () => {
    await book();
    const api = `${sandbox.url}/schedule/la-villa/api/appointments?email=ANA%40example.test`;
    const list = (await (await fetch(api)).json()) as Array<Record<string, unknown>>;
    const [booking] = sandbox.site.bookings();
    expect(list).toEqual([
      {
        id: booking?.id, court: 1, calendarId: '5001', date: DAY, time: '08:00', firstName: 'Ana <b>', lastName: 'López',
        email: 'ana@example.test', confirmationCode: booking?.confirmationCode, status: 'booked',
      },
    ]);
    expect((await fetch(`${sandbox.url}/schedule/la-villa/api/appointments`)).status).toBe(400);
    const cancel = await fetch(`${sandbox.url}/schedule/la-villa/appointments/${booking?.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(await cancel.text()).toContain('appointment-cancelled');
    expect(((await (await fetch(api)).json()) as Array<{ status: string }>)[0]?.status).toBe('cancelled');
    expect((await text(slotUrl('08:00'))).body).toContain('booking-form');
    await book();
    expect(sandbox.site.bookings().map((b) => b.status)).toEqual(['cancelled', 'booked']);
  });
});

describe('controls', () => {
  it('blocks every public page with "unusual traffic" and records blocked POSTs; controls stay reachable', async () => {
    const token = formToken((await text(slotUrl('09:00'))).body);
    expect((await postJson(`${sandbox.url}/__sandbox/control`, { blocked: true })).status).toBe(200);
    const page = await text(`${sandbox.url}${calendarPath(sandbox.venue(), 1, DAY)}`);
    expect(page.status).toBe(403);
    expect(page.body).toContain('class="blocked"');
    expect(page.body).toContain('unusual traffic');
    expect((await postForm(slotUrl('09:00'), clientFields(token))).status).toBe(403);
    expect((await submits()).map((s) => s.result)).toEqual(['blocked']);
    await postJson(`${sandbox.url}/__sandbox/control`, { blocked: false });
    expect((await postForm(slotUrl('09:00'), clientFields(token))).status).toBe(303);
  });

  it('books directly as a competitor, once per slot, ignoring the release', async () => {
    const body = { venue: 'la-villa', court: 2, date: DAY, time: '20:00' };
    const first = await postJson(`${sandbox.url}/__sandbox/book`, body);
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ booker: 'competitor', court: 2, calendarId: '5002', status: 'booked' });
    expect((await postJson(`${sandbox.url}/__sandbox/book`, body)).status).toBe(409);
    expect((await postJson(`${sandbox.url}/__sandbox/book`, { ...body, time: '20:30' })).status).toBe(404);
    expect((await postJson(`${sandbox.url}/__sandbox/book`, { venue: 'la-villa' })).status).toBe(400);
    expect(await submits()).toEqual([]);
  });

  it('fires a scheduled competitor at release + delay on the site clock', async () => {
    const res = await postJson(`${sandbox.url}/__sandbox/competitors`, { venue: 'la-villa', court: 1, date: DAY, time: '10:00', delayAfterReleaseMs: 150 });
    expect(await res.json()).toEqual({ scheduled: true, fireAt: new Date(T0 + 3_600_000 + 150).toISOString() });
    clock.advance(3_600_000 + 149);
    await Promise.resolve();
    expect(sandbox.site.bookings()).toEqual([]);
    clock.advance(1);
    await sandbox.site.competitorsSettled();
    expect(sandbox.site.bookings()).toEqual([
      expect.objectContaining({ booker: 'competitor', time: '10:00', arrivedAt: new Date(T0 + 3_600_000 + 150).toISOString() }),
    ]);
  });

  it('delays public responses by slowMs on the injected clock', async () => {
    await postJson(`${sandbox.url}/__sandbox/control`, { slowMs: 2_000 });
    let done = false;
    const pending = fetch(slotUrl('09:00')).then((r) => {
      done = true;
      return r;
    });
    await expect.poll(() => clock.pendingSleeps()).toBe(1);
    expect(done).toBe(false);
    clock.advance(2_000);
    expect((await pending).status).toBe(200);
    expect((await fetch(`${sandbox.url}/__sandbox/clock`)).status).toBe(200);
  });

  it('start is idempotent and stop is safe twice', async () => {
    const other = await startTestSandbox({ clock });
    expect(await other.site.start(0)).toEqual({ url: other.url, port: Number(new URL(other.url).port) });
    expect(other.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await other.stop();
    await other.stop();
    expect(other.site.url()).toBeNull();
  });
});
