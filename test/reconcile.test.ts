import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAcuitySiteLookup, type AcuitySiteVenue } from '../src/booking/flows/acuity-spa-lookup.js';
import type { SiteLookup } from '../src/booking/session-port.js';
import { createBookingSessions, reconcileAbandonedBookings, reconcileOwnBooking, type ReconcileDeps, type ReconcileOutcome } from '../src/booking-session/index.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import type { Config } from '../src/config/schema.js';
import { BookingResult, buildImmediateRequest, createBookingMetadata } from '../src/contracts/index.js';
import { createKysely } from '../src/db/create-database.js';
import type { AttemptOutcome, Database } from '../src/db/types.js';
import { createAcuitySpaSite, type AcuitySpaSite } from '../src/sandbox/acuity-spa/site.js';
import {
  finishAttempt,
  getReservation,
  insertReservation,
  insertUser,
  listAttempts,
  recordSiteAnswer,
  startAttempt,
} from '../src/reservations/index.js';
import { createScheduler } from '../src/scheduling/daemon.js';
import { computeReleaseAt, slotStartAt } from '../src/scheduling/release-time.js';
import { createLogger } from '../src/telemetry/logger.js';
import { SPA_OWNER, spaClub } from './helpers/acuity-spa.js';
import { createTestDatabase, setAttemptSubmitted, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { LA_VILLA, testConfig } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * Crash reconciliation (docs/architecture.md "Reconciliation"; never two bookings for one reservation, never a
 * silently lost one): the database state a crash leaves — a row in `booking` under an expired lease of a dead
 * daemon, an attempt with an intent (`submitted_at`) and no outcome, maybe with the hash the site answered —
 * is settled by asking the Acuity look-alike what a member can: the appointment by its hash, or whether the
 * slot is still offered. Nothing is ever submitted while reconciling.
 */

/** 2027-07-21 09:00 in Guatemala: every slot of 2027-07-22 is released and ahead. */
const T0 = Date.parse('2027-07-21T15:00:00.000Z');
const NOW = new Date(T0);
const DAY = '2027-07-22';
const ZONE = 'America/Guatemala';
const CLUB = spaClub(3);
const ANA = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' };
const RIVAL = { firstName: 'Rival', lastName: 'Player', email: 'rival@example.com', phone: '+502 5555 9999' };
const UNKNOWN_HASH = 'ffffffffffffffffffffffffffffffff';
const at = (ms: number): Date => new Date(NOW.getTime() + ms);

let database: TestDatabase;
let clock: ManualClock;
let site: AcuitySpaSite;
let url: string;
let config: Config;
let siteLookup: SiteLookup;
let userId: number;
let logLines: Array<Record<string, unknown>>;
let rawLog: string;

/** The look-alike club as the look-up sees it (the composition root's resolver). */
const clubVenue = (baseUrl: string): AcuitySiteVenue => ({
  baseUrl,
  ownerKey: SPA_OWNER,
  timeZone: ZONE,
  courts: Object.fromEntries(CLUB.courts.map((c) => [c.court, { appointmentTypeId: c.appointmentTypeId, calendarId: c.calendarId }])),
});
const lookupAt = (baseUrl: string): SiteLookup => createAcuitySiteLookup((id) => (id === 'la-villa' ? clubVenue(baseUrl) : undefined));

beforeAll(async () => {
  database = await createTestDatabase();
  clock = createManualClock(T0);
  site = createAcuitySpaSite({ clock, venues: [CLUB], confirmationOrigin: 'http://127.0.0.1:9' });
  url = await site.start(0);
  siteLookup = lookupAt(url);
  config = testConfig(url, { 'la-villa': { ...LA_VILLA, site: { adapter: 'acuity', ownerKey: SPA_OWNER }, courts: Object.fromEntries(CLUB.courts.map((c) => [String(c.court), { appointmentTypeId: c.appointmentTypeId, calendarId: c.calendarId }])), firstSlotTime: '06:00' } });
});
beforeEach(async () => {
  await database.truncate();
  site.reset();
  site.state.setSwitches({ limiter: { enabled: false } });
  clock.set(T0);
  userId = await insertUser(database.db, ANA);
  logLines = [];
  rawLog = '';
});
afterAll(async () => {
  await site?.stop();
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
  return { db: database.db, clock, logger, daemonId: 'daemon-new', venues: config.venues, siteLookup, leaseMs: 30_000, isDeadOwner: (owner: string) => owner === 'dead-daemon', ...overrides };
}

interface AttemptSpec {
  court: number;
  submitted: boolean;
  outcome?: AttemptOutcome;
  /** The hash the site answered with, stored while the outcome was open. */
  hash?: string;
  /** When the intent was written, ms relative to NOW (default −60 s). */
  submittedAtMs?: number;
}

/** The state a crash leaves: `booking`, lease of `owner` expiring at `leaseExpiresAt`, the given attempts. */
async function crashedBooking(args: { time?: string; date?: string; courts?: number[]; attempts: AttemptSpec[]; owner?: string; leaseExpiresAt?: Date }): Promise<number> {
  const date = args.date ?? DAY;
  const time = args.time ?? '09:00';
  // Each row its own `booking_users` row (same details): the schema refuses two active rows of one for one slot.
  const id = await insertReservation(database.db, {
    userId: (await database.db.selectFrom('reservations').select('id').limit(1).executeTakeFirst()) ? await insertUser(database.db, ANA) : userId,
    venue: 'la-villa',
    targetDate: date,
    targetTime: time,
    courts: args.courts ?? [1, 2],
    status: 'booking',
    releaseAt: computeReleaseAt({ hoursBefore: 48 }, date, time, ZONE),
    slotAt: slotStartAt(date, time, ZONE),
    leaseOwner: args.owner ?? 'dead-daemon',
    leaseExpiresAt: args.leaseExpiresAt ?? at(-1_000),
    now: NOW,
  });
  for (const spec of args.attempts) {
    const submittedAtMs = spec.submittedAtMs ?? -60_000;
    const { id: attemptId } = await startAttempt(database.db, { reservationId: id, court: spec.court, daemonId: args.owner ?? 'dead-daemon', browserId: 'chromium-1', flow: 'acuity-spa', now: at(submittedAtMs - 500) });
    if (spec.submitted) await setAttemptSubmitted(database.db, attemptId, at(submittedAtMs));
    if (spec.hash) expect(await recordSiteAnswer(database.db, { attemptId, hash: spec.hash })).toBe(true);
    if (spec.outcome) await finishAttempt(database.db, { attemptId, outcome: spec.outcome, confirmationCode: null, error: spec.outcome, metadata: {}, now: at(submittedAtMs + 500) });
  }
  return id;
}

/** Books a slot on the look-alike (as a submit that reached it would); returns the site's hash. */
function bookOnSite(court: number, time = '09:00', client = ANA, date = DAY): string {
  const booking = site.book({ ownerKey: SPA_OWNER, court, date, time }, client);
  if (!booking) throw new Error(`court ${court} at ${date} ${time} is already booked on the look-alike`);
  return booking.hash;
}

const attemptsOf = async (id: number) =>
  (await listAttempts(database.db, id)).map((a) => ({ court: a.court, outcome: a.outcome, code: a.confirmation_code, reconciledAt: a.metadata.reconciled_at ?? null }));

const decisionLines = () => logLines.filter((l) => typeof l.decision === 'string').map((l) => ({ reservation_id: l.reservation_id, attempt: l.attempt, decision: l.decision }));

/** A {@link SiteLookup} that counts its calls. */
function counting(inner: SiteLookup): SiteLookup & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    byHash: (venue, hashes, signal) => (calls.push(`byHash ${hashes.join(',')}`), inner.byHash(venue, hashes, signal)),
    offered: (venue, court, date, time, signal) => (calls.push(`offered ${court} ${date} ${time}`), inner.offered(venue, court, date, time, signal)),
  };
}

afterEach(() => {
  // Reconciliation only looks: not one booking POST reached the site, and no contact detail reached the logs.
  expect(site.state.xhrs().filter((x) => x.method === 'POST')).toEqual([]);
  expect(rawLog).not.toContain(ANA.email);
  expect(rawLog).not.toContain(ANA.phone);
});

describe('an open attempt with the hash the site answered', () => {
  it('found, for our slot and court → succeeded with the hash as code, recovered; the attempt gets booked', async () => {
    bookOnSite(1, '09:00', RIVAL);
    const hash = bookOnSite(2);
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, outcome: 'slot_taken' }, { court: 2, submitted: true, hash }] });

    const outcomes = await reconcileAbandonedBookings(deps());
    expect(outcomes.map((o) => [o.reservationId, o.decision, o.attempt])).toEqual([[id, 'booked', 2]]);
    const row = await getReservation(database.db, id);
    expect(row).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: hash, reason: null, lease_owner: null, lease_expires_at: null, finished_at: NOW });
    expect(row?.result).toMatchObject({
      status: 'success',
      outcome: 'booked',
      court: 2,
      confirmationCode: hash,
      source: 'queue',
      message: `booked court 2 (recovered after an unknown outcome: the site shows appointment ${hash})`,
      metadata: { recovered: true, reconciled_at: NOW.toISOString(), reservation_id: id, attempt: 2, court: 2, courts_tried: [1, 2], executor: 'daemon-new', flow: 'acuity-spa', target_date: DAY, target_time: '09:00' },
    });
    expect(await attemptsOf(id)).toEqual([
      { court: 1, outcome: 'slot_taken', code: null, reconciledAt: null },
      { court: 2, outcome: 'booked', code: hash, reconciledAt: NOW.toISOString() },
    ]);
    expect(decisionLines()).toEqual([{ reservation_id: id, attempt: 2, decision: 'booked' }]);
    // One look-up by hash on the site; decided once, nothing is left to take over.
    expect(site.state.xhrs().map((x) => [x.method, x.url.replace(/\?.*/, ''), x.status])).toEqual([['GET', '/api/scheduling/v1/appointments', 200]]);
    expect(await reconcileAbandonedBookings(deps())).toEqual([]);
  });

  it('a hash the site does not know, or one for another court or slot → needs_attention; the attempt stays open', async () => {
    const unknown = await crashedBooking({ time: '09:00', attempts: [{ court: 1, submitted: true, hash: UNKNOWN_HASH }] });
    const otherCourt = bookOnSite(3, '08:00');
    const wrongCourt = await crashedBooking({ time: '08:00', attempts: [{ court: 2, submitted: true, hash: otherCourt }] });
    const otherSlot = bookOnSite(1, '11:00');
    const wrongSlot = await crashedBooking({ time: '10:00', attempts: [{ court: 1, submitted: true, hash: otherSlot }] });

    const outcomes = await reconcileAbandonedBookings(deps());
    expect(outcomes.map((o) => [o.reservationId, o.decision]).sort()).toEqual([[unknown, 'needs_attention'], [wrongCourt, 'needs_attention'], [wrongSlot, 'needs_attention']].sort());
    expect(await getReservation(database.db, unknown)).toMatchObject({
      status: 'needs_attention',
      lease_owner: null,
      reason: `the site answered attempt 1 on court 1 with appointment ${UNKNOWN_HASH}, but does not know that appointment now (outcome unknown: the daemon dead-daemon booking it stopped): check with the club for a booking on 2027-07-22 at 09:00 before retrying`,
    });
    expect((await getReservation(database.db, wrongCourt))?.reason).toBe(
      `the site's appointment ${otherCourt}, answered to attempt 1 on court 2, is for 2027-07-22 at 08:00 on court 3, not 2027-07-22 at 08:00 on court 2: check with the club before retrying`,
    );
    expect((await getReservation(database.db, wrongSlot))?.reason).toBe(
      `the site's appointment ${otherSlot}, answered to attempt 1 on court 1, is for 2027-07-22 at 11:00 on court 1, not 2027-07-22 at 10:00 on court 1: check with the club before retrying`,
    );
    expect(await attemptsOf(unknown)).toEqual([{ court: 1, outcome: null, code: UNKNOWN_HASH, reconciledAt: null }]);
  });

  it('an attempt finished `unknown` keeps its hash (the outcome write brings none) and is still looked up by it', async () => {
    const hash = bookOnSite(1);
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, hash, outcome: 'unknown' }] });
    expect(await attemptsOf(id)).toEqual([{ court: 1, outcome: 'unknown', code: hash, reconciledAt: null }]);
    expect((await reconcileAbandonedBookings(deps())).map((o) => o.decision)).toEqual(['booked']);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: hash });
  });
});

describe('open attempts without a hash: is the slot still offered?', () => {
  it('offered on every court submitted to → scheduled; the attempt is closed as not booked and an unsubmitted one as interrupted', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true }, { court: 2, submitted: false }] });

    const [outcome] = await reconcileAbandonedBookings(deps());
    expect(outcome).toMatchObject({ reservationId: id, decision: 'requeued', attempt: 1 });
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', lease_owner: null, lease_expires_at: null, booked_court: null, confirmation_code: null });
    expect(await attemptsOf(id)).toEqual([
      { court: 1, outcome: 'interrupted', code: null, reconciledAt: NOW.toISOString() },
      { court: 2, outcome: 'interrupted', code: null, reconciledAt: null },
    ]);
    const [first, second] = await listAttempts(database.db, id);
    expect(first).toMatchObject({ finished_at: NOW, error: `reconciled ${NOW.toISOString()}: the slot is still offered on the site` });
    expect(second).toMatchObject({ finished_at: NOW, error: 'the daemon making it stopped before submitting' });
    expect(decisionLines()).toEqual([{ reservation_id: id, attempt: 1, decision: 'requeued' }]);
  });

  it('no longer offered on a court submitted to (ours or someone else\'s) → needs_attention naming the court and the first name, never the e-mail', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, outcome: 'timeout' }] });
    bookOnSite(1, '09:00', RIVAL);
    const both = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true, outcome: 'error' }, { court: 3, submitted: true }] });
    bookOnSite(1, '08:00', RIVAL);
    bookOnSite(3, '08:00', ANA);

    const outcomes = await reconcileAbandonedBookings(deps());
    expect(outcomes.map((o) => [o.reservationId, o.decision]).sort()).toEqual([[id, 'needs_attention'], [both, 'needs_attention']].sort());
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'needs_attention',
      lease_owner: null,
      confirmation_code: null,
      reason:
        "attempt 1 on court 1 was submitted and its outcome is unknown (the daemon dead-daemon booking it stopped) with no appointment hash from the site; the slot 2027-07-22 at 09:00 is no longer offered on court 1: the booking may be this reservation's or someone else's; check the e-mail of Ana / the club's page",
    });
    expect((await getReservation(database.db, both))?.reason).toBe(
      "attempts 1 (court 1), 2 (court 3) was submitted and its outcome is unknown (the daemon dead-daemon booking it stopped) with no appointment hash from the site; the slot 2027-07-22 at 08:00 is no longer offered on courts 1 and 3: the booking may be this reservation's or someone else's; check the e-mail of Ana / the club's page",
    );
    // Nothing was decided about the attempts.
    expect((await attemptsOf(both)).map((x) => x.reconciledAt)).toEqual([null, null]);
  });

  it('still offered, but submitted by a daemon not known to have stopped (paused?) → needs_attention, never back to the queue', async () => {
    const id = await crashedBooking({ owner: 'paused-daemon', attempts: [{ court: 2, submitted: true }] });
    await sql`UPDATE booking_attempts SET daemon_id = 'paused-daemon' WHERE reservation_id = ${id}`.execute(database.db);

    const [outcome] = await reconcileAbandonedBookings(deps());
    expect(outcome).toMatchObject({ reservationId: id, decision: 'needs_attention', attempt: 1 });
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'needs_attention',
      lease_owner: null,
      reason:
        'attempt 1 on court 2 was submitted by daemon paused-daemon, whose lease ran out but which is not known to have stopped: the slot is still offered, but a paused daemon could still send it; check the site for a booking on 2027-07-22 at 09:00 before setting the row back to scheduled',
    });
  });

  it('a row whose own session still runs is not reconciled behind its back (its lease lapsed under a late heartbeat)', async () => {
    const id = await crashedBooking({ owner: 'daemon-new', attempts: [{ court: 1, submitted: true }] });
    expect(await reconcileAbandonedBookings(deps(), { isRunning: (running) => running === id })).toEqual([]);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'booking', lease_owner: 'daemon-new', lease_expires_at: at(30_000) });
    expect(await attemptsOf(id)).toEqual([{ court: 1, outcome: null, code: null, reconciledAt: null }]);
  });
});

describe('when the site cannot tell', () => {
  it('a stopped site (look-up fails) → needs_attention naming what failed; the attempt stays open', async () => {
    const down = createAcuitySpaSite({ clock, venues: [CLUB] });
    const downUrl = await down.start(0);
    await down.stop();
    const hashed = await crashedBooking({ time: '09:00', attempts: [{ court: 1, submitted: true, hash: UNKNOWN_HASH }] });
    const plain = await crashedBooking({ time: '08:00', attempts: [{ court: 2, submitted: true }] });

    const outcomes = await reconcileAbandonedBookings(deps({ siteLookup: lookupAt(downUrl) }));
    expect(outcomes.map((o) => o.decision)).toEqual(['needs_attention', 'needs_attention']);
    expect((await getReservation(database.db, hashed))?.reason).toMatch(
      /^the site's appointments could not be looked up by hash \(fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+\) after attempt 1 on court 1 was submitted with an unknown outcome \(the daemon dead-daemon booking it stopped\): check the site for a booking on 2027-07-22 at 09:00 before retrying$/,
    );
    expect((await getReservation(database.db, plain))?.reason).toMatch(
      /^the site's offered times could not be read \(fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+\) after attempt 1 on court 2 was submitted with an unknown outcome \(the daemon dead-daemon booking it stopped\): check the site for a booking on 2027-07-22 at 08:00 before retrying$/,
    );
    expect(await attemptsOf(plain)).toEqual([{ court: 2, outcome: null, code: null, reconciledAt: null }]);
  });

  it('an error answer, no site look-up, or an unconfigured venue → needs_attention; the e-mail never appears in the reason', async () => {
    const badOwner = createAcuitySiteLookup(() => ({ ...clubVenue(url), ownerKey: '00000000' }));
    const refused = await crashedBooking({ time: '09:00', attempts: [{ court: 1, submitted: true }] });
    await reconcileAbandonedBookings(deps({ siteLookup: badOwner }));
    const reason = (await getReservation(database.db, refused))?.reason ?? '';
    expect(reason).toMatch(/^the site's offered times could not be read \(GET http:\/\/127\.0\.0\.1:\d+\/api\/scheduling\/v1\/availability\/times answered HTTP 400 \(bad_request\)\) after attempt 1/);
    expect(reason).not.toContain('ana');

    const none = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true, hash: UNKNOWN_HASH }] });
    await reconcileAbandonedBookings(deps({ siteLookup: undefined }));
    expect((await getReservation(database.db, none))?.reason).toMatch(/^the site's appointments could not be looked up by hash \(this daemon has no site look-up\) after attempt 1 on court 1/);
  });

  it('a site that does not answer → needs_attention after the look-up timeout (on the clock)', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true }] });
    site.state.setSwitches({ slowMs: 60_000 });
    const pending = reconcileAbandonedBookings(deps({ lookupTimeoutMs: 5_000 }));
    // The site's slow answer, the reconciler's timeout and the heartbeat of the taken-over lease wait on the clock.
    await waitFor('the look-up to hang', () => clock.pendingSleeps() === 3 || undefined, { everyMs: 5 });
    clock.advance(5_000);
    expect((await pending).map((o) => o.decision)).toEqual(['needs_attention']);
    expect((await getReservation(database.db, id))?.reason).toMatch(/^the site's offered times could not be read \(no answer within 5000 ms\) after attempt 1 on court 1/);
    site.state.setSwitches({ slowMs: 0 });
    clock.advance(60_000); // lets the site's delayed answer go
  });

  it('a slot that has started: its hash found → succeeded; no hash → needs_attention without asking the site', async () => {
    const hash = bookOnSite(1, '07:00', ANA, '2027-07-21');
    const listed = await crashedBooking({ date: '2027-07-21', time: '07:00', attempts: [{ court: 1, submitted: true, hash }] });
    const unlisted = await crashedBooking({ date: '2027-07-21', time: '08:00', attempts: [{ court: 2, submitted: true }] });
    const asked = counting(siteLookup);

    await reconcileAbandonedBookings(deps({ siteLookup: asked }));
    expect(await getReservation(database.db, listed)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: hash });
    expect(await getReservation(database.db, unlisted)).toMatchObject({
      status: 'needs_attention',
      lease_owner: null,
      reason:
        "attempt 1 on court 2 was submitted and its outcome is unknown (the daemon dead-daemon booking it stopped) with no appointment hash from the site; the slot 2027-07-21 at 08:00 has started, so the site's offered times prove nothing: check the e-mail of Ana / the club's page for a booking",
    });
    expect(asked.calls).toEqual([`byHash ${hash}`]);
  });
});

describe('what is not looked up', () => {
  it('nothing submitted → scheduled without a look-up; a live lease is left alone; an attempt that read its code → succeeded', async () => {
    const asked = counting(siteLookup);
    const unsubmitted = await crashedBooking({ time: '09:00', attempts: [{ court: 1, submitted: false }] });
    const live = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true }], owner: 'live-daemon', leaseExpiresAt: at(10_000) });
    const confirmed = await crashedBooking({ time: '10:00', attempts: [{ court: 1, submitted: true }] });
    const [attempt] = await listAttempts(database.db, confirmed);
    await finishAttempt(database.db, { attemptId: attempt!.id, outcome: 'booked', confirmationCode: UNKNOWN_HASH, error: null, metadata: {}, now: at(-30_000) });

    const outcomes = await reconcileAbandonedBookings(deps({ siteLookup: asked }));
    expect(outcomes.map((o) => [o.reservationId, o.decision]).sort()).toEqual([[unsubmitted, 'requeued'], [confirmed, 'booked']].sort());
    expect(asked.calls).toEqual([]);
    expect(await getReservation(database.db, unsubmitted)).toMatchObject({ status: 'scheduled' });
    expect(await attemptsOf(unsubmitted)).toEqual([{ court: 1, outcome: 'interrupted', code: null, reconciledAt: null }]);
    expect(await getReservation(database.db, live)).toMatchObject({ status: 'booking', lease_owner: 'live-daemon' });
    expect(await getReservation(database.db, confirmed)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: UNKNOWN_HASH });
  });
});

describe('many daemons', () => {
  it('two concurrent reconcilers (two daemon ids, separate connections) decide each row once', async () => {
    const times = ['06:00', '07:00', '08:00', '09:00', '10:00', '11:00'];
    const ids: number[] = [];
    const codes = new Map<number, string>();
    for (const [i, time] of times.entries()) {
      const hash = i % 2 === 0 ? bookOnSite(1, time) : undefined;
      const id = await crashedBooking({ time, attempts: [{ court: 1, submitted: true, ...(hash ? { hash } : {}) }] });
      ids.push(id);
      if (hash) codes.set(id, hash);
    }
    const other: Kysely<Database> = createKysely(database.url, { poolMax: 4, logger: silentDbLogger });
    const asked = counting(siteLookup);
    try {
      const [a, b] = await Promise.all([
        reconcileAbandonedBookings(deps({ daemonId: 'daemon-a', siteLookup: asked })),
        reconcileAbandonedBookings(deps({ daemonId: 'daemon-b', db: other, siteLookup: asked })),
      ]);
      const decided = [...a, ...b].map((o: ReconcileOutcome) => o.reservationId).sort((x, y) => x - y);
      expect(decided).toEqual(ids);
      expect(asked.calls).toHaveLength(ids.length);
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
  it('a booking job waits until the submit has had time to land, then sees the slot gone → needs_attention', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, outcome: 'error', submittedAtMs: -1_000 }], owner: 'daemon-new', leaseExpiresAt: at(30_000) });
    let answered = 0;
    const watching: SiteLookup = {
      byHash: (...a) => siteLookup.byHash(...a),
      offered: async (...a) => {
        const offered = await siteLookup.offered(...a);
        answered += 1;
        return offered;
      },
    };
    const pending = reconcileOwnBooking(deps({ siteLookup: watching }), { id, cause: 'court 1: the page crashed' });
    // It first finds the slot offered, then sleeps on the clock until 5 s after the submit (its only sleeper then).
    await waitFor('the reconciler to wait for the submit to settle', () => (answered === 1 && clock.pendingSleeps() === 1) || undefined, { everyMs: 5 });
    bookOnSite(1);
    clock.advance(4_000);
    expect(await pending).toMatchObject({ decision: 'needs_attention', attempt: 1 });
    expect((await getReservation(database.db, id))?.reason).toBe(
      "attempt 1 on court 1 was submitted and its outcome is unknown (court 1: the page crashed) with no appointment hash from the site; the slot 2027-07-22 at 09:00 is no longer offered on court 1: the booking may be this reservation's or someone else's; check the e-mail of Ana / the club's page",
    );
    expect(answered).toBe(2);
  });

  it('a take-over keeps the lease only until then, so a later tick looks again', async () => {
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, submittedAtMs: -1_000 }] });
    expect((await reconcileAbandonedBookings(deps())).map((o) => o.decision)).toEqual(['deferred']);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'booking', lease_owner: 'daemon-new', lease_expires_at: at(4_000) });
    expect(await reconcileAbandonedBookings(deps({ daemonId: 'daemon-other' }))).toEqual([]);

    clock.set(at(4_000).getTime());
    expect((await reconcileAbandonedBookings(deps({ daemonId: 'daemon-other' }))).map((o) => o.decision)).toEqual(['requeued']);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', confirmation_code: null });
  });
});

describe('the daemon', () => {
  it("its own booking's unknown outcome is reconciled by the stored hash; a row it does not hold is left alone", async () => {
    const hash = bookOnSite(2);
    const id = await crashedBooking({ attempts: [{ court: 2, submitted: true, hash, outcome: 'timeout', submittedAtMs: -20_000 }], owner: 'daemon-new', leaseExpiresAt: at(20_000) });
    expect(await reconcileOwnBooking(deps(), { id, cause: 'court 2: timed out' })).toMatchObject({ decision: 'booked', attempt: 1 });
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: hash });

    const notMine = await crashedBooking({ time: '08:00', attempts: [{ court: 1, submitted: true }], owner: 'someone-else', leaseExpiresAt: at(20_000) });
    expect(await reconcileOwnBooking(deps(), { id: notMine, cause: 'x' })).toMatchObject({ decision: 'not_held' });
    expect(await getReservation(database.db, notMine)).toMatchObject({ status: 'booking', lease_owner: 'someone-else' });
  });

  it('a session whose executor stored the hash (recordAnswer) and then lost the outcome settles as succeeded with that hash', async () => {
    const hash = bookOnSite(1);
    const executor = {
      async execute(port: Parameters<Parameters<typeof createBookingSessions>[0]['executor']['execute']>[0]) {
        const metadata = createBookingMetadata(port.request, { executor: 'daemon-new', flow: 'acuity-spa', browserId: 'none', attempt: 1 });
        const attempt = await port.startAttempt({ court: 1, browserId: 'none', flow: 'acuity-spa' });
        expect(await port.beginFire()).toBe(true);
        expect(await attempt.recordIntent()).toBe(true);
        await attempt.recordAnswer(hash);
        await attempt.finish({ outcome: 'unknown', confirmationCode: null, error: 'submitted, answer lost', metadata });
        return { kind: 'unknown' as const, result: BookingResult.failure({ request: port.request, outcome: 'unknown', errors: ['court 1: submitted, answer lost'], metadata }) };
      },
    };
    const sessions = createBookingSessions({ ...deps(), executor });
    const request = buildImmediateRequest({ user: ANA, venue: 'la-villa', targetDate: DAY, targetTime: '09:00', courts: [1, 2] }, (v) => v === 'la-villa');
    const session = await sessions.holdImmediate({ request, releaseAt: new Date(computeReleaseAt({ hoursBefore: 48 }, DAY, '09:00', ZONE)), slotAt: new Date(slotStartAt(DAY, '09:00', ZONE)) });
    const end = await session.run({ fireAt: NOW, siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(end.result).toMatchObject({ status: 'success', court: 1, confirmationCode: hash, source: 'immediate' });
    expect(await getReservation(database.db, session.id)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: hash });
    expect(await attemptsOf(session.id)).toEqual([{ court: 1, outcome: 'booked', code: hash, reconciledAt: NOW.toISOString() }]);
  });

  it('a scheduler tick (start-up) takes over a dead daemon’s booking and reconciles it without running the executor', async () => {
    const hash = bookOnSite(1);
    const id = await crashedBooking({ attempts: [{ court: 1, submitted: true, hash }] });
    const executor = { execute: () => Promise.reject(new Error('reconciliation must never book')) };
    const scheduler = createScheduler({ db: database.db, config, clock, logger, executor, daemonId: 'daemon-tick', siteLookup });
    await scheduler.tickOnce();
    expect(scheduler.inFlight()).toBe(0);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', booked_court: 1, confirmation_code: hash });
    expect((await getReservation(database.db, id))?.result).toMatchObject({ metadata: { recovered: true, executor: 'daemon-tick' } });
  });
});
