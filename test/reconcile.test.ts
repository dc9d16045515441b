import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appointmentLookup } from '../src/app.js';
import { lookupAcuityAppointments, type AppointmentLookup } from '../src/booking/flows/acuity-lookup.js';
import type { ManualClock } from '../src/clock.js';
import { createKysely } from '../src/db/create-database.js';
import type { AttemptOutcome, Database } from '../src/db/types.js';
import {
  finishAttempt,
  getReservation,
  insertReservation,
  insertUser,
  listAttempts,
  startAttempt,
} from '../src/reservations/index.js';
import { createScheduler } from '../src/scheduling/daemon.js';
import { reconcileAbandonedBookings, reconcileOwnBooking, type ReconcileDeps, type ReconcileOutcome } from '../src/booking-session/index.js';
import { computeReleaseAt, slotStartAt } from '../src/scheduling/release-time.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, setAttemptSubmitted, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { startTestSandbox, T0, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * Crash reconciliation (docs/architecture.md; never two bookings for one reservation, never a silently lost
 * one): the database state a crash leaves — a row in `booking` under an expired lease
 * of a dead daemon, an attempt with an intent (`submitted_at`) and no outcome — is settled by looking the
 * client's appointments up on the real sandbox site. Nothing is ever submitted while reconciling.
 */

const NOW = new Date(T0);
const DAY = '2027-07-23';
const ZONE = 'America/Guatemala';
const ANA = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' };
const at = (ms: number): Date => new Date(NOW.getTime() + ms);

let database: TestDatabase;
let sandbox: TestSandbox;
let clock: ManualClock;
let userId: number;
let logLines: Array<Record<string, unknown>>;
let rawLog: string;

beforeAll(async () => {
  database = await createTestDatabase();
  sandbox = await startTestSandbox();
  clock = sandbox.clock as ManualClock;
});
beforeEach(async () => {
  await database.truncate();
  sandbox.site.reset();
  clock.set(T0);
  userId = await insertUser(database.db, ANA);
  logLines = [];
  rawLog = '';
});
afterAll(async () => {
  await sandbox?.stop();
  await database?.drop();
});

const logger = createLogger({
  level: 'info',
  destination: {
    write(line: string) {
      rawLog += line;
      logLines.push(JSON.parse(line) as Record<string, unknown>);
    },
  },
});

function deps(overrides: Partial<ReconcileDeps> = {}): ReconcileDeps {
  // `dead-daemon` is known to have stopped (as `isDeadLocalDaemon` judges a daemon of this host whose pid is gone).
  return { db: database.db, clock, logger, daemonId: 'daemon-new', venues: sandbox.config.venues, lookup: appointmentLookup, leaseMs: 30_000, isDeadOwner: (owner: string) => owner === 'dead-daemon', ...overrides };
}

interface AttemptSpec {
  court: number;
  submitted: boolean;
  outcome?: AttemptOutcome;
  /** When the intent was written, ms relative to NOW (default −60 s). */
  submittedAtMs?: number;
}

/** The state a crash leaves: `booking`, lease of `owner` expiring at `leaseExpiresAt`, the given attempts. */
async function crashedBooking(args: { time?: string; date?: string; courts?: number[]; attempts: AttemptSpec[]; owner?: string; leaseExpiresAt?: Date }): Promise<number> {
  const date = args.date ?? DAY;
  const time = args.time ?? '09:00';
  const id = await insertReservation(database.db, {
    userId,
    venue: 'la-villa',
    targetDate: date,
    targetTime: time,
    courts: args.courts ?? [1, 2],
    status: 'booking',
    releaseAt: computeReleaseAt({ hoursBefore: 48 }, date, time, ZONE),
    slotAt: slotStartAt(date, time, ZONE),
    leaseOwner: args.owner ?? 'dead-daemon',
    leaseExpiresAt: args.leaseExpiresAt ?? at(-1_000),
  });
  for (const spec of args.attempts) {
    const submittedAtMs = spec.submittedAtMs ?? -60_000;
    const { id: attemptId } = await startAttempt(database.db, { reservationId: id, court: spec.court, daemonId: args.owner ?? 'dead-daemon', browserId: 'chromium-1', flow: 'acuity', now: at(submittedAtMs - 500) });
    if (spec.submitted) await setAttemptSubmitted(database.db, attemptId, at(submittedAtMs));
    if (spec.outcome) await finishAttempt(database.db, { attemptId, outcome: spec.outcome, confirmationCode: null, error: spec.outcome, metadata: {}, now: at(submittedAtMs + 500) });
  }
  return id;
}

/** Books a slot on the site as `client` (default: our client Ana), the way a submit that reached it would. */
function bookOnSite(court: number, time = '09:00', client: Partial<typeof ANA> = ANA, date = DAY) {
  const booking = sandbox.site.book({ venue: 'la-villa', court, date, time }, { ...ANA, ...client });
  if (!booking) throw new Error(`court ${court} at ${time} is already booked on the sandbox`);
  return booking;
}

const attemptsOf = async (id: number) =>
  (await listAttempts(database.db, id)).map((a) => ({ court: a.court, outcome: a.outcome, code: a.confirmation_code, reconciledAt: a.metadata.reconciled_at ?? null }));

const decisionLines = () => logLines.filter((l) => typeof l.decision === 'string').map((l) => ({ reservation_id: l.reservation_id, attempt: l.attempt, decision: l.decision }));

afterEach(() => {
  // Reconciliation only looks: not one booking POST reached the site, and no contact detail reached the logs.
  expect(sandbox.site.submits()).toEqual([]);
  expect(rawLog).not.toContain(ANA.email);
  expect(rawLog).not.toContain(ANA.phone);
});

describe('a dead daemon left a submit with no outcome', () => {
  it('found on the site as ours → succeeded with the site code and court, recovered; the attempt gets booked + code', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, outcome: 'slot_taken' }, { court: 2, submitted: true }] });
    bookOnSite(1, '09:00', { firstName: 'Rival', lastName: 'Player', email: 'rival@example.com' });
    const ours = bookOnSite(2);

    const outcomes = await reconcileAbandonedBookings(deps());
    expect(outcomes.map((o) => [o.reservationId, o.decision, o.attempt])).toEqual([[id, 'booked', 2]]);

    const row = await getReservation(database.db, id);
    expect(row).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: ours.confirmationCode, reason: null, lease_owner: null, lease_expires_at: null, finished_at: NOW });
    expect(row?.result).toMatchObject({
      status: 'success',
      outcome: 'booked',
      court: 2,
      confirmationCode: ours.confirmationCode,
      source: 'queue',
      metadata: { recovered: true, reconciled_at: NOW.toISOString(), reservation_id: id, attempt: 2, court: 2, courts_tried: [1, 2], executor: 'daemon-new', flow: 'acuity', target_date: DAY, target_time: '09:00' },
    });
    expect(await attemptsOf(id)).toEqual([
      { court: 1, outcome: 'slot_taken', code: null, reconciledAt: null },
      { court: 2, outcome: 'booked', code: ours.confirmationCode, reconciledAt: NOW.toISOString() },
    ]);
    expect(decisionLines()).toEqual([{ reservation_id: id, attempt: 2, decision: 'booked' }]);
    // Decided once: nothing is left to take over.
    expect(await reconcileAbandonedBookings(deps())).toEqual([]);
  });

  it('not on the site and the slot still ahead → scheduled; the attempt is closed as not booked and an unsubmitted one as interrupted', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true }, { court: 2, submitted: false }] });

    const [outcome] = await reconcileAbandonedBookings(deps());
    expect(outcome).toMatchObject({ reservationId: id, decision: 'requeued', attempt: 1 });
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', lease_owner: null, lease_expires_at: null, booked_court: null, confirmation_code: null });
    expect(await attemptsOf(id)).toEqual([
      { court: 1, outcome: 'interrupted', code: null, reconciledAt: NOW.toISOString() },
      { court: 2, outcome: 'interrupted', code: null, reconciledAt: null },
    ]);
    const [first, second] = await listAttempts(database.db, id);
    expect(first).toMatchObject({ finished_at: NOW, error: `reconciled ${NOW.toISOString()}: the site lists no booking for it` });
    expect(second).toMatchObject({ finished_at: NOW, error: 'the daemon making it stopped before submitting' });
    expect(decisionLines()).toEqual([{ reservation_id: id, attempt: 1, decision: 'requeued' }]);
  });

  it('not on the site, but submitted by a daemon not known to have stopped (paused?) → needs_attention, never back to the queue', async () => {
    const id = await crashedBooking({ owner: 'paused-daemon', attempts: [{ court: 2, submitted: true }] });
    await sql`UPDATE booking_attempts SET daemon_id = 'paused-daemon' WHERE reservation_id = ${id}`.execute(database.db);

    const [outcome] = await reconcileAbandonedBookings(deps());
    expect(outcome).toMatchObject({ reservationId: id, decision: 'needs_attention', attempt: 1 });
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'needs_attention',
      lease_owner: null,
      reason:
        'attempt 1 on court 2 was submitted by daemon paused-daemon, whose lease ran out but which is not known to have stopped: the site lists no booking yet, but a paused daemon could still send it; check the site for a booking on 2027-07-23 at 09:00 before setting the row back to scheduled',
    });
  });

  it('a row whose own session still runs is not reconciled behind its back (its lease lapsed under a late heartbeat)', async () => {
    const id = await crashedBooking({ owner: 'daemon-new', attempts: [{ court: 1, submitted: true }] });
    expect(await reconcileAbandonedBookings(deps(), { isRunning: (running) => running === id })).toEqual([]);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'booking', lease_owner: 'daemon-new', lease_expires_at: at(30_000) });
    expect(await attemptsOf(id)).toEqual([{ court: 1, outcome: null, code: null, reconciledAt: null }]);
  });

  it("a competitor's booking of the same slot is not ours → scheduled", async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, outcome: 'timeout' }] });
    bookOnSite(1, '09:00', { firstName: 'Rival', lastName: 'Player', email: 'rival@example.com', phone: '+502 5555 9999' });

    expect((await reconcileAbandonedBookings(deps())).map((o) => o.decision)).toEqual(['requeued']);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', confirmation_code: null });
    // A known outcome stays; the attempt is marked as settled by the site's list.
    expect(await attemptsOf(id)).toEqual([{ court: 1, outcome: 'timeout', code: null, reconciledAt: NOW.toISOString() }]);
  });

  it('a cancelled appointment of ours is not a booking → scheduled', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true }] });
    const cancelled = bookOnSite(1);
    const response = await fetch(`${sandbox.url}/schedule/la-villa/appointments/${cancelled.id}/cancel`, { method: 'POST' });
    expect(response.status).toBe(200);

    expect((await reconcileAbandonedBookings(deps())).map((o) => o.decision)).toEqual(['requeued']);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', confirmation_code: null });
  });

  it("this client's email on the slot under another name, or two bookings of ours → needs_attention, never a guess", async () => {
    const otherName = await crashedBooking({ time: '09:00', attempts: [{ court: 1, submitted: true }] });
    bookOnSite(1, '09:00', { firstName: 'Beatriz' });
    const twice = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true, outcome: 'timeout' }, { court: 2, submitted: true }] });
    const a = bookOnSite(1, '08:00');
    const b = bookOnSite(2, '08:00');

    const outcomes = await reconcileAbandonedBookings(deps());
    expect(outcomes.map((o) => [o.reservationId, o.decision]).sort()).toEqual([[otherName, 'needs_attention'], [twice, 'needs_attention']].sort());
    const first = await getReservation(database.db, otherName);
    expect(first).toMatchObject({ status: 'needs_attention', lease_owner: null, confirmation_code: null });
    expect(first?.reason).toMatch(/^attempt 1 on court 1 was submitted and its outcome is unknown \(the daemon dead-daemon booking it stopped\); the site lists a booking with this client's email on 2027-07-23 at 09:00 under another name \(court 1: code [A-Z]{8}\): check whether it is this reservation's before retrying$/);
    expect((await getReservation(database.db, twice))?.reason).toBe(
      `the site lists 2 bookings for this client on 2027-07-23 at 08:00 (court 1: code ${a.confirmationCode}; court 2: code ${b.confirmationCode}): cancel all but one on the site`,
    );
    // Nothing was decided about the attempts.
    expect((await attemptsOf(twice)).map((x) => x.reconciledAt)).toEqual([null, null]);
  });
});

describe('when the site cannot tell', () => {
  it('a stopped site (look-up fails) → needs_attention naming what to check; the attempt stays open', async () => {
    const down = await startTestSandbox({ clock });
    await down.stop();
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true }] });

    const [outcome] = await reconcileAbandonedBookings(deps({ venues: down.config.venues }));
    expect(outcome?.decision).toBe('needs_attention');
    const row = await getReservation(database.db, id);
    expect(row).toMatchObject({ status: 'needs_attention', lease_owner: null, lease_expires_at: null });
    expect(row?.reason).toMatch(
      /^the site's appointments could not be looked up \(fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+\) after attempt 1 on court 1 was submitted with an unknown outcome \(the daemon dead-daemon booking it stopped\): check the site for a booking on 2027-07-23 at 09:00 before retrying$/,
    );
    expect(await attemptsOf(id)).toEqual([{ court: 1, outcome: null, code: null, reconciledAt: null }]);
    expect(decisionLines()).toEqual([{ reservation_id: id, attempt: 1, decision: 'needs_attention' }]);
  });

  it('a blocked site, or an answer of an unexpected shape → needs_attention; the email never appears in the reason', async () => {
    const blocked = await crashedBooking({ time: '09:00', attempts: [{ court: 1, submitted: true }] });
    sandbox.site.setControl({ blocked: true });
    await reconcileAbandonedBookings(deps());
    sandbox.site.setControl({ blocked: false });
    const reason = (await getReservation(database.db, blocked))?.reason ?? '';
    expect(reason).toMatch(/^the site's appointments could not be looked up \(GET http:\/\/127\.0\.0\.1:\d+\/schedule\/la-villa\/api\/appointments answered HTTP 403\)/);
    expect(reason).not.toContain('ana');

    const odd = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true }] });
    const oddLookup: AppointmentLookup = (venue, email) => lookupAcuityAppointments(async () => ({ appointments: 'soon' }), venue, email);
    await reconcileAbandonedBookings(deps({ lookup: oddLookup }));
    expect((await getReservation(database.db, odd))?.reason).toMatch(/^the site's appointments could not be looked up \(venue "La Villa Tennis": appointments lookup returned an unexpected shape: /);
  });

  it('a site that does not answer → needs_attention after the look-up timeout (on the clock)', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true }] });
    sandbox.site.setControl({ slowMs: 60_000 });
    const pending = reconcileAbandonedBookings(deps({ lookupTimeoutMs: 5_000 }));
    // The site's slow answer, the reconciler's timeout and the heartbeat of the taken-over lease wait on the clock.
    await waitFor('the look-up to hang', () => clock.pendingSleeps() === 3 || undefined, { everyMs: 5 });
    clock.advance(5_000);
    expect((await pending).map((o) => o.decision)).toEqual(['needs_attention']);
    expect((await getReservation(database.db, id))?.reason).toMatch(/^the site's appointments could not be looked up \(no answer within 5000 ms\)/);
    sandbox.site.setControl({ slowMs: 0 });
    clock.advance(60_000); // lets the site's delayed answer go
  });

  it('a slot that has started: ours found → succeeded; nothing listed → needs_attention (a site may stop listing past appointments)', async () => {
    const listed = await crashedBooking({ date: '2027-07-21', time: '07:00', attempts: [{ court: 1, submitted: true }] });
    const ours = bookOnSite(1, '07:00', ANA, '2027-07-21');
    const unlisted = await crashedBooking({ date: '2027-07-21', time: '08:00', attempts: [{ court: 2, submitted: true }] });

    await reconcileAbandonedBookings(deps());
    expect(await getReservation(database.db, listed)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: ours.confirmationCode });
    const row = await getReservation(database.db, unlisted);
    expect(row).toMatchObject({ status: 'needs_attention', lease_owner: null });
    expect(row?.reason).toBe(
      "attempt 1 on court 2 was submitted and its outcome is unknown (the daemon dead-daemon booking it stopped); the site lists no booking for this client on 2027-07-21 at 08:00, but the slot has started and a site may no longer list past appointments: check the site's records",
    );
  });
});

describe('what is not looked up', () => {
  it('nothing submitted → scheduled without a look-up; a live lease is left alone; an attempt that read its code → succeeded', async () => {
    let lookups = 0;
    const counting: AppointmentLookup = (venue, email, signal) => ((lookups += 1), appointmentLookup(venue, email, signal));
    const unsubmitted = await crashedBooking({ time: '09:00', attempts: [{ court: 1, submitted: false }] });
    const live = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true }], owner: 'live-daemon', leaseExpiresAt: at(10_000) });
    const confirmed = await crashedBooking({ time: '10:00', attempts: [{ court: 1, submitted: true }] });
    const [attempt] = await listAttempts(database.db, confirmed);
    await finishAttempt(database.db, { attemptId: attempt!.id, outcome: 'booked', confirmationCode: 'QWERTYUI', error: null, metadata: {}, now: at(-30_000) });

    const outcomes = await reconcileAbandonedBookings(deps({ lookup: counting }));
    expect(outcomes.map((o) => [o.reservationId, o.decision]).sort()).toEqual([[unsubmitted, 'requeued'], [confirmed, 'booked']].sort());
    expect(lookups).toBe(0);
    expect(await getReservation(database.db, unsubmitted)).toMatchObject({ status: 'scheduled' });
    expect(await attemptsOf(unsubmitted)).toEqual([{ court: 1, outcome: 'interrupted', code: null, reconciledAt: null }]);
    expect(await getReservation(database.db, live)).toMatchObject({ status: 'booking', lease_owner: 'live-daemon' });
    expect(await getReservation(database.db, confirmed)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: 'QWERTYUI' });
  });
});

describe('many daemons', () => {
  it('two concurrent reconcilers (two daemon ids, separate connections) decide each row once', async () => {
    const times = ['08:00', '09:00', '10:00', '11:00', '12:00', '13:00'];
    const ids: number[] = [];
    const codes = new Map<number, string>();
    for (const [i, time] of times.entries()) {
      const id = await crashedBooking({ time, attempts: [{ court: 1, submitted: true }] });
      ids.push(id);
      if (i % 2 === 0) codes.set(id, bookOnSite(1, time).confirmationCode);
    }
    const other: Kysely<Database> = createKysely(database.url, { poolMax: 4, logger: silentDbLogger });
    let lookups = 0;
    const counting: AppointmentLookup = (venue, email, signal) => ((lookups += 1), appointmentLookup(venue, email, signal));
    try {
      const [a, b] = await Promise.all([
        reconcileAbandonedBookings(deps({ daemonId: 'daemon-a', lookup: counting })),
        reconcileAbandonedBookings(deps({ daemonId: 'daemon-b', db: other, lookup: counting })),
      ]);
      const decided = [...a, ...b].map((o: ReconcileOutcome) => o.reservationId).sort((x, y) => x - y);
      expect(decided).toEqual(ids);
      expect(lookups).toBe(ids.length);
      expect(await reconcileAbandonedBookings(deps({ daemonId: 'daemon-c', db: other }))).toEqual([]);
    } finally {
      await other.destroy();
    }
    for (const id of ids) {
      const row = await getReservation(database.db, id);
      const code = codes.get(id);
      expect(row, `reservation ${id}`).toMatchObject(code ? { status: 'succeeded', confirmation_code: code, booked_court: 1 } : { status: 'scheduled', confirmation_code: null });
      expect((await attemptsOf(id)).map((x) => [x.outcome, x.reconciledAt])).toEqual([[code ? 'booked' : 'interrupted', NOW.toISOString()]]);
    }
    expect(decisionLines().map((l) => l.reservation_id).sort((x, y) => Number(x) - Number(y))).toEqual(ids);
  });
});

describe('a submit too recent to be sure', () => {
  it('a booking job waits until the submit has had time to land, then finds the late booking', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, outcome: 'error', submittedAtMs: -1_000 }], owner: 'daemon-new', leaseExpiresAt: at(30_000) });
    let answered = 0;
    const counting: AppointmentLookup = async (venue, email, signal) => {
      const list = await appointmentLookup(venue, email, signal);
      answered += 1;
      return list;
    };
    const pending = reconcileOwnBooking(deps({ lookup: counting }), { id, cause: 'court 1: the page crashed' });
    // It first finds nothing, then sleeps on the clock until 5 s after the submit (its only sleeper then).
    await waitFor('the reconciler to wait for the submit to settle', () => (answered === 1 && clock.pendingSleeps() === 1) || undefined, { everyMs: 5 });
    const late = bookOnSite(1);
    clock.advance(4_000);
    expect(await pending).toMatchObject({ decision: 'booked', attempt: 1 });
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', confirmation_code: late.confirmationCode });
  });

  it('a take-over keeps the lease only until then, so a later tick looks again', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, submittedAtMs: -1_000 }] });
    expect((await reconcileAbandonedBookings(deps())).map((o) => o.decision)).toEqual(['deferred']);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'booking', lease_owner: 'daemon-new', lease_expires_at: at(4_000) });
    expect(await reconcileAbandonedBookings(deps({ daemonId: 'daemon-other' }))).toEqual([]);

    const late = bookOnSite(1);
    clock.set(at(4_000).getTime());
    expect((await reconcileAbandonedBookings(deps({ daemonId: 'daemon-other' }))).map((o) => o.decision)).toEqual(['booked']);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', confirmation_code: late.confirmationCode });
  });
});

describe('the daemon', () => {
  it("its own booking's unknown outcome is reconciled; a row it does not hold is left alone", async () => {
    const id = await crashedBooking({ attempts: [{ court: 2, submitted: true, outcome: 'timeout', submittedAtMs: -20_000 }], owner: 'daemon-new', leaseExpiresAt: at(20_000) });
    const ours = bookOnSite(2);
    expect(await reconcileOwnBooking(deps(), { id, cause: 'court 2: timed out' })).toMatchObject({ decision: 'booked', attempt: 1 });
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: ours.confirmationCode });

    const notMine = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true }], owner: 'someone-else', leaseExpiresAt: at(20_000) });
    expect(await reconcileOwnBooking(deps(), { id: notMine, cause: 'x' })).toMatchObject({ decision: 'not_held' });
    expect(await getReservation(database.db, notMine)).toMatchObject({ status: 'booking', lease_owner: 'someone-else' });
  });

  it('a scheduler tick (start-up) takes over a dead daemon’s booking and reconciles it without running the executor', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true }] });
    const ours = bookOnSite(1);
    const executor = { execute: () => Promise.reject(new Error('reconciliation must never book')) };
    const scheduler = createScheduler({ db: database.db, config: sandbox.config, clock, logger, executor, daemonId: 'daemon-tick', lookup: appointmentLookup });
    await scheduler.tickOnce();
    expect(scheduler.inFlight()).toBe(0);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: ours.confirmationCode });
    expect((await getReservation(database.db, id))?.result).toMatchObject({ metadata: { recovered: true, executor: 'daemon-tick' } });
  });
});
