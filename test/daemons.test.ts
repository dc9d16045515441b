import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reconcileAbandonedBookings } from '../src/booking-session/index.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import {
  claimDue,
  flagUnservedBookings,
  getReservation,
  insertReservation,
  insertUser,
  listDaemons,
  listLiveDaemons,
  listPending,
  markDaemonStopped,
  nextReleaseAt,
  pruneGoneDaemons,
  registerDaemon,
  type ReservationInput,
} from '../src/reservations/index.js';
import { createDaemonRegistration, type DaemonRegistration } from '../src/scheduling/daemon-registration.js';
import { createScheduler, type Scheduler } from '../src/scheduling/daemon.js';
import { validatePendingOnce } from '../src/scheduling/validate-pending.js';
import { createSilentLogger, type Logger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { createFakeExecutor } from './helpers/fake-executor.js';
import { LA_VILLA } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * Several daemons with different venue lists on one database (table `daemons`, migration 0005), on the real
 * Postgres with a manual clock: each daemon's row (start, beat, stop, prune), who is live, claims and wakes
 * limited to a daemon's venues, validation that leaves another live daemon's venue alone and rejects a venue
 * nobody serves, abandoned bookings of a venue nobody serves, and two real schedulers sharing the database.
 */

/** 2027-07-21 08:58 in Guatemala; the 09:00 slot of 2027-07-23 is released at 15:00Z (hoursBefore 48). */
const NOW = new Date('2027-07-21T14:58:00.000Z');
const RELEASE = '2027-07-21T15:00:00.000Z';
const SLOT_DATE = '2027-07-23';
const at = (ms: number): Date => new Date(NOW.getTime() + ms);
const site = { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' };

let database: TestDatabase;
let userId: number;
const running: Array<{ stop: () => Promise<void> }> = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  userId = await insertUser(database.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' });
});
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

/** A daemon config serving `venues` (each a copy of la-villa). */
function configFor(...venues: string[]): Config {
  return parseConfig({ venues: Object.fromEntries(venues.map((v) => [v, { ...LA_VILLA, site }])) });
}

const row = (venue: string, extra: Partial<ReservationInput> = {}): Promise<number> =>
  insertReservation(database.db, { userId, venue, targetDate: SLOT_DATE, targetTime: '09:00', courts: [2, 1], ...extra });
/** Another person (one booking per person at a time: rows of one person at one slot would be duplicates). */
const person = (name: string): Promise<number> => insertUser(database.db, { firstName: name, lastName: 'López', email: `${name.toLowerCase()}@example.test`, phone: '+502 5555 1234' });
const statusOf = async (id: number): Promise<string | undefined> => (await getReservation(database.db, id))?.status;

/** A pino logger whose lines are kept (level label, msg and fields). */
function recordingLogger(): { logger: Logger; lines: Array<{ level: string; msg: string; [key: string]: unknown }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as { level: string; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, stream), lines };
}

function registration(clock: ManualClock, id: string, venues: string[], logger: Logger = createSilentLogger()): DaemonRegistration {
  const r = createDaemonRegistration({ db: database.db, clock, logger, record: { id, host: `host-${id}`, pid: 4242, venues, leaseMs: 30_000 } });
  running.push(r);
  return r;
}

describe('a daemon\'s row in daemons', () => {
  it('is written at start, seen_at refreshed every third of the lease, stopped_at set on stop, and kept', async () => {
    const clock = createManualClock(NOW.getTime());
    // A daemon stopped 25 h ago: pruned by the first beat.
    await registerDaemon(database.db, { id: 'old', host: 'h', pid: 1, venues: ['club-a'], leaseMs: 30_000, now: at(-26 * 3_600_000) });
    await markDaemonStopped(database.db, { id: 'old', now: at(-25 * 3_600_000) });
    const reg = registration(clock, 'daemon-a', ['club-a', 'club-c']);
    await reg.start();
    const record = { id: 'daemon-a', host: 'host-daemon-a', pid: 4242, venues: ['club-a', 'club-c'], leaseMs: 30_000, startedAt: NOW };
    expect((await listDaemons(database.db)).map((d) => d.id)).toEqual(['old', 'daemon-a']);
    expect((await listDaemons(database.db))[1]).toEqual({ ...record, seenAt: NOW, stoppedAt: null });

    clock.advance(9_999);
    expect((await listDaemons(database.db))[1]!.seenAt).toEqual(NOW);
    clock.advance(1);
    await waitFor('the first beat', async () => (await listDaemons(database.db)).length === 1 || undefined);
    expect(await listDaemons(database.db)).toEqual([{ ...record, seenAt: at(10_000), stoppedAt: null }]);
    await waitFor('the beat loop to sleep', () => clock.pendingSleeps() === 1 || undefined);
    clock.advance(10_000);
    await waitFor('the second beat', async () => (await listDaemons(database.db))[0]!.seenAt.getTime() === at(20_000).getTime() || undefined);

    clock.advance(5_000);
    await reg.stop();
    expect(await listDaemons(database.db)).toEqual([{ ...record, seenAt: at(25_000), stoppedAt: at(25_000) }]);
    expect(clock.pendingSleeps()).toBe(0);
    expect(await listLiveDaemons(database.db, { now: at(25_000) })).toEqual([]);
  });

  it('is written again by the next beat when someone deleted it', async () => {
    const clock = createManualClock(NOW.getTime());
    await registration(clock, 'daemon-a', ['club-a']).start();
    await database.db.deleteFrom('daemons').execute();
    await waitFor('the beat loop to sleep', () => clock.pendingSleeps() === 1 || undefined);
    clock.advance(10_000);
    const [again] = await waitFor('the row to be back', async () => {
      const rows = await listDaemons(database.db);
      return rows.length === 1 ? rows : undefined;
    });
    expect(again).toMatchObject({ id: 'daemon-a', venues: ['club-a'], startedAt: at(10_000), seenAt: at(10_000), stoppedAt: null });
  });

  it('live = not stopped and seen within two of its own leases; gone for a day = pruned', async () => {
    const reg = (id: string, venues: string[], seenAgoMs: number, leaseMs = 30_000) => registerDaemon(database.db, { id, host: 'h', pid: 1, venues, leaseMs, now: at(-seenAgoMs) });
    await reg('fresh', ['club-a'], 59_999);
    await reg('stale', ['club-b'], 60_000);
    await reg('long-lease', ['club-b', 'club-c'], 200_000, 120_000);
    await reg('stopped', ['club-c'], 1_000);
    await markDaemonStopped(database.db, { id: 'stopped', now: NOW });
    expect((await listLiveDaemons(database.db, { now: NOW })).map((d) => d.id)).toEqual(['fresh', 'long-lease']);
    expect((await listLiveDaemons(database.db, { now: NOW, venues: ['club-c'] })).map((d) => d.id)).toEqual(['long-lease']);
    expect((await listLiveDaemons(database.db, { now: NOW, venues: ['club-z'] })).map((d) => d.id)).toEqual([]);

    // A day later the three never stopped (last seen more than a day before) are pruned; 'stopped' (stopped
    // exactly a day before) is kept.
    expect(await pruneGoneDaemons(database.db, { now: at(24 * 3_600_000), olderThanMs: 24 * 3_600_000 })).toBe(3);
    expect((await listDaemons(database.db)).map((d) => d.id)).toEqual(['stopped']);
  });
});

describe('claims and wakes of a daemon\'s own venues', () => {
  const due = (venue: string, releaseInMs: number) => row(venue, { status: 'scheduled', releaseAt: at(releaseInMs), slotAt: at(releaseInMs + 48 * 3_600_000) });

  it('claimDue claims only rows of the venues it is given', async () => {
    const a = await due('club-a', -1_000);
    const b = await due('club-b', -2_000);
    const claim = (owner: string, venues: string[]) => claimDue(database.db, { owner, now: NOW, horizonMs: 60_000, leaseMs: 30_000, limit: 10, venues });
    expect(await claim('daemon-x', [])).toEqual([]);
    expect((await claim('daemon-a', ['club-a'])).map((r) => [r.id, r.venue, r.lease_owner])).toEqual([[a, 'club-a', 'daemon-a']]);
    expect(await getReservation(database.db, b)).toMatchObject({ status: 'scheduled', lease_owner: null });
    expect((await claim('daemon-b', ['club-b', 'club-c'])).map((r) => [r.id, r.venue, r.lease_owner])).toEqual([[b, 'club-b', 'daemon-b']]);
  });

  it('nextReleaseAt wakes only for the venues it is given', async () => {
    await due('club-a', 5 * 60_000);
    await due('club-b', 60_000);
    expect(await nextReleaseAt(database.db, ['club-a'])).toEqual(new Date('2027-07-21T15:03:00.000Z'));
    expect(await nextReleaseAt(database.db, ['club-a', 'club-b'])).toEqual(new Date('2027-07-21T14:59:00.000Z'));
    expect(await nextReleaseAt(database.db, ['club-z'])).toBeNull();
  });

  it('listPending puts the daemon\'s own venues first (another daemon\'s rows cannot hide them)', async () => {
    const b1 = await row('club-b');
    await row('club-b');
    const a = await row('club-a');
    expect((await listPending(database.db, 2, ['club-a'])).map((r) => r.id)).toEqual([a, b1]);
  });
});

describe('validation of a venue this daemon does not serve', () => {
  it('stays pending while a live daemon serves it (one warning per row), then that daemon schedules it; a venue nobody serves is rejected', async () => {
    await registerDaemon(database.db, { id: 'daemon-b', host: 'h', pid: 2, venues: ['club-b'], leaseMs: 30_000, now: at(-50_000) });
    const b = await row('club-b');
    const z = await row('club-z');
    const { logger, lines } = recordingLogger();
    const noticed = new Set<number>();
    const configA = configFor('club-a', 'club-c');
    expect(await validatePendingOnce({ db: database.db, config: configA, now: NOW, logger, noticed })).toEqual({ scheduled: 0, rejected: 1 });
    expect(await validatePendingOnce({ db: database.db, config: configA, now: at(5_000), logger, noticed })).toEqual({ scheduled: 0, rejected: 0 });
    expect(await getReservation(database.db, b)).toMatchObject({ status: 'pending', reason: null });
    expect(await getReservation(database.db, z)).toMatchObject({ status: 'rejected', reason: 'venue: unknown venue "club-z": no running daemon serves it (this daemon serves: club-a, club-c)', finished_at: NOW });
    expect(lines.filter((l) => l.level === 'warn').map((l) => [l.reservation_id, l.msg])).toEqual([
      [b, `reservation ${b}: venue "club-b" is not served by this daemon (it serves: club-a, club-c); left pending for daemon(s) daemon-b, which serve it`],
      [z, `reservation ${z} rejected: venue: unknown venue "club-z": no running daemon serves it (this daemon serves: club-a, club-c)`],
    ]);
    expect(lines.find((l) => l.reservation_id === b)?.serving_daemons).toEqual(['daemon-b']);

    expect(await validatePendingOnce({ db: database.db, config: configFor('club-b'), now: at(6_000), logger: createSilentLogger() })).toEqual({ scheduled: 1, rejected: 0 });
    expect(await getReservation(database.db, b)).toMatchObject({ status: 'scheduled', release_at: new Date(RELEASE) });
  });

  it('is rejected when the only daemons serving it are stale (last beat two leases ago) or stopped', async () => {
    await registerDaemon(database.db, { id: 'daemon-stale', host: 'h', pid: 2, venues: ['club-b'], leaseMs: 30_000, now: at(-60_000) });
    await registerDaemon(database.db, { id: 'daemon-stopped', host: 'h', pid: 3, venues: ['club-b'], leaseMs: 30_000, now: at(-5_000) });
    await markDaemonStopped(database.db, { id: 'daemon-stopped', now: at(-1_000) });
    const b = await row('club-b');
    await validatePendingOnce({ db: database.db, config: configFor('club-a'), now: NOW, logger: createSilentLogger() });
    expect(await getReservation(database.db, b)).toMatchObject({ status: 'rejected', reason: 'venue: unknown venue "club-b": no running daemon serves it (this daemon serves: club-a)' });
  });

  it('a daemons row written by hand with a huge lease_ms fails no tick, and counts with a lease of at most 1 hour', async () => {
    // 2 × 2147483647 overflowed PostgreSQL's integer: every validation that looked at the daemons failed.
    await sql`INSERT INTO daemons (id, host, pid, venues, lease_ms, started_at, seen_at)
              VALUES ('ghost', 'nowhere', 1, '{club-z}', 2147483647, ${at(-7_300_000)}, ${at(-7_199_000)}),
                     ('ghost-old', 'nowhere', 1, '{club-y}', 2147483647, ${at(-7_300_000)}, ${at(-7_200_000)})`.execute(database.db);
    const z = await row('club-z');
    const y = await row('club-y', { targetTime: '10:00' });
    expect(await validatePendingOnce({ db: database.db, config: configFor('club-a'), now: NOW, logger: createSilentLogger() })).toEqual({ scheduled: 0, rejected: 1 });
    expect(await statusOf(z)).toBe('pending'); // seen 1 h 59 min 59 s ago: within 2 × 1 h
    expect(await getReservation(database.db, y)).toMatchObject({ status: 'rejected', reason: 'venue: unknown venue "club-y": no running daemon serves it (this daemon serves: club-a)' });
    expect((await listLiveDaemons(database.db, { now: NOW })).map((d) => d.id)).toEqual(['ghost']);
  });

  it('a daemons row whose seen_at was set far ahead by hand does not serve its venue for ever; a beat 10 min ahead (clock skew) still does', async () => {
    await sql`INSERT INTO daemons (id, host, pid, venues, lease_ms, started_at, seen_at)
              VALUES ('future', 'nowhere', 1, '{club-z}', 30000, ${NOW}, '2099-01-01T00:00:00Z'),
                     ('skewed', 'h', 2, '{club-y}', 30000, ${NOW}, ${at(600_000)})`.execute(database.db);
    const z = await row('club-z');
    const y = await row('club-y', { targetTime: '10:00' });
    expect(await validatePendingOnce({ db: database.db, config: configFor('club-a'), now: NOW, logger: createSilentLogger() })).toEqual({ scheduled: 0, rejected: 1 });
    expect(await getReservation(database.db, z)).toMatchObject({ status: 'rejected', reason: 'venue: unknown venue "club-z": no running daemon serves it (this daemon serves: club-a)' });
    expect(await statusOf(y)).toBe('pending');
  });
});

describe('a booking abandoned at a venue this daemon does not serve', () => {
  it('is left to a live daemon that serves it; with none it goes to needs_attention with the reason; its own venue is taken over', async () => {
    await registerDaemon(database.db, { id: 'daemon-b', host: 'h', pid: 2, venues: ['club-b'], leaseMs: 30_000, now: at(-10_000) });
    const abandoned = { status: 'booking' as const, releaseAt: at(-60_000), slotAt: at(47 * 3_600_000), leaseOwner: 'daemon-dead', leaseExpiresAt: at(-1), now: at(-20_000) };
    const own = await row('club-a', abandoned);
    const others = await row('club-b', { ...abandoned, userId: await person('Ben') });
    const nobodys = await row('club-z', { ...abandoned, userId: await person('Cy') });
    const { logger, lines } = recordingLogger();
    const clock = createManualClock(NOW.getTime());
    const outcomes = await reconcileAbandonedBookings({ db: database.db, clock, logger, daemonId: 'daemon-a', venues: configFor('club-a').venues, leaseMs: 30_000 });

    const reason = `venue "club-z": no running daemon serves it (this daemon serves: club-a), so nobody can look up on the site the booking that daemon daemon-dead was making when it stopped: check the site for a booking on ${SLOT_DATE} at 09:00 and set the row's status yourself`;
    expect(outcomes.map((o) => [o.reservationId, o.decision, o.reason])).toEqual([
      [nobodys, 'needs_attention', reason],
      [own, 'requeued', null],
    ]);
    expect(await getReservation(database.db, nobodys)).toMatchObject({ status: 'needs_attention', reason, lease_owner: null, lease_expires_at: null, finished_at: NOW });
    expect(await getReservation(database.db, others)).toMatchObject({ status: 'booking', lease_owner: 'daemon-dead', lease_expires_at: at(-1) });
    expect(await getReservation(database.db, own)).toMatchObject({ status: 'scheduled', lease_owner: null });
    expect(lines.filter((l) => l.level === 'warn' && l.reservation_id === nobodys).map((l) => l.msg)).toEqual([
      `reservation ${nobodys} needs attention: it was left in booking for venue "club-z", which no running daemon serves (this daemon serves: club-a)`,
    ]);

    // Once daemon-b's beat is stale, its venue's abandoned booking is nobody's either.
    const later = await flagUnservedBookings(database.db, { now: at(50_000), venues: ['club-a'], limit: 10 });
    expect(later.map((r) => [r.id, r.venue, r.previousOwner])).toEqual([[others, 'club-b', 'daemon-dead']]);
  });
});

describe('two daemons with different venues on one database', () => {
  it('each row ends with the daemon that serves its venue; after one stops, a new row of its venue is rejected by the other', async () => {
    const clock = createManualClock(NOW.getTime());
    const { logger: loggerA, lines: linesA } = recordingLogger();
    await registration(clock, 'daemon-a', ['club-a'], loggerA).start();
    const regB = registration(clock, 'daemon-b', ['club-b']);
    await regB.start();
    const a = await row('club-a');
    const b = await row('club-b', { courts: [3], userId: await person('Ben') });

    const schedulers: Array<{ scheduler: Scheduler; executor: ReturnType<typeof createFakeExecutor> }> = [];
    let notifyA: () => void = () => {};
    const start = (id: string, venue: string, logger: Logger, subscribe?: (cb: () => void) => void) => {
      const executor = createFakeExecutor(clock);
      const scheduler = createScheduler({ db: database.db, config: configFor(venue), clock, logger, executor, daemonId: id, ...(subscribe ? { subscribe } : {}) });
      scheduler.start();
      const entry = { scheduler, executor, stop: () => scheduler.stop(0) };
      schedulers.push(entry);
      running.push(entry);
      return entry;
    };
    // Parked: each running registration's beat, each scheduler's loop, and a heartbeat and a parked executor per job.
    let beats = 2;
    const settle = () =>
      waitFor('every loop to park on the clock', () => {
        const jobs = schedulers.reduce((n, s) => n + s.scheduler.inFlight(), 0);
        const parked = schedulers.reduce((n, s) => n + s.executor.parked(), 0);
        return (jobs === parked && clock.pendingSleeps() === beats + schedulers.length + 2 * jobs) || undefined;
      }, { timeoutMs: 10_000, everyMs: 1 });
    const moveTo = async (ms: number) => {
      while (clock.now() < ms) {
        clock.set(Math.min(ms, clock.now() + 10_000));
        await settle();
      }
    };

    const daemonA = start('daemon-a', 'club-a', loggerA, (cb) => (notifyA = cb));
    await settle();
    expect(await statusOf(a)).toBe('scheduled');
    expect(await statusOf(b)).toBe('pending');
    await moveTo(at(40_000).getTime());
    expect(await statusOf(b)).toBe('pending');
    expect(linesA.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      `reservation ${b}: venue "club-b" is not served by this daemon (it serves: club-a); left pending for daemon(s) daemon-b, which serve it`,
    ]);

    const daemonB = start('daemon-b', 'club-b', createSilentLogger());
    await settle();
    expect(await getReservation(database.db, b)).toMatchObject({ status: 'scheduled', release_at: new Date(RELEASE) });
    await moveTo(Date.parse(RELEASE));
    await waitFor('both rows to be booked', async () => ((await statusOf(a)) === 'succeeded' && (await statusOf(b)) === 'succeeded') || undefined, { everyMs: 5 });
    expect(await getReservation(database.db, a)).toMatchObject({ booked_court: 2, confirmation_code: `FAKE-${a}` });
    expect(await getReservation(database.db, b)).toMatchObject({ booked_court: 3, confirmation_code: `FAKE-${b}` });
    expect(daemonA.executor.calls.map((c) => [c.reservationId, new Date(c.calledAtMs).toISOString()])).toEqual([[a, '2027-07-21T14:59:00.000Z']]);
    expect(daemonB.executor.calls.map((c) => [c.reservationId, new Date(c.calledAtMs).toISOString()])).toEqual([[b, '2027-07-21T14:59:00.000Z']]);

    await daemonB.scheduler.stop(0);
    schedulers.splice(schedulers.indexOf(daemonB), 1);
    await regB.stop();
    beats = 1;
    const late = await row('club-b', { targetTime: '10:00' });
    notifyA();
    await waitFor('the row to be rejected', async () => (await statusOf(late)) === 'rejected' || undefined, { everyMs: 5 });
    expect(await getReservation(database.db, late)).toMatchObject({ reason: 'venue: unknown venue "club-b": no running daemon serves it (this daemon serves: club-a)' });
    expect((await listDaemons(database.db)).map((d) => [d.id, d.stoppedAt?.toISOString() ?? null])).toEqual([
      ['daemon-a', null],
      ['daemon-b', RELEASE],
    ]);
  });
});
