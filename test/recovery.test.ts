import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseJsonResult } from '../src/contracts/index.js';
import {
  flagLateBooking,
  flagUnknownAfterCancel,
  finishAttempt,
  getReservation,
  insertReservation,
  insertUser,
  listAttempts,
  markAttemptReconciled,
  startAttempt,
  takeOverAbandonedBookings,
} from '../src/reservations/index.js';
import { createTestDatabase, setAttemptSubmitted, type TestDatabase } from './helpers/database.js';

/**
 * Rows a dead daemon left in `booking` (lease expired) are taken over for reconciliation against the site
 * (the decisions are pinned in test/reconcile.test.ts); attempts are settled once (never a blind second
 * submit).
 */

const NOW = new Date('2027-07-21T15:00:00.000Z');
const at = (ms: number): Date => new Date(NOW.getTime() + ms);
let database: TestDatabase;
let userId: number;

beforeAll(async () => {
  database = await createTestDatabase();
});
beforeEach(async () => {
  await database.truncate();
  userId = await insertUser(database.db, { firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' });
});
afterAll(async () => {
  await database?.drop();
});

/** A `booking` row of a person of its own (the schema refuses two active rows of one person for one slot). */
async function bookingRow(leaseExpiresAt: Date): Promise<number> {
  return insertReservation(database.db, {
    userId: await insertUser(database.db, { firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' }),
    venue: 'la-villa',
    targetDate: '2027-07-23',
    targetTime: '09:00',
    courts: [1, 2],
    status: 'booking',
    releaseAt: NOW,
    slotAt: at(48 * 3_600_000),
    leaseOwner: 'dead-daemon',
    leaseExpiresAt,
    now: NOW,
  });
}

async function attempt(reservationId: number, submitted: boolean, outcome: 'slot_taken' | 'timeout' | null): Promise<void> {
  const { id } = await startAttempt(database.db, { reservationId, court: 1, daemonId: 'dead-daemon', browserId: 'chromium-1', flow: 'acuity', now: at(-2_000) });
  if (submitted) await setAttemptSubmitted(database.db, id, at(-1_000));
  if (outcome) await finishAttempt(database.db, { attemptId: id, outcome, confirmationCode: null, error: outcome, metadata: {}, now: at(-500) });
}

describe('takeOverAbandonedBookings', () => {
  it('takes only booking rows whose lease expired, under a fresh lease, once', async () => {
    const expired = await bookingRow(at(-1));
    const stillLeased = await bookingRow(at(60_000));
    const taken = await takeOverAbandonedBookings(database.db, { owner: 'd2', now: NOW, leaseMs: 30_000, limit: 10, venues: ['la-villa'] });
    expect(taken.map((r) => [r.id, r.previous_owner, r.lease_owner, r.status, r.email])).toEqual([[expired, 'dead-daemon', 'd2', 'booking', 'ana@example.com']]);
    expect(await getReservation(database.db, expired)).toMatchObject({ status: 'booking', lease_owner: 'd2', lease_expires_at: at(30_000) });
    expect(await getReservation(database.db, stillLeased)).toMatchObject({ status: 'booking', lease_owner: 'dead-daemon' });
    // The fresh lease is not taken again.
    expect(await takeOverAbandonedBookings(database.db, { owner: 'd3', now: NOW, leaseMs: 30_000, limit: 10, venues: ['la-villa'] })).toEqual([]);
  });
});

describe('markAttemptReconciled', () => {
  it('settles a submitted attempt with an unknown outcome once, and never a refused or unsubmitted one', async () => {
    const id = await bookingRow(at(-1));
    await attempt(id, true, 'slot_taken');
    await attempt(id, true, null);
    await attempt(id, true, 'timeout');
    await attempt(id, false, null);
    const [refused, open, timedOut, unsubmitted] = await listAttempts(database.db, id);
    const settle = (attemptId: number, booked: boolean) =>
      markAttemptReconciled(database.db, { attemptId, booked, confirmationCode: booked ? 'ABCDEFGH' : null, note: 'not on the site', now: NOW });
    expect(await settle(refused!.id, false)).toBe(false);
    expect(await settle(unsubmitted!.id, false)).toBe(false);
    expect(await settle(open!.id, false)).toBe(true);
    expect(await settle(open!.id, true)).toBe(false);
    expect(await settle(timedOut!.id, true)).toBe(true);
    const after = await listAttempts(database.db, id);
    expect(after.map((a) => [a.outcome, a.confirmation_code, a.error, a.metadata.reconciled_at ?? null])).toEqual([
      ['slot_taken', null, 'slot_taken', null],
      ['interrupted', null, 'not on the site', NOW.toISOString()],
      ['booked', 'ABCDEFGH', 'timeout', NOW.toISOString()],
      [null, null, null, null],
    ]);
    expect(after[1]!.finished_at).toEqual(NOW);
  });
});

describe('flagLateBooking', () => {
  it('keeps a booking the site took after the user cancelled visible as needs_attention with its code', async () => {
    // A person's cancel (plain UPDATE of the status) leaves the daemon's lease on the row.
    const id = await bookingRow(at(30_000));
    await sql`UPDATE reservations SET status = 'cancelled', lease_owner = 'd1' WHERE id = ${id}`.execute(database.db);
    const other = await bookingRow(at(30_000));
    await sql`UPDATE reservations SET status = 'cancelled', lease_owner = 'd2' WHERE id = ${other}`.execute(database.db);
    const result = parseJsonResult({
      status: 'success',
      outcome: 'booked',
      user: { firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' },
      source: 'queue',
      venue: 'la-villa',
      court: 2,
      confirmationCode: 'ZSYIFUCU',
      message: null,
      errors: [],
      metadata: { target_date: '2027-07-23', target_time: '09:00', executor: 'd1', flow: 'acuity', browser_id: 'chromium-1', attempt: 1, reservation_id: id },
    });
    expect(await flagLateBooking(database.db, { id, owner: 'd1', result, now: NOW })).toBe('cancelled');
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'needs_attention',
      booked_court: 2,
      confirmation_code: 'ZSYIFUCU',
      reason: 'cancelled while the booking was being submitted; the site holds booking ZSYIFUCU on court 2: cancel it on the site',
    });
    // Another daemon's lease on the row: left to it.
    expect(await flagLateBooking(database.db, { id: other, owner: 'd1', result, now: NOW })).toBeNull();
    expect((await getReservation(database.db, other))?.status).toBe('cancelled');
    // A row another daemon settled as failed meanwhile: flagged too, naming what it had become.
    await sql`UPDATE reservations SET status = 'failed', reason = 'x', confirmation_code = NULL, booked_court = NULL WHERE id = ${id}`.execute(database.db);
    expect(await flagLateBooking(database.db, { id, owner: 'd1', result, now: NOW })).toBe('failed');
    expect((await getReservation(database.db, id))?.reason).toBe(
      'the site holds booking ZSYIFUCU on court 2, made by a submit whose answer came after the row had become failed: check the row, and cancel any second booking of this reservation on the site',
    );
    // Never over a succeeded row (its own booking stays), nor a held one.
    await sql`UPDATE reservations SET status = 'succeeded', confirmation_code = 'FIRSTONE', booked_court = 1 WHERE id = ${id}`.execute(database.db);
    expect(await flagLateBooking(database.db, { id, owner: 'd1', result, now: NOW })).toBeNull();
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', confirmation_code: 'FIRSTONE' });
  });

  it('flagUnknownAfterCancel: a cancel during a submit whose answer was lost becomes needs_attention, saying what to check', async () => {
    const id = await insertReservation(database.db, { userId, venue: 'la-villa', targetDate: '2027-07-23', targetTime: '09:00', courts: [2], status: 'cancelled' });
    expect(await flagUnknownAfterCancel(database.db, { id, now: NOW })).toBe(true);
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'needs_attention',
      reason: "cancelled while a booking submit was on its way, and the site's answer was lost: the site may hold a booking on 2027-07-23 at 09:00; check it and cancel it on the site",
    });
    expect(await flagUnknownAfterCancel(database.db, { id, now: NOW })).toBe(false);
  });
});
