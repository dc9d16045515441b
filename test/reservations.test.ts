import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as m0006 from '../migrations/0006_result_without_contact.js';
import { parseJsonResult, toJsonResult, type BookingResult } from '../src/contracts/index.js';
import { createKysely } from '../src/db/create-database.js';
import type { Database } from '../src/db/types.js';
import {
  claimDue,
  expireLeasesOfDeadOwners,
  createImmediateReservation,
  expireOverdue,
  finishAttempt,
  flagLateBooking,
  getBookingResult,
  getReservation,
  getStatus,
  heartbeat,
  isHeld,
  insertReservation,
  insertUser,
  listAttempts,
  listPending,
  listReservationOutcomes,
  recordIntent,
  markNeedsAttention,
  markRejected,
  markScheduled,
  nextReleaseAt,
  recordBookingResult,
  releaseClaim,
  requeueReservation,
  startAttempt,
  startBooking,
  type ReservationInput,
} from '../src/reservations/index.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';

const NOW = new Date('2027-07-13T12:00:00.000Z');
/** The venues the claiming daemon serves. */
const VENUES = ['la-villa'];
const MIN = 60_000;
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);
const USER = { firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' };

let t: TestDatabase;
let db: Kysely<Database>;
let userId: number;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
});
afterAll(() => t?.drop());
beforeEach(async () => {
  await t.truncate();
  userId = await insertUser(db, USER);
  rowsMade = 0;
});

let rowsMade = 0;
/**
 * A row of Ana's; each row after the first gets a `booking_users` row of its own (same details): the schema
 * refuses two active rows of one `booking_users` row for one slot (`reservations_one_booking_per_user_slot`).
 */
async function reservation(overrides: Partial<ReservationInput> = {}): Promise<number> {
  const owner = rowsMade++ === 0 ? userId : await insertUser(db, USER);
  return insertReservation(db, { userId: owner, venue: 'la-villa', targetDate: '2027-07-15', targetTime: '07:00', courts: [2, 1], ...overrides });
}
/** A `scheduled` row released at NOW + releaseInMs, its slot two days later. */
function scheduled(releaseInMs: number, overrides: Partial<ReservationInput> = {}): Promise<number> {
  return reservation({ status: 'scheduled', releaseAt: at(releaseInMs), slotAt: at(releaseInMs + 48 * 60 * MIN), ...overrides });
}
/** A row held by `owner` in `status` with a lease ending at NOW + leaseInMs. */
function held(status: 'claimed' | 'booking', owner: string, leaseInMs: number, overrides: Partial<ReservationInput> = {}): Promise<number> {
  return scheduled(-MIN, { status, leaseOwner: owner, leaseExpiresAt: at(leaseInMs), now: NOW, ...overrides });
}

function bookingResult(reservationId: number, status: 'success' | 'failure'): BookingResult {
  return parseJsonResult({
    status,
    outcome: status === 'success' ? 'booked' : 'slot_taken',
    user: USER,
    source: 'queue',
    venue: 'la-villa',
    court: 2,
    confirmationCode: status === 'success' ? 'ABC123' : null,
    message: status === 'success' ? null : 'every court was taken',
    errors: status === 'success' ? [] : ['court 2: slot taken', 'court 1: slot taken'],
    metadata: { target_date: '2027-07-15', target_time: '07:00', executor: 'd1', flow: 'acuity', browser_id: 'b1', attempt: 2, reservation_id: reservationId },
  });
}

describe('validation transitions', () => {
  it('listPending returns pending rows with user columns, by id, up to limit', async () => {
    const a = await reservation();
    await scheduled(MIN);
    const c = await reservation({ targetTime: '08:00' });
    const rows = await listPending(db, 10);
    expect(rows.map((r) => r.id)).toEqual([a, c]);
    expect(rows[0]).toMatchObject({ id: a, user_id: userId, first_name: 'Ana', last_name: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101', target_date: '2027-07-15', courts: [2, 1] });
    expect((await listPending(db, 1)).map((r) => r.id)).toEqual([a]);
  });

  it('markScheduled and markRejected only move pending rows', async () => {
    const a = await reservation();
    const b = await reservation();
    expect(await markScheduled(db, { id: a, releaseAt: at(MIN), slotAt: at(2 * MIN), now: NOW })).toBe(true);
    expect(await markScheduled(db, { id: a, releaseAt: at(MIN), slotAt: at(2 * MIN), now: NOW })).toBe(false);
    expect(await markRejected(db, { id: a, reason: 'x', now: NOW })).toBe(false);
    expect(await getReservation(db, a)).toMatchObject({ status: 'scheduled', release_at: at(MIN), slot_at: at(2 * MIN), updated_at: NOW });
    expect(await markRejected(db, { id: b, reason: 'target_time: "25:00" is not a 24-hour HH:MM time', now: NOW })).toBe(true);
    expect(await getReservation(db, b)).toMatchObject({ status: 'rejected', reason: 'target_time: "25:00" is not a 24-hour HH:MM time', finished_at: NOW });
    expect(await markScheduled(db, { id: b, releaseAt: at(MIN), slotAt: at(2 * MIN), now: NOW })).toBe(false);
    expect(await markScheduled(db, { id: 999, releaseAt: at(MIN), slotAt: at(2 * MIN), now: NOW })).toBe(false);
  });

  it('nextReleaseAt is the earliest scheduled release, or null', async () => {
    expect(await nextReleaseAt(db, VENUES)).toBeNull();
    await held('claimed', 'd1', MIN, { releaseAt: at(-10 * MIN) });
    await scheduled(5 * MIN);
    await scheduled(3 * MIN);
    expect(await nextReleaseAt(db, VENUES)).toEqual(at(3 * MIN));
  });

  it('expireOverdue expires waiting rows whose slot started, never live or booking ones', async () => {
    const slot = { slotAt: at(-1), releaseAt: at(-2 * MIN) };
    const waiting = await scheduled(0, slot);
    const deadClaim = await held('claimed', 'd1', -1, slot);
    const liveClaim = await held('claimed', 'd2', MIN, slot);
    const booking = await held('booking', 'd3', -1, slot);
    const future = await scheduled(0, { slotAt: at(MIN), releaseAt: at(-MIN) });
    expect(await expireOverdue(db, NOW)).toEqual([waiting, deadClaim]);
    expect(await getReservation(db, waiting)).toMatchObject({
      status: 'expired',
      reason: 'slot start 2027-07-13T11:59:59.999Z passed before it could be booked',
      finished_at: NOW,
      lease_owner: null,
    });
    expect(await getStatus(db, deadClaim)).toBe('expired');
    expect(await getStatus(db, liveClaim)).toBe('claimed');
    expect(await getStatus(db, booking)).toBe('booking');
    expect(await getStatus(db, future)).toBe('scheduled');
    expect(await expireOverdue(db, NOW)).toEqual([]);
  });
});

describe('claims and leases', () => {
  it('claimDue claims due rows within the horizon, earliest first, with user columns', async () => {
    const later = await scheduled(50 * 1000);
    const sooner = await scheduled(-5 * MIN);
    const tooLate = await scheduled(2 * MIN);
    const slotPassed = await scheduled(-MIN, { slotAt: NOW });
    await reservation();
    const rows = await claimDue(db, { owner: 'd1', now: NOW, horizonMs: MIN, leaseMs: 2 * MIN, limit: 10, venues: VENUES });
    expect(rows.map((r) => r.id)).toEqual([sooner, later]);
    expect(rows[0]).toMatchObject({ status: 'claimed', lease_owner: 'd1', lease_expires_at: at(2 * MIN), first_name: 'Ana', email: 'ana@example.com', venue: 'la-villa' });
    expect(await getStatus(db, tooLate)).toBe('scheduled');
    expect(await getStatus(db, slotPassed)).toBe('scheduled');
    expect(await claimDue(db, { owner: 'd2', now: NOW, horizonMs: MIN, leaseMs: 2 * MIN, limit: 10, venues: VENUES })).toEqual([]);
  });

  it('claimDue takes over claimed rows whose lease expired, but never booking rows', async () => {
    const deadClaim = await held('claimed', 'd1', -1);
    await held('claimed', 'd1', 1);
    const deadBooking = await held('booking', 'd1', -1);
    const rows = await claimDue(db, { owner: 'd2', now: NOW, horizonMs: 0, leaseMs: MIN, limit: 10, venues: VENUES });
    expect(rows.map((r) => [r.id, r.lease_owner])).toEqual([[deadClaim, 'd2']]);
    expect(await getReservation(db, deadBooking)).toMatchObject({ status: 'booking', lease_owner: 'd1' });
  });

  it('expireLeasesOfDeadOwners ends live leases of owners judged dead, so claimDue takes them over at once', async () => {
    const deadClaim = await held('claimed', 'host:41:aa', MIN);
    const deadBooking = await held('booking', 'host:41:aa', MIN);
    const alive = await held('claimed', 'host:42:bb', MIN);
    const done = await held('claimed', 'host:41:aa', MIN);
    await sql`UPDATE reservations SET status = 'succeeded' WHERE id = ${done}`.execute(db);
    const judged: string[] = [];
    const ended = await expireLeasesOfDeadOwners(db, { now: NOW, isDead: (owner) => (judged.push(owner), owner === 'host:41:aa') });
    expect(judged.sort()).toEqual(['host:41:aa', 'host:42:bb']);
    expect(ended).toEqual([{ owner: 'host:41:aa', rows: 2 }]);
    expect((await getReservation(db, deadClaim))?.lease_expires_at).toEqual(NOW);
    expect((await getReservation(db, deadBooking))?.lease_expires_at).toEqual(NOW);
    expect((await getReservation(db, alive))?.lease_expires_at).toEqual(at(MIN));
    expect((await getReservation(db, done))?.lease_expires_at).toEqual(at(MIN)); // finished rows are not touched
    const rows = await claimDue(db, { owner: 'd2', now: NOW, horizonMs: 0, leaseMs: MIN, limit: 10, venues: VENUES });
    expect(rows.map((r) => r.id)).toEqual([deadClaim]);
    const all = await expireLeasesOfDeadOwners(db, { now: NOW, isDead: () => true });
    expect(all.sort((a, b) => a.owner.localeCompare(b.owner))).toEqual([{ owner: 'd2', rows: 1 }, { owner: 'host:42:bb', rows: 1 }]);
  });

  it('claimDue respects limit', async () => {
    for (let i = 0; i < 5; i += 1) await scheduled(-i * 1000);
    const rows = await claimDue(db, { owner: 'd1', now: NOW, horizonMs: 0, leaseMs: MIN, limit: 2, venues: VENUES });
    expect(rows.map((r) => r.release_at)).toEqual([at(-4000), at(-3000)]);
  });

  it('heartbeat, releaseClaim and startBooking check status and owner', async () => {
    const id = await held('claimed', 'd1', MIN);
    expect(await heartbeat(db, { id, owner: 'd2', now: NOW, leaseMs: 5 * MIN })).toBe(false);
    expect(await heartbeat(db, { id, owner: 'd1', now: NOW, leaseMs: 5 * MIN })).toBe(true);
    expect((await getReservation(db, id))?.lease_expires_at).toEqual(at(5 * MIN));
    expect(await releaseClaim(db, { id, owner: 'd2', now: NOW })).toBe(false);
    expect(await startBooking(db, { id, owner: 'd2', now: NOW, leaseMs: MIN })).toBe(false);
    expect(await releaseClaim(db, { id, owner: 'd1', now: NOW })).toBe(true);
    expect(await getReservation(db, id)).toMatchObject({ status: 'scheduled', lease_owner: null, lease_expires_at: null });
    expect(await releaseClaim(db, { id, owner: 'd1', now: NOW })).toBe(false);
    expect(await heartbeat(db, { id, owner: 'd1', now: NOW, leaseMs: MIN })).toBe(false);
    expect(await startBooking(db, { id, owner: 'd1', now: NOW, leaseMs: MIN })).toBe(false);

    const [claimed] = await claimDue(db, { owner: 'd1', now: NOW, horizonMs: 0, leaseMs: MIN, limit: 1, venues: VENUES });
    expect(claimed?.id).toBe(id);
    expect(await startBooking(db, { id, owner: 'd1', now: NOW, leaseMs: MIN })).toBe(true);
    expect(await getStatus(db, id)).toBe('booking');
    expect(await startBooking(db, { id, owner: 'd1', now: NOW, leaseMs: MIN })).toBe(true); // already firing: stays booking
    expect(await getStatus(db, id)).toBe('booking');
    expect(await releaseClaim(db, { id, owner: 'd1', now: NOW })).toBe(false);
    expect(await heartbeat(db, { id, owner: 'd1', now: NOW, leaseMs: MIN })).toBe(true);
  });

  it('startBooking respects a cancel made while the claim waited', async () => {
    const id = await held('claimed', 'd1', MIN);
    await sql`UPDATE reservations SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL WHERE id = ${id}`.execute(db);
    expect(await startBooking(db, { id, owner: 'd1', now: NOW, leaseMs: MIN })).toBe(false);
    expect(await heartbeat(db, { id, owner: 'd1', now: NOW, leaseMs: MIN })).toBe(false);
    expect(await getStatus(db, id)).toBe('cancelled');
  });

  it('requeueReservation and markNeedsAttention move only rows the owner holds', async () => {
    const a = await held('booking', 'd1', MIN);
    const b = await held('booking', 'd1', MIN);
    expect(await requeueReservation(db, { id: a, owner: 'd2', now: NOW })).toBe(false);
    expect(await requeueReservation(db, { id: a, owner: 'd1', now: NOW })).toBe(true);
    expect(await getReservation(db, a)).toMatchObject({ status: 'scheduled', lease_owner: null });
    expect(await requeueReservation(db, { id: a, owner: 'd1', now: NOW })).toBe(false);
    expect(await markNeedsAttention(db, { id: b, owner: 'd2', reason: 'r', now: NOW })).toBe(false);
    const result = bookingResult(b, 'failure');
    expect(await markNeedsAttention(db, { id: b, owner: 'd1', reason: 'submitted, outcome unknown', result, now: NOW })).toBe(true);
    expect(await getReservation(db, b)).toMatchObject({ status: 'needs_attention', reason: 'submitted, outcome unknown', result: { ...toJsonResult(result), user: { firstName: 'Ana', lastName: 'Alvarez' } }, lease_owner: null });
  });
});

describe('concurrent claimers (SKIP LOCKED)', () => {
  it('two pools claiming 50 due rows in parallel never get the same row', async () => {
    for (let i = 0; i < 50; i += 1) await scheduled(-(i % 7) * 1000);
    const other = createKysely(t.url, { poolMax: 4, logger: silentDbLogger });
    try {
      const claimer = async (pool: Kysely<Database>, owner: string): Promise<number[]> => {
        const mine: number[] = [];
        for (;;) {
          const batches = await Promise.all([1, 2, 3].map(() => claimDue(pool, { owner, now: NOW, horizonMs: 0, leaseMs: MIN, limit: 3, venues: VENUES })));
          const ids = batches.flat().map((r) => r.id);
          if (ids.length === 0) return mine;
          mine.push(...ids);
        }
      };
      const [a, b] = await Promise.all([claimer(db, 'd1'), claimer(other, 'd2')]);
      const all = [...a, ...b];
      expect(new Set(all).size).toBe(all.length);
      expect(all.length).toBe(50);
      expect(a.filter((id) => b.includes(id))).toEqual([]);
      const rows = await db.selectFrom('reservations').select(['id', 'status', 'lease_owner']).execute();
      for (const row of rows) {
        expect(row).toEqual({ id: row.id, status: 'claimed', lease_owner: a.includes(Number(row.id)) ? 'd1' : 'd2' });
      }
    } finally {
      await other.destroy();
    }
  });

  it('a row locked by another transaction is skipped, not waited for', async () => {
    const locked = await scheduled(-2000);
    const free = await scheduled(-1000);
    const other = createKysely(t.url, { poolMax: 1, logger: silentDbLogger });
    try {
      let release!: () => void;
      const holding = new Promise<void>((resolve) => (release = resolve));
      let lockTaken!: () => void;
      const taken = new Promise<void>((resolve) => (lockTaken = resolve));
      const locker = other.transaction().execute(async (trx) => {
        await trx.selectFrom('reservations').select('id').where('id', '=', String(locked)).forUpdate().execute();
        lockTaken();
        await holding;
      });
      await taken;
      // Bounded: a claim that waited for the lock would deadlock with this test, so give up after 5 s.
      let timer: NodeJS.Timeout | undefined;
      const rows = await Promise.race([
        claimDue(db, { owner: 'd1', now: NOW, horizonMs: 0, leaseMs: MIN, limit: 10, venues: VENUES }),
        new Promise<'waited'>((resolve) => (timer = setTimeout(() => resolve('waited'), 5_000))),
      ]);
      clearTimeout(timer);
      release();
      if (rows === 'waited') throw new Error('claimDue waited for a locked row instead of skipping it');
      await locker;
      expect(rows.map((r) => r.id)).toEqual([free]);
      expect(await getStatus(db, locked)).toBe('scheduled');
    } finally {
      await other.destroy();
    }
  });
});

describe('attempts and results', () => {
  it('records attempts append-only with an intent before the submit', async () => {
    const id = await held('booking', 'd1', MIN);
    const started = await startAttempt(db, { reservationId: id, court: 2, daemonId: 'd1', browserId: 'b1', flow: 'acuity', now: NOW });
    expect(started.attempt).toBe(1);
    const first = started.id;
    await expect(startAttempt(db, { reservationId: 987654, court: 1, daemonId: 'd1', browserId: 'b1', flow: 'acuity', now: NOW })).rejects.toThrow(
      'reservation 987654: cannot start an attempt, the reservation does not exist',
    );
    expect(await recordIntent(db, { attemptId: first, reservationId: id, owner: 'd1', now: at(1) })).toBe(true);
    // Repeated for a "not open yet" retry of the same attempt: granted, the first intent's time is kept.
    expect(await recordIntent(db, { attemptId: first, reservationId: id, owner: 'd1', now: at(2) })).toBe(true);
    expect(await finishAttempt(db, { attemptId: first, outcome: 'slot_taken', confirmationCode: null, error: 'court 2: slot taken', metadata: { fire_lag_ms: 12 }, now: at(3) })).toBe(true);
    expect(await finishAttempt(db, { attemptId: first, outcome: 'booked', confirmationCode: 'X', error: null, metadata: {}, now: at(4) })).toBe(false);
    const secondStarted = await startAttempt(db, { reservationId: id, court: 1, daemonId: 'd1', browserId: null, flow: 'acuity', now: at(5) });
    expect(secondStarted.attempt).toBe(2);
    const second = secondStarted.id;
    expect((await getReservation(db, id))?.attempt_count).toBe(2);
    const attempts = await listAttempts(db, id);
    expect(attempts.map((a) => a.id)).toEqual([first, second]);
    expect(attempts[0]).toMatchObject({
      reservation_id: id,
      attempt: 1,
      court: 2,
      daemon_id: 'd1',
      browser_id: 'b1',
      flow: 'acuity',
      started_at: NOW,
      submitted_at: at(1),
      finished_at: at(3),
      outcome: 'slot_taken',
      error: 'court 2: slot taken',
      metadata: { fire_lag_ms: 12 },
    });
    expect(attempts[1]).toMatchObject({ submitted_at: null, finished_at: null, outcome: null, metadata: {} });
  });

  it('recordIntent is written only while the attempt is open and the row is in booking under its owner', async () => {
    const id = await held('booking', 'd1', MIN);
    const { id: attemptId } = await startAttempt(db, { reservationId: id, court: 2, daemonId: 'd1', browserId: 'b1', flow: 'acuity', now: NOW });
    expect(await recordIntent(db, { attemptId, reservationId: id, owner: 'd2', now: at(1) })).toBe(false); // another owner
    const other = await held('booking', 'd1', MIN);
    expect(await recordIntent(db, { attemptId, reservationId: other, owner: 'd1', now: at(1) })).toBe(false); // not this row's attempt
    const claimed = await held('claimed', 'd1', MIN);
    const { id: claimedAttempt } = await startAttempt(db, { reservationId: claimed, court: 2, daemonId: 'd1', browserId: 'b1', flow: 'acuity', now: NOW });
    expect(await recordIntent(db, { attemptId: claimedAttempt, reservationId: claimed, owner: 'd1', now: at(1) })).toBe(false); // fire not begun
    expect((await listAttempts(db, id))[0]?.submitted_at).toBeNull();
    expect(await recordIntent(db, { attemptId, reservationId: id, owner: 'd1', now: at(2) })).toBe(true);
    expect((await listAttempts(db, id))[0]?.submitted_at).toEqual(at(2));
    await finishAttempt(db, { attemptId, outcome: 'slot_taken', confirmationCode: null, error: 'taken', metadata: {}, now: at(3) });
    expect(await recordIntent(db, { attemptId, reservationId: id, owner: 'd1', now: at(4) })).toBe(false); // the attempt is closed
    // Taken over by another daemon: its attempt's intent is refused.
    const stolen = await held('booking', 'd1', MIN);
    const { id: stolenAttempt } = await startAttempt(db, { reservationId: stolen, court: 1, daemonId: 'd1', browserId: 'b1', flow: 'acuity', now: NOW });
    await sql`UPDATE reservations SET lease_owner = 'd3' WHERE id = ${stolen}`.execute(db);
    expect(await recordIntent(db, { attemptId: stolenAttempt, reservationId: stolen, owner: 'd1', now: at(1) })).toBe(false);
  });

  it('startBooking begins the fire and renews the lease while the owner holds the row, and keeps a booking row in booking', async () => {
    const claimed = await held('claimed', 'd1', MIN);
    expect(await startBooking(db, { id: claimed, owner: 'd2', now: at(1), leaseMs: MIN })).toBe(false);
    // The lease ran out but nobody took the row over: still ours; the fire renews it.
    expect(await startBooking(db, { id: claimed, owner: 'd1', now: at(2 * MIN), leaseMs: MIN })).toBe(true);
    expect(await getReservation(db, claimed)).toMatchObject({ status: 'booking', lease_owner: 'd1', lease_expires_at: at(3 * MIN) });
    const immediate = await held('booking', 'd1', MIN);
    expect(await startBooking(db, { id: immediate, owner: 'd1', now: at(1), leaseMs: MIN })).toBe(true);
    expect(await getStatus(db, immediate)).toBe('booking');
    expect(await isHeld(db, { id: immediate, owner: 'd1' })).toBe(true);
    expect(await isHeld(db, { id: immediate, owner: 'd2' })).toBe(false);
    const queued = await scheduled(MIN);
    expect(await isHeld(db, { id: queued, owner: 'd1' })).toBe(false);
  });

  it('recordBookingResult writes a success only for the owner of a booking row', async () => {
    const id = await held('booking', 'd1', MIN);
    const result = bookingResult(id, 'success');
    expect(await recordBookingResult(db, { reservationId: id, owner: 'd2', result, now: NOW })).toBe(false);
    expect(await recordBookingResult(db, { reservationId: id, owner: 'd1', result, now: NOW })).toBe(true);
    expect(await getReservation(db, id)).toMatchObject({
      status: 'succeeded',
      booked_court: 2,
      confirmation_code: 'ABC123',
      reason: null,
      result: { ...toJsonResult(result), user: { firstName: 'Ana', lastName: 'Alvarez' } },
      finished_at: NOW,
      lease_owner: null,
      lease_expires_at: null,
    });
    expect(await recordBookingResult(db, { reservationId: id, owner: 'd1', result, now: NOW })).toBe(false);
  });

  it('recordBookingResult writes a failure with its errors as the reason', async () => {
    const id = await held('booking', 'd1', MIN);
    const claimedOnly = await held('claimed', 'd1', MIN);
    const result = bookingResult(id, 'failure');
    expect(await recordBookingResult(db, { reservationId: claimedOnly, owner: 'd1', result, now: NOW })).toBe(false);
    expect(await recordBookingResult(db, { reservationId: id, owner: 'd1', result, now: NOW })).toBe(true);
    expect(await getReservation(db, id)).toMatchObject({
      status: 'failed',
      booked_court: null,
      confirmation_code: null,
      reason: 'court 2: slot taken; court 1: slot taken',
      result: { ...toJsonResult(result), user: { firstName: 'Ana', lastName: 'Alvarez' } },
      finished_at: NOW,
    });
  });

  it('recordBookingResult leaves a cancelled booking alone', async () => {
    const id = await held('booking', 'd1', MIN);
    await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${id}`.execute(db);
    expect(await recordBookingResult(db, { reservationId: id, owner: 'd1', result: bookingResult(id, 'success'), now: NOW })).toBe(false);
    expect(await getStatus(db, id)).toBe('cancelled');
  });

  it('createImmediateReservation holds a booking row for its owner and reuses the user by email', async () => {
    const args = { user: { ...USER, phone: '+502 5555 0199' }, venue: 'la-villa', targetDate: '2027-07-15', targetTime: '09:00', courts: [3], releaseAt: at(-MIN), slotAt: at(MIN), owner: 'cli-1', now: NOW, leaseMs: MIN };
    const id = await createImmediateReservation(db, args);
    expect(await getReservation(db, id)).toMatchObject({ user_id: userId, status: 'booking', source: 'immediate', lease_owner: 'cli-1', lease_expires_at: at(MIN), courts: [3] });
    const phone = await db.selectFrom('booking_users').select('phone').where('id', '=', String(userId)).executeTakeFirstOrThrow();
    expect(phone.phone).toBe('+502 5555 0199');
    const other = await createImmediateReservation(db, { ...args, user: { ...USER, email: 'ben@example.com' } });
    expect((await getReservation(db, other))?.user_id).not.toBe(userId);
    const attempt = await startAttempt(db, { reservationId: id, court: 3, daemonId: 'cli-1', browserId: 'b', flow: 'acuity', now: NOW });
    expect(attempt.attempt).toBe(1);
    expect(attempt.id).toBeGreaterThan(0);
    expect(await recordBookingResult(db, { reservationId: id, owner: 'cli-1', result: bookingResult(id, 'failure'), now: NOW })).toBe(true);
    expect((await listReservationOutcomes(db, [other, id, 12345])).map((r) => [r.id, r.status])).toEqual([
      [id, 'failed'],
      [other, 'booking'],
    ]);
  });
});

describe('reservations.result keeps no contact details (they live in booking_users)', () => {
  const resultText = async (id: number): Promise<string> =>
    (await sql<{ text: string }>`SELECT result::text AS text FROM reservations WHERE id = ${id}`.execute(db)).rows[0]!.text;

  it('a result recorded by recordBookingResult holds neither the e-mail nor the phone; read back, its user comes from booking_users', async () => {
    const id = await held('booking', 'd1', MIN);
    expect(await recordBookingResult(db, { reservationId: id, owner: 'd1', result: bookingResult(id, 'success'), now: NOW })).toBe(true);
    const text = await resultText(id);
    expect(text).not.toContain('ana@example.com');
    expect(text).not.toContain('5555 0101');
    expect(text).not.toContain('"email"');
    expect(text).not.toContain('"phone"');
    expect((await getReservation(db, id))?.result).toMatchObject({ user: { firstName: 'Ana', lastName: 'Alvarez' } });

    const read = await getBookingResult(db, id);
    expect(read?.user).toEqual({ firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' });
    expect(read).toMatchObject({ status: 'success', outcome: 'booked', court: 2, confirmationCode: 'ABC123', source: 'queue', venue: 'la-villa' });
    // booking_users is the one place: a corrected phone is what the result reads back.
    await db.updateTable('booking_users').set({ phone: '+502 5555 0999' }).where('id', '=', String(userId)).execute();
    expect((await getBookingResult(db, id))?.user.phone).toBe('+502 5555 0999');
    expect(await getBookingResult(db, await reservation())).toBeNull();
  });

  it('markNeedsAttention and flagLateBooking store results without contact details too', async () => {
    const a = await held('booking', 'd1', MIN);
    expect(await markNeedsAttention(db, { id: a, owner: 'd1', reason: 'submitted, outcome unknown', result: bookingResult(a, 'failure'), now: NOW })).toBe(true);
    const b = await held('booking', 'd1', MIN);
    await sql`UPDATE reservations SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL WHERE id = ${b}`.execute(db);
    expect(await flagLateBooking(db, { id: b, owner: 'd1', result: bookingResult(b, 'success'), now: NOW })).toBe('cancelled');
    for (const id of [a, b]) {
      const text = await resultText(id);
      expect(text).not.toContain('ana@example.com');
      expect(text).not.toContain('5555 0101');
    }
  });

  it('a site message that quotes the e-mail or phone is stored without them', async () => {
    const id = await held('booking', 'd1', MIN);
    const result = parseJsonResult({
      ...toJsonResult(bookingResult(id, 'failure')),
      outcome: 'form_rejected',
      message: 'the site refused the form (HTTP 400): ANA@example.com is already registered',
      errors: ['court 2: phone +502 5555 0101 is not valid'],
    });
    expect(await recordBookingResult(db, { reservationId: id, owner: 'd1', result, now: NOW })).toBe(true);
    expect((await getReservation(db, id))?.result).toMatchObject({
      message: 'the site refused the form (HTTP 400): [e-mail] is already registered',
      errors: ['court 2: phone [phone] is not valid'],
    });
  });

  it('migration 0006 removes user.email and user.phone from a result written before it; down puts them back from booking_users', async () => {
    const id = await reservation({ status: 'succeeded' });
    const old = toJsonResult(bookingResult(id, 'success'));
    await sql`UPDATE reservations SET result = ${JSON.stringify(old)}::jsonb WHERE id = ${id}`.execute(db);
    const untouched = await reservation();
    expect(await resultText(id)).toContain('ana@example.com');

    await m0006.up(db as unknown as Kysely<unknown>);
    expect(await resultText(id)).not.toContain('ana@example.com');
    expect(await resultText(id)).not.toContain('5555 0101');
    expect((await getReservation(db, id))?.result).toEqual({ ...old, user: { firstName: 'Ana', lastName: 'Alvarez' } });
    expect((await getReservation(db, untouched))?.result).toBeNull();
    expect((await getBookingResult(db, id))?.user).toEqual(USER);

    await m0006.down(db as unknown as Kysely<unknown>);
    expect((await getReservation(db, id))?.result).toEqual(old);
    await m0006.up(db as unknown as Kysely<unknown>);
    expect((await getReservation(db, id))?.result).toEqual({ ...old, user: { firstName: 'Ana', lastName: 'Alvarez' } });
  });
});
