import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseJsonResult } from '../src/contracts/index.js';
import {
  flagBookedAfterCancel,
  finishAttempt,
  getReservation,
  insertReservation,
  insertUser,
  markAttemptSubmitted,
  recoverAbandonedBookings,
  startAttempt,
} from '../src/reservations/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

/**
 * Rows a dead daemon left in `booking` (lease expired): back to the queue when nothing was submitted,
 * `needs_attention` when a submit may have reached the site (DESIGN.md "never a blind second submit").
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

async function bookingRow(leaseExpiresAt: Date): Promise<number> {
  return insertReservation(database.db, {
    userId,
    venue: 'la-villa',
    targetDate: '2027-07-23',
    targetTime: '09:00',
    courts: [1, 2],
    status: 'booking',
    releaseAt: NOW,
    slotAt: at(48 * 3_600_000),
    leaseOwner: 'dead-daemon',
    leaseExpiresAt,
  });
}

async function attempt(reservationId: number, submitted: boolean, outcome: 'slot_taken' | 'timeout' | null): Promise<void> {
  const { id } = await startAttempt(database.db, { reservationId, court: 1, daemonId: 'dead-daemon', browserId: 'chromium-1', flow: 'acuity', now: at(-2_000) });
  if (submitted) await markAttemptSubmitted(database.db, { attemptId: id, now: at(-1_000) });
  if (outcome) await finishAttempt(database.db, { attemptId: id, outcome, confirmationCode: null, error: outcome, metadata: {}, now: at(-500) });
}

describe('recoverAbandonedBookings', () => {
  it('requeues a booking whose attempts never pressed submit, and flags one with an open submit', async () => {
    const notSubmitted = await bookingRow(at(-1));
    await attempt(notSubmitted, false, null);
    const openSubmit = await bookingRow(at(-1));
    await attempt(openSubmit, true, null);
    const refused = await bookingRow(at(-1));
    await attempt(refused, true, 'slot_taken');
    const timedOut = await bookingRow(at(-1));
    await attempt(timedOut, true, 'timeout');
    const stillLeased = await bookingRow(at(60_000));
    await attempt(stillLeased, true, null);

    const recovered = await recoverAbandonedBookings(database.db, NOW);
    expect(recovered.requeued.sort()).toEqual([notSubmitted, refused].sort());
    expect(recovered.needsAttention.sort()).toEqual([openSubmit, timedOut].sort());

    expect(await getReservation(database.db, notSubmitted)).toMatchObject({ status: 'scheduled', lease_owner: null, lease_expires_at: null });
    expect(await getReservation(database.db, refused)).toMatchObject({ status: 'scheduled' });
    const flagged = await getReservation(database.db, openSubmit);
    expect(flagged).toMatchObject({ status: 'needs_attention', lease_owner: null });
    expect(flagged?.reason).toBe('the daemon booking it stopped after attempt 1 on court 1 was submitted; check the site before retrying');
    expect(await getReservation(database.db, stillLeased)).toMatchObject({ status: 'booking', lease_owner: 'dead-daemon' });
    // Idempotent: a second pass finds nothing.
    expect(await recoverAbandonedBookings(database.db, NOW)).toEqual({ requeued: [], needsAttention: [] });
  });
});

describe('flagBookedAfterCancel', () => {
  it('keeps a booking the site took after the user cancelled visible as needs_attention with its code', async () => {
    const id = await insertReservation(database.db, { userId, venue: 'la-villa', targetDate: '2027-07-23', targetTime: '09:00', courts: [2], status: 'cancelled' });
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
    expect(await flagBookedAfterCancel(database.db, { id, result, now: NOW })).toBe(true);
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'needs_attention',
      booked_court: 2,
      confirmation_code: 'ZSYIFUCU',
      reason: 'cancelled while the booking was being submitted; the site holds booking ZSYIFUCU on court 2: cancel it on the site',
    });
    // Guarded: only a cancelled row is flagged.
    expect(await flagBookedAfterCancel(database.db, { id, result, now: NOW })).toBe(false);
  });
});
