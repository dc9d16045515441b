import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type BrowserLease, type ChromiumPool } from '../src/booking/browser.js';
import { createAcuityFlow, prepareAcuityAttempt, submitAcuityAttempt, type AcuityMode } from '../src/booking/flows/acuity.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import type { VenueConfig } from '../src/config/schema.js';
import { startTestSandbox, T0, type TestSandbox } from './helpers/sandbox.js';

/**
 * The Acuity flow in both modes (request: HTTP through the page's request context; rendered: fill and
 * click) against the sandbox site, real Chromium. The same behaviour is pinned for both.
 */

const DAY = '2027-07-23';
const USER = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' };
const silent = { info() {}, warn() {} };
let sandbox: TestSandbox;
let clock: ManualClock;
let pool: ChromiumPool;
let lease: BrowserLease | null = null;

const target = (time: string, court = 1, venue?: VenueConfig) => ({ venue: venue ?? sandbox.venue(), court, targetDate: DAY, targetTime: time });
const page = async () => {
  lease = await pool.acquire();
  return lease;
};
/** An intent that is always granted. */
const noop = async (): Promise<boolean> => true;
/** Lets pending I/O (a POST already on its way) reach the site before a check. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

beforeAll(async () => {
  clock = createManualClock(T0);
  sandbox = await startTestSandbox({ clock });
  pool = createBrowserPool({ executablePath: findChromium(null), headless: true, logger: silent });
});
afterAll(async () => {
  await lease?.release();
  await pool.close();
  await sandbox.stop();
});
beforeEach(async () => {
  await lease?.release();
  lease = null;
  clock.set(T0);
  sandbox.site.reset();
});

const PHASES: Record<AcuityMode, string[]> = {
  request: ['warm_ms', 'before_submit_ms', 'post_ms', 'confirm_ms', 'total_ms'],
  rendered: ['prepare_ms', 'fill_ms', 'before_submit_ms', 'submit_to_result_ms', 'total_ms'],
};

describe.each<AcuityMode>(['request', 'rendered'])('acuity flow, %s mode, against the sandbox (real Chromium)', (mode) => {
  const submit = (handle: Parameters<typeof submitAcuityAttempt>[0], args: Omit<Parameters<typeof submitAcuityAttempt>[1], 'mode'>) =>
    submitAcuityAttempt(handle, { ...args, mode });

  it('books a released slot and returns the code the site recorded', async () => {
    const flow = createAcuityFlow({ clock, mode });
    const handle = await flow.prepare(await page(), target('09:00'));
    expect(handle.preparedState).toBe('form');
    expect(handle.url).toBe(`${sandbox.url}/schedule/la-villa/appointment/1001/calendar/5001/datetime/2027-07-23T09%3A00%3A00-06%3A00`);
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 15_000 });
    const [booking] = sandbox.site.bookings();
    expect(result).toMatchObject({ outcome: 'booked', submitted: true, message: null });
    expect(result.confirmationCode).toMatch(/^[A-Z]{8}$/);
    expect(result.confirmationCode).toBe(booking?.confirmationCode);
    expect(booking).toMatchObject({ court: 1, time: '09:00', firstName: 'Ana', lastName: 'López', email: USER.email, phone: USER.phone });
    expect(Object.keys(result.timingsMs)).toEqual(expect.arrayContaining(PHASES[mode]));
    expect(sandbox.site.submits().map((s) => s.result)).toEqual(['booked']);

  });

  it('awaits onBeforeSubmit before the booking POST leaves the browser (form kept at prepare, and fetched at the instant)', async () => {
    for (const [time, openAtMs] of [['08:00', T0], ['10:00', T0 + 3_600_000]] as const) {
      sandbox.site.reset();
      clock.set(T0);
      const handle = await prepareAcuityAttempt(lease ?? (await page()), target(time), { clock });
      clock.set(openAtMs);
      let callbackDoneAtMs = 0;
      const result = await submit(handle, {
        user: USER,
        timeoutMs: 15_000,
        onBeforeSubmit: async () => {
          await settle();
          expect(sandbox.site.submits()).toEqual([]);
          clock.advance(1_000); // the intent write "takes" one second on the site's clock
          callbackDoneAtMs = clock.now();
          return true;
        },
      });
      expect(result.outcome).toBe('booked');
      const submits = sandbox.site.submits();
      expect(submits).toHaveLength(1);
      expect(Date.parse(submits[0]?.arrivedAt ?? '')).toBeGreaterThanOrEqual(callbackDoneAtMs);
      expect(callbackDoneAtMs).toBe(openAtMs + 1_000);
    }
  });

  it('loads again a page prepared before the release and books once it opens', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('10:00'), { clock });
    expect(handle.preparedState).toBe('not_open_yet');
    clock.set(T0 + 3_600_000);
    const result = await submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 15_000 });
    expect(result.outcome).toBe('booked');
    expect(result.timingsMs).toHaveProperty(mode === 'request' ? 'get_ms' : 'reload_ms');
    expect(sandbox.site.submits().map((s) => s.arrivedAt)).toEqual([new Date(T0 + 3_600_000).toISOString()]);
  });

  it('returns not_open_yet without submitting before the release', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('10:00'));
    let called = false;
    const result = await submit(handle, { user: USER, onBeforeSubmit: async () => ((called = true), true), timeoutMs: 15_000 });
    expect(result).toMatchObject({ outcome: 'not_open_yet', submitted: false, confirmationCode: null });
    expect(called).toBe(false);
    expect(sandbox.site.submits()).toEqual([]);
  });

  it('returns slot_taken: before loading (not submitted) and when another booker wins the race (submitted)', async () => {
    sandbox.site.book({ venue: 'la-villa', court: 1, date: DAY, time: '09:00' });
    const taken = await submit(await prepareAcuityAttempt(await page(), target('09:00')), { user: USER, onBeforeSubmit: noop, timeoutMs: 15_000 });
    expect(taken).toMatchObject({ outcome: 'slot_taken', submitted: false });

    const handle = await prepareAcuityAttempt(lease!, target('08:00', 2));
    expect(handle.preparedState).toBe('form');
    sandbox.site.book({ venue: 'la-villa', court: 2, date: DAY, time: '08:00' });
    const raced = await submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 15_000 });
    expect(raced).toMatchObject({ outcome: 'slot_taken', submitted: true, confirmationCode: null });
    expect(sandbox.site.submits().map((s) => s.result)).toEqual(['slot_taken']);
    expect(sandbox.site.bookings().filter((b) => b.email === USER.email)).toEqual([]);
  });

  it('returns site_blocked on a block page, before or after the submit', async () => {
    sandbox.site.setControl({ blocked: true });
    const blocked = await submit(await prepareAcuityAttempt(await page(), target('09:00')), { user: USER, onBeforeSubmit: noop, timeoutMs: 15_000 });
    expect(blocked).toMatchObject({ outcome: 'site_blocked', submitted: false });
    expect(sandbox.site.submits()).toEqual([]);
    sandbox.site.setControl({ blocked: false });
    const handle = await prepareAcuityAttempt(lease!, target('09:00'));
    sandbox.site.setControl({ blocked: true });
    const afterSubmit = await submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 15_000 });
    expect(afterSubmit).toMatchObject({ outcome: 'site_blocked', submitted: true });
    expect(sandbox.site.submits().map((s) => s.result)).toEqual(['blocked']);
  });

  it('returns site_changed for a page without the booking form', async () => {
    const moved = { ...sandbox.venue(), courts: { '1': '9999' } };
    const result = await submit(await prepareAcuityAttempt(await page(), target('09:00', 1, moved)), { user: USER, onBeforeSubmit: noop, timeoutMs: 15_000 });
    expect(result).toMatchObject({ outcome: 'site_changed', submitted: false });
    expect(result.message).toContain('HTTP 404');
  });

  it('does not submit when onBeforeSubmit fails, and reports field errors as error', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'));
    const failed = await submit(handle, {
      user: USER,
      timeoutMs: 15_000,
      onBeforeSubmit: async () => {
        throw new Error('database down');
      },
    });
    expect(failed).toMatchObject({ outcome: 'error', submitted: false });
    expect(failed.message).toContain('database down');
    expect(sandbox.site.submits()).toEqual([]);

    const invalid = await submit(handle, { user: { ...USER, email: 'ana@' }, onBeforeSubmit: noop, timeoutMs: 15_000 });
    expect(invalid).toMatchObject({ outcome: 'error', submitted: true });
    expect(invalid.message).toContain('Email: is not a valid email address');
    expect(sandbox.site.bookings()).toEqual([]);
    expect(sandbox.site.submits().map((s) => s.result)).toEqual(['invalid']);
  });

  it('sends nothing and answers interrupted when the intent is refused (the row is no longer held)', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'));
    const refused = await submit(handle, { user: USER, timeoutMs: 15_000, onBeforeSubmit: async () => false });
    expect(refused).toMatchObject({ outcome: 'interrupted', submitted: false, confirmationCode: null });
    expect(refused.message).toBe('not submitted: the reservation is no longer held by this daemon (cancelled or taken over)');
    expect(sandbox.site.submits()).toEqual([]);
    expect(sandbox.site.bookings()).toEqual([]);
  });

  it('returns timeout (submitted) when the answer to the POST is slow, and the site holds the booking', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'));
    const control = await fetch(`${sandbox.url}/__sandbox/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ slowSubmitMs: 600_000 }),
    });
    expect(control.status).toBe(200);
    const result = await submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 1_000 });
    expect(result).toMatchObject({ outcome: 'timeout', submitted: true, confirmationCode: null });
    expect(sandbox.site.bookings()).toEqual([expect.objectContaining({ court: 1, time: '09:00', email: USER.email, status: 'booked' })]);
    sandbox.site.setControl({ slowSubmitMs: 0 });
    clock.advance(600_000); // lets the sandbox send its late answer before the page goes away
  });

  it('returns timeout (submitted) when no page of the site answers in time', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'));
    sandbox.site.setControl({ slowMs: 600_000 });
    const result = await submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 1_500 });
    expect(result).toMatchObject({ outcome: 'timeout', submitted: true });
    sandbox.site.setControl({ slowMs: 0 });
    clock.advance(600_000);
    expect(sandbox.site.bookings()).toHaveLength(1);
  });
});
