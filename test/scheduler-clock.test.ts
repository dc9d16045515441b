import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { getReservation, insertReservation, insertUser } from '../src/reservations/index.js';
import { createScheduler, type Scheduler } from '../src/scheduling/daemon.js';
import type { SiteClockEstimate } from '../src/scheduling/site-clock.js';
import type { SiteClockCache } from '../src/scheduling/site-clock-cache.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createFakeExecutor } from './helpers/fake-executor.js';
import { LA_VILLA, type TestVenueInput } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * The REAL scheduler (`createScheduler`) on a real test database, driven by a ManualClock, with a fake
 * executor that waits for the fire instant on the same clock (as the real one does) and records when it is
 * called (claim time, release − prepareLeadMs) and when it "submits". Covers C07 (long sleeps) and C05's
 * "the booking starts exactly once" across the repeated hour, and the wake on INSERT.
 *
 * Parking: the loop, each job's heartbeat and each job's executor wait on the clock; a test moves the clock
 * only when every one of them waits (see `settle`), so nothing is measured mid-tick. No fixed sleeps.
 */

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const at = (text: string): number => Date.parse(text);
const site = { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' };

let database: TestDatabase;
let userId: number;
let scheduler: Scheduler | null = null;
const warnings: Error[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(warning);
};

beforeAll(async () => {
  database = await createTestDatabase();
  process.on('warning', onWarning);
});
afterAll(async () => {
  process.off('warning', onWarning);
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  userId = await insertUser(database.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' });
});
afterEach(async () => {
  await scheduler?.stop(0);
  scheduler = null;
});

interface Harness {
  clock: ManualClock;
  executor: ReturnType<typeof createFakeExecutor>;
  /** Every duration the scheduler asked the clock to sleep (the fake executor's own sleeps excluded). */
  requestedSleepsMs: number[];
  notify: () => void;
  /** Waits until the loop, every job's heartbeat and every job's executor wait on the clock. */
  settle: () => Promise<void>;
  /** Moves the clock to `atMs` (forward), then settles. */
  moveTo: (atMs: number) => Promise<void>;
}

function startScheduler(config: Config, startMs: number, siteClocks?: SiteClockCache): Harness {
  const manual = createManualClock(startMs);
  const requestedSleepsMs: number[] = [];
  const clock: ManualClock = { ...manual, sleep: (ms, signal) => (requestedSleepsMs.push(ms), manual.sleep(ms, signal)) };
  const executor = createFakeExecutor(manual);
  let notify: () => void = () => {};
  const running = createScheduler({ db: database.db, config, clock, logger: createSilentLogger(), executor, daemonId: 'clock-test', subscribe: (cb) => (notify = cb), ...(siteClocks ? { siteClocks } : {}) });
  scheduler = running;
  running.start();
  // Sleepers never exceed this sum (a job's executor is parked from the moment the job exists), so equality
  // means all of them wait: the loop, one heartbeat and one executor per job.
  const parked = (): boolean => running.inFlight() === executor.parked() && manual.pendingSleeps() === 1 + 2 * running.inFlight();
  const settle = async (): Promise<void> => {
    await waitFor('the scheduler to park on the clock', () => parked() || undefined, { timeoutMs: 10_000, everyMs: 1 });
  };
  return {
    clock: manual,
    executor,
    requestedSleepsMs,
    notify: () => notify(),
    settle,
    moveTo: async (atMs) => {
      manual.set(atMs);
      await settle();
    },
  };
}

function configWith(venue: TestVenueInput, daemon: Record<string, number> = {}): Config {
  return parseConfig({ daemon, venues: { club: { ...venue, site } } });
}

const statusOf = async (id: number): Promise<string | undefined> => (await getReservation(database.db, id))?.status;

describe('the scheduler under a manual clock', () => {
  it('C07 a release 45 days away: claimed at release − prepareLeadMs, submitted at the release, no timer overflow', async () => {
    // 2027-02-17 09:00 in Guatemala (−06:00); released 2 days before at 06:00 local = 2027-02-15T12:00Z.
    const config = configWith({ ...LA_VILLA, releaseRule: { daysBefore: 2, at: '06:00' } }, { prepareLeadMs: 300_000 });
    const id = await insertReservation(database.db, { userId, venue: 'club', targetDate: '2027-02-17', targetTime: '09:00', courts: [2, 1] });
    const h = startScheduler(config, at('2027-01-01T00:00:00.000Z'));
    await h.settle();
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', release_at: new Date('2027-02-15T12:00:00.000Z') });
    expect(at('2027-02-15T12:00:00.000Z') - h.clock.now()).toBe(3_931_200_000);

    for (let i = 0; i < 3; i++) await h.moveTo(h.clock.now() + 30_000); // a few poll intervals: nothing due
    await h.moveTo(at('2027-02-15T11:54:59.999Z'));
    expect(h.executor.calls).toEqual([]);
    while (h.executor.calls.length === 0 && h.clock.now() < at('2027-02-15T11:55:01.000Z')) await h.moveTo(h.clock.now() + 10);
    const [call] = h.executor.calls;
    expect(call).toBeDefined();
    expect(call!.calledAtMs).toBeGreaterThanOrEqual(at('2027-02-15T11:55:00.000Z'));
    expect(call!.calledAtMs).toBeLessThanOrEqual(at('2027-02-15T11:55:00.010Z')); // one 10 ms step of this test
    expect(iso(call!.fireAtMs)).toBe('2027-02-15T12:00:00.000Z');
    expect(await statusOf(id)).toBe('claimed');

    // Up to the release in 10 s steps (heartbeats every 10 s keep the 30 s lease), then the last millisecond.
    while (h.clock.now() + 10_000 < at('2027-02-15T12:00:00.000Z')) await h.moveTo(h.clock.now() + 10_000);
    await h.moveTo(at('2027-02-15T11:59:59.999Z'));
    expect(call!.submittedAtMs).toBeNull();
    await h.moveTo(at('2027-02-15T12:00:00.000Z'));
    expect(iso(call!.submittedAtMs)).toBe('2027-02-15T12:00:00.000Z');
    await waitFor('the result to be recorded', async () => (await statusOf(id)) === 'succeeded' || undefined, { everyMs: 5 });
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: `FAKE-${id}` });
    expect(h.executor.calls).toHaveLength(1);

    // The loop asks for at most a poll interval, a heartbeat for leaseMs / 3: never near setTimeout's 24.8 days.
    expect(Math.max(...h.requestedSleepsMs)).toBeLessThanOrEqual(Math.max(config.daemon.pollIntervalMs, config.daemon.leaseMs / 3));
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
  });

  it('C05 a cron release in the repeated hour (01:30 New York on 7 Nov): the booking starts exactly once', async () => {
    // Slot 2027-11-08 07:00; horizonDays 1 → the first 01:30 run on or after 7 Nov: 05:30Z (01:30 EDT).
    const venue = { ...LA_VILLA, timeZone: 'America/New_York', releaseRule: { cron: '30 1 * * *', horizonDays: 1 } };
    const config = configWith(venue);
    const id = await insertReservation(database.db, { userId, venue: 'club', targetDate: '2027-11-08', targetTime: '07:00', courts: [1] });
    const h = startScheduler(config, at('2027-11-07T05:00:00.000Z'));
    await h.settle();
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', release_at: new Date('2027-11-07T05:30:00.000Z') });

    while (h.clock.now() < at('2027-11-07T07:00:00.000Z')) await h.moveTo(h.clock.now() + 60_000);
    expect(h.executor.calls.map((c) => ({ claimed: iso(c.calledAtMs), fired: iso(c.submittedAtMs) }))).toEqual([
      { claimed: '2027-11-07T05:29:00.000Z', fired: '2027-11-07T05:30:00.000Z' },
    ]);
    expect(await statusOf(id)).toBe('succeeded');
  });

  it('an INSERT wakes the loop at once: the row is validated without moving the clock', async () => {
    const config = configWith({ ...LA_VILLA, releaseRule: { hoursBefore: 48 } }, { pollIntervalMs: 300_000 });
    const h = startScheduler(config, at('2027-07-01T00:00:00.000Z'));
    await h.settle();
    const sleepsBefore = h.requestedSleepsMs.length;
    const id = await insertReservation(database.db, { userId, venue: 'club', targetDate: '2027-07-23', targetTime: '09:00', courts: [1] });
    expect(await statusOf(id)).toBe('pending');
    h.notify();
    await waitFor('the woken tick to validate the row', async () => (await statusOf(id)) === 'scheduled' || undefined, { timeoutMs: 10_000, everyMs: 2 });
    await h.settle();
    expect(h.clock.now()).toBe(at('2027-07-01T00:00:00.000Z'));
    expect(h.requestedSleepsMs.length).toBe(sleepsBefore + 1);
    expect(await getReservation(database.db, id)).toMatchObject({ release_at: new Date('2027-07-21T15:00:00.000Z') });
  });

  it('a row re-claimed by its own daemon (lease lapsed under a running job) never gets a second job', async () => {
    const config = configWith({ ...LA_VILLA, releaseRule: { hoursBefore: 48 } });
    const id = await insertReservation(database.db, { userId, venue: 'club', targetDate: '2027-07-23', targetTime: '09:00', courts: [1] });
    const h = startScheduler(config, at('2027-07-21T14:59:00.000Z'));
    await h.settle();
    expect(h.executor.calls).toHaveLength(1);
    // The job waits for its release; its lease lapses (as if heartbeats had missed the database).
    await database.db.updateTable('reservations').set({ lease_expires_at: new Date(at('2027-07-21T14:59:00.000Z')) }).where('id', '=', String(id)).execute();
    await h.moveTo(h.clock.now() + config.daemon.pollIntervalMs); // the next tick, before the next heartbeat
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'claimed', lease_owner: 'clock-test' });
    expect((await getReservation(database.db, id))!.lease_expires_at!.getTime()).toBe(at('2027-07-21T14:59:30.000Z') + config.daemon.leaseMs);
    expect(h.executor.calls).toHaveLength(1);
    await h.moveTo(at('2027-07-21T15:00:00.000Z'));
    await waitFor('the result', async () => (await statusOf(id)) === 'succeeded' || undefined, { everyMs: 5 });
    expect(h.executor.calls.map((c) => iso(c.submittedAtMs))).toEqual(['2027-07-21T15:00:00.000Z']);
  });

  it('a site clock 30 s ahead (known from the start-up estimate): claimed 30 s earlier, fired at the release on the site clock', async () => {
    const estimate = { offsetMs: 30_000, uncertaintyMs: 5 } as SiteClockEstimate;
    const asked: string[] = [];
    const siteClocks: SiteClockCache = {
      offsetFor: async (venueId) => (asked.push(venueId), estimate),
      known: () => estimate,
      latest: () => estimate,
    };
    const config = configWith({ ...LA_VILLA, releaseRule: { hoursBefore: 48 } });
    const id = await insertReservation(database.db, { userId, venue: 'club', targetDate: '2027-07-23', targetTime: '09:00', courts: [1] });
    // Release 15:00:00Z on the site's clock = 14:59:30Z on ours; the prepare lead (60 s) counts from there.
    const h = startScheduler(config, at('2027-07-21T14:58:00.000Z'), siteClocks);
    await h.settle();
    expect(asked).toEqual(['club']); // measured once at start, in the background
    while (h.executor.calls.length === 0 && h.clock.now() < at('2027-07-21T14:59:00.000Z')) await h.moveTo(h.clock.now() + 100);
    expect(h.executor.calls.map((c) => ({ claimed: iso(c.calledAtMs), fireAt: iso(c.fireAtMs) }))).toEqual([
      { claimed: '2027-07-21T14:58:30.000Z', fireAt: '2027-07-21T14:59:30.005Z' },
    ]);
    await h.moveTo(at('2027-07-21T14:59:30.005Z'));
    await waitFor('the result', async () => (await statusOf(id)) === 'succeeded' || undefined, { everyMs: 5 });
    expect(iso(h.executor.calls[0]!.submittedAtMs)).toBe('2027-07-21T14:59:30.005Z');
  });

  it('polling-baseline mode: no wake on INSERT, no site clock, claimed on the first 2 s poll after the release', async () => {
    const siteClocks: SiteClockCache = {
      offsetFor: async () => {
        throw new Error('the baseline must not measure the site clock');
      },
      known: () => ({ offsetMs: 30_000, uncertaintyMs: 5 }) as SiteClockEstimate,
      latest: () => ({ offsetMs: 30_000, uncertaintyMs: 5 }) as SiteClockEstimate,
    };
    const config = parseConfig({ daemon: { mode: 'polling-baseline', pollIntervalMs: 2_000 }, venues: { club: { ...LA_VILLA, site } } });
    const h = startScheduler(config, at('2027-07-21T14:59:58.500Z'), siteClocks);
    await h.settle();
    const id = await insertReservation(database.db, { userId, venue: 'club', targetDate: '2027-07-23', targetTime: '09:00', courts: [1] });
    h.notify();
    await h.settle();
    expect(await statusOf(id)).toBe('pending'); // nothing woke the loop
    await h.moveTo(at('2027-07-21T15:00:00.500Z')); // the first poll: validated; its release has passed
    while (h.executor.calls.length === 0 && h.clock.now() < at('2027-07-21T15:00:06.000Z')) await h.moveTo(h.clock.now() + 500);
    await waitFor('the result', async () => (await statusOf(id)) === 'succeeded' || undefined, { everyMs: 5 });
    expect(h.executor.calls.map((c) => ({ claimed: iso(c.calledAtMs), fireAt: iso(c.fireAtMs), fired: iso(c.submittedAtMs) }))).toEqual([
      { claimed: '2027-07-21T15:00:00.500Z', fireAt: '2027-07-21T15:00:00.000Z', fired: '2027-07-21T15:00:00.500Z' },
    ]);
    // The loop only ever sleeps one poll interval (the other sleeps are the job's lease heartbeat).
    expect(new Set(h.requestedSleepsMs.filter((ms) => ms !== config.daemon.leaseMs / 3))).toEqual(new Set([2_000]));
  });
});
