import { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createExecutor } from '../src/booking/executor.js';
import { acuityTargetOf } from '../src/booking/flows/acuity.js';
import type { SlotFlow } from '../src/booking/flow.js';
import type { BookingExecutor } from '../src/booking/session-port.js';
import { createBookingSessions } from '../src/booking-session/index.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { BookingResult, buildImmediateRequest, createBookingMetadata } from '../src/contracts/index.js';
import { createKysely } from '../src/db/create-database.js';
import { describeConstraintViolation } from '../src/db/errors.js';
import {
  claimDue,
  expireOverdue,
  getReservation,
  heartbeat,
  insertReservation,
  insertUser,
  listAttempts,
  scheduleUnlessDuplicate,
  takeOverAbandonedBookings,
  type ReservationInput,
} from '../src/reservations/index.js';
import * as m0004 from '../migrations/0004_row_guards.js';
import * as m0007 from '../migrations/0007_booked_rows_final.js';
import { validatePendingOnce } from '../src/scheduling/validate-pending.js';
import { createLogger, createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { LA_VILLA, testConfig } from './helpers/sandbox.js';
import { fakePool, scriptedFlow } from './helpers/scripted-flow.js';

/**
 * The row guards against the real Postgres (`migrations/0004_row_guards.ts` and the daemon's side): a row
 * inserted straight as `scheduled` that cannot be booked is rejected at its claim (never retried); a booking
 * that ends on a changed row says what changed and leaves nothing held by this daemon; a held row's lease is
 * bounded; held rows and their person cannot be edited, an edited `scheduled` row is validated again; every
 * constraint's refusal names its column; one booking per person at a time, races included.
 */

const T0 = Date.parse('2027-07-21T14:59:30.000Z');
const at = (iso: string): Date => new Date(iso);
/** la-villa (60-min slots, courts 1–3) and club-b (90-min slots from 07:00 to 20:30), both America/Guatemala. */
const config = testConfig('http://127.0.0.1:1', {
  'la-villa': LA_VILLA,
  'club-b': { ...LA_VILLA, name: 'Club B', slotLengthS: 5400, lastSlotTime: '20:30' },
});
const ANA = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 0101' };

let database: TestDatabase;
let clock: ManualClock;
const lines: Array<{ level: string; msg: string; [key: string]: unknown }> = [];
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  }),
});
const messages = (): string[] => lines.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.msg);

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  lines.length = 0;
  clock = createManualClock(T0);
});

const person = (overrides: Partial<typeof ANA> = {}): Promise<number> => insertUser(database.db, { ...ANA, ...overrides });

/** A row inserted straight as `scheduled`, la-villa 2027-07-23 09:00 (slot 15:00Z), release at T0 unless overridden. */
function scheduledRow(userId: number, overrides: Partial<ReservationInput> = {}): Promise<number> {
  return insertReservation(database.db, {
    userId,
    venue: 'la-villa',
    targetDate: '2027-07-23',
    targetTime: '09:00',
    courts: [1],
    status: 'scheduled',
    releaseAt: new Date(T0),
    slotAt: at('2027-07-23T15:00:00.000Z'),
    ...overrides,
  });
}

function sessionsWith(executor: BookingExecutor, daemonId = 'daemon-a') {
  return createBookingSessions({ db: database.db, clock, logger, daemonId, venues: config.venues, leaseMs: 30_000, executor });
}

/** An executor that must never run (the rows it is given are rejected before). */
function forbiddenExecutor(): BookingExecutor & { calls: number } {
  const executor = {
    calls: 0,
    async execute(): Promise<never> {
      executor.calls += 1;
      throw new Error('the executor ran for a row that should have been rejected');
    },
  };
  return executor;
}

/** The real executor on a scripted site whose page, like the Acuity flow's, needs the court configured. */
function scriptedExecutor(daemonId = 'daemon-a') {
  const scripted = scriptedFlow(clock, () => ({ outcome: 'booked' }));
  const flow: SlotFlow = {
    ...scripted.flow,
    prepare: async (lease, target) => {
      acuityTargetOf(target);
      return scripted.flow.prepare(lease, target);
    },
  };
  const executor = createExecutor({ clock, logger, pool: fakePool(), flow, executorId: daemonId, attemptTimeoutMs: 5_000, notOpenRetryBudgetMs: 0, notOpenRetryIntervalMs: 250 });
  return { executor, submits: scripted.submits };
}

describe('a row inserted straight as scheduled is checked at its claim, and rejected once', () => {
  it.each<[string, Partial<ReservationInput>, string]>([
    ['a court the venue does not have', { courts: [9] }, 'courts: court 9 is not a court of venue "la-villa" (its courts: 1, 2, 3)'],
    [
      'a time off the slot grid',
      { targetTime: '09:30', slotAt: at('2027-07-23T15:30:00.000Z') },
      'target_time: "09:30" is not a slot start at venue "la-villa" on 2027-07-23 (slots start every 60 min from 07:00 to 21:00)',
    ],
    [
      'a slot already started (slot_at set in the future by hand)',
      { targetDate: '2027-07-20' },
      'target_date/target_time: the slot 2027-07-20 09:00 (America/Guatemala) started at 2027-07-20T15:00:00.000Z, which is in the past',
    ],
    [
      'a slot_at that is not the slot\'s start',
      { slotAt: at('2027-07-23T16:00:00.000Z') },
      'slot_at: 2027-07-23T16:00:00.000Z is not the start of the slot 2027-07-23 09:00 (America/Guatemala), 2027-07-23T15:00:00.000Z; insert the row as pending (release_at and slot_at NULL) and the daemon computes both',
    ],
    [
      'a release not before the slot',
      { targetDate: '2027-07-21', releaseAt: at('2027-07-21T15:00:00.000Z'), slotAt: at('2027-07-21T15:00:00.000Z') },
      "release_at: 2027-07-21T15:00:00.000Z is not before the slot's start at 2027-07-21T15:00:00.000Z",
    ],
  ])('%s', async (_case, overrides, reason) => {
    const bad = await scheduledRow(await person(), overrides);
    const good = await scheduledRow(await person({ email: 'ben@example.test', firstName: 'Ben' }), { targetTime: '10:00', slotAt: at('2027-07-23T16:00:00.000Z') });
    const executor = forbiddenExecutor();
    const sessions = sessionsWith(executor);
    const held = await sessions.holdDue({ horizonMs: 60_000, limit: 10 });
    expect(held.map((s) => s.id)).toEqual([good]);
    expect(await getReservation(database.db, bad)).toMatchObject({ status: 'rejected', reason, lease_owner: null, lease_expires_at: null, finished_at: new Date(T0) });
    expect(await listAttempts(database.db, bad)).toEqual([]);
    // Long after any lease: nothing claims it again.
    clock.set(T0 + 120_000);
    const again = await claimDue(database.db, { owner: 'daemon-b', now: new Date(clock.now()), horizonMs: 60_000, leaseMs: 30_000, limit: 10, venues: ['club'] });
    expect(again.filter((r) => r.id === bad)).toEqual([]);
    expect((await getReservation(database.db, bad))?.status).toBe('rejected');
    expect(executor.calls).toBe(0);
  });
});

describe('a booking that ends on a changed row says what changed, and leaves nothing held by this daemon', () => {
  const failure = (session: Parameters<BookingExecutor['execute']>[0], outcome: 'error' | 'slot_taken', error: string) =>
    BookingResult.failure({
      request: session.request,
      outcome,
      errors: [error],
      metadata: createBookingMetadata(session.request, { executor: 'daemon-a', flow: 'test', browserId: 'none', attempt: 1 }),
    });

  it('a failure reached before the fire began (the row still claimed): back in the queue, not held', async () => {
    const id = await scheduledRow(await person());
    const executor: BookingExecutor = { execute: async (session) => ({ kind: 'settled', result: failure(session, 'error', 'court 1: the database stayed unavailable while beginning the fire') }) };
    const [session] = await sessionsWith(executor).holdDue({ horizonMs: 60_000, limit: 10 });
    const end = await session!.run({ fireAt: new Date(T0), siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(end.recorded).toBe(false);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'scheduled', lease_owner: null, lease_expires_at: null });
    expect(messages()).toContain('reservation 1: the booking ended (error) before its fire began (nothing submitted); back in the queue');
  });

  it('cancelled by a person during the booking: the result is not written, the log says "cancelled, held by nobody"', async () => {
    const id = await scheduledRow(await person());
    const executor: BookingExecutor = {
      async execute(session) {
        expect(await session.beginFire()).toBe(true);
        await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${id}`.execute(database.db);
        return { kind: 'settled', result: failure(session, 'slot_taken', 'court 1: slot taken') };
      },
    };
    const [session] = await sessionsWith(executor).holdDue({ horizonMs: 60_000, limit: 10 });
    const end = await session!.run({ fireAt: new Date(T0), siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(end.recorded).toBe(false);
    expect((await getReservation(database.db, id))?.status).toBe('cancelled');
    expect(messages()).toContain(
      "reservation 1: result (slot_taken) not recorded: the row changed meanwhile: it is now cancelled (held by nobody; this daemon's old lease is still written on it)",
    );
  });

  it('taken over by another daemon before the fire: the log names the new holder; the row is left to it', async () => {
    const id = await scheduledRow(await person());
    const executor: BookingExecutor = {
      async execute(session) {
        await sql`UPDATE reservations SET lease_owner = 'daemon-b', lease_expires_at = ${at('2027-07-21T15:00:30.000Z')}, updated_at = ${new Date(T0)} WHERE id = ${id}`.execute(database.db);
        return { kind: 'interrupted', result: BookingResult.failure({ request: session.request, outcome: 'interrupted', errors: ['stopped'], metadata: createBookingMetadata(session.request, { executor: 'daemon-a', flow: 'test', browserId: 'none', attempt: 1 }) }) };
      },
    };
    const [session] = await sessionsWith(executor).holdDue({ horizonMs: 60_000, limit: 10 });
    const end = await session!.run({ fireAt: new Date(T0), siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(end.recorded).toBe(false);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'claimed', lease_owner: 'daemon-b' });
    expect(messages()).toContain(
      'reservation 1: booking interrupted before any submit; the row changed meanwhile: it is now claimed (held by daemon-b until 2027-07-21T15:00:30.000Z)',
    );
  });

  it('after a booked court, no other court of the reservation is tried, and the row is not claimed again', async () => {
    const id = await scheduledRow(await person(), { courts: [1, 2, 3] });
    const { executor, submits } = scriptedExecutor();
    const sessions = sessionsWith(executor);
    const [session] = await sessions.holdDue({ horizonMs: 60_000, limit: 10 });
    const end = await session!.run({ fireAt: new Date(T0), siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(end).toMatchObject({ recorded: true, result: { status: 'success', court: 1 } });
    expect(submits.map((s) => s.court)).toEqual([1]);
    expect((await listAttempts(database.db, id)).map((a) => [a.court, a.outcome])).toEqual([[1, 'booked']]);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', booked_court: 1 });
    clock.set(T0 + 120_000);
    expect(await sessions.holdDue({ horizonMs: 60_000, limit: 10 })).toEqual([]);
  });
});

/** pg's error of `work`, or a failure when it did not throw. */
async function refusal(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error('the statement was not refused');
}

describe('a held row\'s lease ends at most 1 hour after its updated_at', () => {
  it('refuses a row inserted as claimed under a made-up owner with a far-future lease, by hand or by update', async () => {
    const userId = await person();
    const err = await refusal(() =>
      sql`INSERT INTO reservations (user_id, venue, target_date, target_time, courts, status, release_at, slot_at, lease_owner, lease_expires_at)
          VALUES (${userId}, 'la-villa', '2027-07-23', '09:00', '{1}', 'claimed', now(), now() + interval '2 days', 'ghost', now() + interval '1 day')`.execute(database.db),
    );
    expect(describeConstraintViolation(err)?.message).toBe(
      "lease_expires_at: a claimed or booking row's lease must end at most 1 hour after its updated_at (only a daemon holds a row; daemon.leaseMs is at most 1 hour)",
    );
    const id = await scheduledRow(userId, { status: 'booking', leaseOwner: 'daemon-a', leaseExpiresAt: new Date(T0 + 30_000), now: new Date(T0) });
    const edited = await refusal(() => sql`UPDATE reservations SET lease_expires_at = '2099-01-01Z' WHERE id = ${id}`.execute(database.db));
    expect(describeConstraintViolation(edited)?.field).toBe('lease_expires_at');
    expect((await getReservation(database.db, id))?.lease_expires_at).toEqual(new Date(T0 + 30_000));
  });

  it('takes a lease of exactly 1 hour (the largest daemon.leaseMs) and refuses 1 ms more', async () => {
    const id = await scheduledRow(await person(), { status: 'claimed', leaseOwner: 'daemon-a', leaseExpiresAt: new Date(T0 + 30_000), now: new Date(T0) });
    expect(await heartbeat(database.db, { id, owner: 'daemon-a', now: new Date(T0 + 1_000), leaseMs: 3_600_000 })).toBe(true);
    expect((await getReservation(database.db, id))?.lease_expires_at).toEqual(new Date(T0 + 3_601_000));
    const err = await refusal(() => heartbeat(database.db, { id, owner: 'daemon-a', now: new Date(T0 + 2_000), leaseMs: 3_600_001 }));
    expect(describeConstraintViolation(err)?.constraint).toBe('reservations_lease_bounded');
  });
});

describe('a row held by a made-up owner with updated_at and its lease far in the future', () => {
  it('is taken over (claimed, or reconciled when booking) as if its lease had run out; a lease of 1 hour from now is left alone', async () => {
    const far = at('2099-01-01T00:00:00.000Z');
    const farLease = at('2099-01-01T00:59:00.000Z');
    const claimed = await scheduledRow(await person(), { status: 'claimed', leaseOwner: 'evil', leaseExpiresAt: farLease, now: far });
    const legit = await scheduledRow(await person({ email: 'ben@example.test' }), { status: 'claimed', leaseOwner: 'daemon-b', leaseExpiresAt: new Date(T0 + 3_600_000), now: new Date(T0) });
    const booking = await scheduledRow(await person({ email: 'cy@example.test' }), { status: 'booking', leaseOwner: 'evil', leaseExpiresAt: farLease, now: far });
    const now = new Date(T0);
    const taken = await claimDue(database.db, { owner: 'daemon-a', now, horizonMs: 60_000, leaseMs: 30_000, limit: 10, venues: ['la-villa'] });
    expect(taken.map((r) => r.id)).toEqual([claimed]);
    expect(await getReservation(database.db, claimed)).toMatchObject({ status: 'claimed', lease_owner: 'daemon-a', lease_expires_at: new Date(T0 + 30_000), updated_at: now });
    expect(await getReservation(database.db, legit)).toMatchObject({ status: 'claimed', lease_owner: 'daemon-b' });
    const reconciled = await takeOverAbandonedBookings(database.db, { owner: 'daemon-a', now, leaseMs: 30_000, limit: 10, venues: ['la-villa'] });
    expect(reconciled.map((r) => [r.id, r.previous_owner])).toEqual([[booking, 'evil']]);
    expect(await getReservation(database.db, booking)).toMatchObject({ status: 'booking', lease_owner: 'daemon-a', lease_expires_at: new Date(T0 + 30_000) });
  });

  it('is expired once its slot has started, like a claim whose lease ran out', async () => {
    const id = await scheduledRow(await person(), { status: 'claimed', leaseOwner: 'evil', leaseExpiresAt: at('2099-01-01T00:59:00.000Z'), now: at('2099-01-01T00:00:00.000Z') });
    expect(await expireOverdue(database.db, at('2027-07-23T15:00:00.000Z'))).toEqual([id]);
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'expired', lease_owner: null, reason: 'slot start 2027-07-23T15:00:00.000Z passed before it could be booked' });
  });
});

describe('edits of a held row, of a scheduled row, and of a person with a held row', () => {
  it.each<[string, string]>([
    ['target_date', `target_date = '2027-07-24'`],
    ['target_time', `target_time = '10:00'`],
    ['venue', `venue = 'club-b'`],
    ['courts', `courts = '{2}'`],
    ['user_id', 'user_id = user_id + 1'],
  ])('refuses a change of %s on a booking row, naming the column and how to cancel', async (column, assignment) => {
    const id = await scheduledRow(await person(), { status: 'booking', leaseOwner: 'daemon-a', leaseExpiresAt: new Date(T0 + 30_000), now: new Date(T0) });
    await person({ email: 'ben@example.test' });
    const err = await refusal(() => sql.raw(`UPDATE reservations SET ${assignment} WHERE id = ${id}`).execute(database.db));
    const described = describeConstraintViolation(err);
    expect({ field: described?.field, message: described?.message }).toEqual({
      field: column,
      message: `${column}: reservation 1 is being booked (status booking) and cannot be edited; cancel it instead (UPDATE reservations SET status = 'cancelled' WHERE id = 1), then insert a new row`,
    });
    expect(await getReservation(database.db, id)).toMatchObject({ target_date: '2027-07-23', target_time: '09:00', venue: 'la-villa', courts: [1], user_id: 1, status: 'booking' });
    // What the message says works.
    await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${id}`.execute(database.db);
    expect((await getReservation(database.db, id))?.status).toBe('cancelled');
  });

  it.each<[string, string]>([
    ['status', `status = 'cancelled'`],
    ['target_time', `target_time = '10:00'`],
    ['courts', `courts = '{2}'`],
    ['booked_court', 'booked_court = 2'],
  ])('refuses a change of %s on a succeeded row: cancelling the row would not cancel the booking on the site, and would let the person be booked twice', async (column, assignment) => {
    const id = await scheduledRow(await person(), {});
    await sql`UPDATE reservations SET status = 'succeeded', booked_court = 1, confirmation_code = 'c0de', lease_owner = NULL, lease_expires_at = NULL WHERE id = ${id}`.execute(database.db);
    const err = await refusal(() => sql.raw(`UPDATE reservations SET ${assignment} WHERE id = ${id}`).execute(database.db));
    const described = describeConstraintViolation(err);
    expect({ field: described?.field, message: described?.message }).toEqual({
      field: column,
      message: `${column}: reservation 1 is booked on the site (court 1, code c0de) and its row is the record of it; changing the row would not cancel the booking there: cancel it with the site's change/cancel link (result->'metadata'->>'confirmation_url')`,
    });
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'succeeded', target_time: '09:00', courts: [1], booked_court: 1 });
    // A second row of the same person for the same slot is still a duplicate.
    const again = await insertReservation(database.db, { userId: 1, venue: 'la-villa', targetDate: '2027-07-23', targetTime: '09:00', courts: [2] });
    await validatePendingOnce({ db: database.db, config, now: new Date(T0), logger: createSilentLogger() });
    expect(await getReservation(database.db, again)).toMatchObject({ status: 'rejected' });
  });

  it.each(['claimed', 'booking'] as const)('refuses sending a %s row back to pending by hand (a submit may be under way: it would be booked twice)', async (status) => {
    const id = await scheduledRow(await person(), { status, leaseOwner: 'daemon-a', leaseExpiresAt: new Date(T0 + 30_000), now: new Date(T0) });
    const err = await refusal(() => sql`UPDATE reservations SET status = 'pending' WHERE id = ${id}`.execute(database.db));
    const described = describeConstraintViolation(err);
    expect({ field: described?.field, message: described?.message }).toEqual({
      field: 'status',
      message: `status: reservation 1 is being booked (status ${status}): sending it back to pending could book it a second time; cancel it instead (UPDATE reservations SET status = 'cancelled' WHERE id = 1)`,
    });
    expect((await getReservation(database.db, id))?.status).toBe(status);
  });

  it('puts an edited scheduled row back to pending (release_at and slot_at cleared, NOTIFY sent), and validation schedules it again', async () => {
    const userId = await person();
    const id = await scheduledRow(userId, { releaseAt: at('2027-07-21T15:00:00.000Z') });
    const listener = new pg.Client({ connectionString: database.url });
    await listener.connect();
    try {
      const notified = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(n.payload ?? '')));
      await listener.query('LISTEN reservd_reservations');
      await sql`UPDATE reservations SET target_time = '11:00' WHERE id = ${id}`.execute(database.db);
      expect(await notified).toBe(String(id));
    } finally {
      await listener.end();
    }
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'pending', target_time: '11:00', release_at: null, slot_at: null });
    await validatePendingOnce({ db: database.db, config, now: new Date(T0), logger });
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'scheduled',
      release_at: at('2027-07-21T17:00:00.000Z'),
      slot_at: at('2027-07-23T17:00:00.000Z'),
    });
    // A change of another column (a note in `reason`) keeps it scheduled.
    await sql`UPDATE reservations SET reason = 'for the tournament' WHERE id = ${id}`.execute(database.db);
    expect((await getReservation(database.db, id))?.status).toBe('scheduled');
  });

  it('refuses a change of the contact columns of a person while one of their rows is held, naming it; allows it otherwise', async () => {
    const userId = await person();
    await scheduledRow(userId, { targetTime: '10:00', slotAt: at('2027-07-23T16:00:00.000Z') });
    const heldId = await scheduledRow(userId, { status: 'claimed', leaseOwner: 'daemon-a', leaseExpiresAt: new Date(T0 + 30_000), now: new Date(T0) });
    const err = await refusal(() => sql`UPDATE booking_users SET phone = '+502 5555 0199' WHERE id = ${userId}`.execute(database.db));
    expect(describeConstraintViolation(err)?.message).toBe(
      `booking_users.phone: reservation ${heldId} of this person is being booked (status claimed) with the current details; edit them once it has ended, or cancel it first (UPDATE reservations SET status = 'cancelled' WHERE id = ${heldId})`,
    );
    // Writing the same values is no change.
    await sql`UPDATE booking_users SET phone = '+502 5555 0101', updated_at = now() WHERE id = ${userId}`.execute(database.db);
    await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${heldId}`.execute(database.db);
    await sql`UPDATE booking_users SET phone = '+502 5555 0199' WHERE id = ${userId}`.execute(database.db);
    const row = await database.db.selectFrom('booking_users').select('phone').where('id', '=', String(userId)).executeTakeFirstOrThrow();
    expect(row.phone).toBe('+502 5555 0199');
  });
});

describe('every constraint\'s refusal names its column', () => {
  const insert = (values: Record<string, string>) => {
    const row = { user_id: '1', venue: `'la-villa'`, target_date: `'2027-07-23'`, target_time: `'09:00'`, courts: `'{1}'`, ...values };
    return sql.raw(`INSERT INTO reservations (${Object.keys(row).join(', ')}) VALUES (${Object.values(row).join(', ')})`).execute(database.db);
  };

  it.each<[string, () => Promise<unknown>, string]>([
    ['courts {{1,2}}', () => insert({ courts: `'{{1,2}}'` }), 'courts: must be a one-dimensional list of court numbers (e.g. {2,1})'],
    ['courts {}', () => insert({ courts: `'{}'` }), 'courts: must list at least one court number'],
    ['courts {1,NULL}', () => insert({ courts: `'{1,NULL}'` }), 'courts: must not contain NULL'],
    ['target_time 7:00', () => insert({ target_time: `'7:00'` }), 'target_time: must be a time written HH:MM (e.g. 07:00)'],
    ['status done', () => insert({ status: `'done'` }), 'status: must be one of pending, scheduled, claimed, booking, succeeded, failed, rejected, expired, cancelled, needs_attention'],
    ['source web', () => insert({ source: `'web'` }), 'source: must be queue or immediate'],
    [
      'scheduled without instants',
      () => insert({ status: `'scheduled'` }),
      'release_at/slot_at: must both be set on a scheduled, claimed or booking row (insert the row as pending and the daemon computes them)',
    ],
    [
      'claimed without a lease',
      () => insert({ status: `'claimed'`, release_at: 'now()', slot_at: `now() + interval '1 day'` }),
      'lease_owner/lease_expires_at: must both be set on a claimed or booking row (only a daemon holds a row)',
    ],
    ['user_id of nobody', () => insert({ user_id: '999' }), 'user_id: must be the id of a booking_users row'],
    ['venue NULL', () => insert({ venue: 'NULL' }), 'venue: must not be NULL'],
    ['idempotency_key used twice', async () => {
      await insert({ idempotency_key: `'k-1'` });
      await insert({ idempotency_key: `'k-1'`, target_time: `'10:00'` });
    }, 'idempotency_key: is already used by another reservation'],
    ['booking_attempts.attempt 0', async () => {
      await insert({});
      await sql`INSERT INTO booking_attempts (reservation_id, attempt, court, daemon_id, flow, started_at) VALUES (1, 0, 1, 'd', 'f', now())`.execute(database.db);
    }, 'booking_attempts.attempt: must be 1 or more'],
    ['booking_attempts.outcome won', async () => {
      await insert({});
      await sql`INSERT INTO booking_attempts (reservation_id, attempt, court, daemon_id, flow, started_at, outcome) VALUES (1, 1, 1, 'd', 'f', now(), 'won')`.execute(database.db);
    }, 'booking_attempts.outcome: must be a known attempt outcome (docs/architecture.md "Outcomes")'],
    ['site_blocks ending before they begin', () =>
      sql`INSERT INTO site_blocks (venue, blocked_at, blocked_until, reason) VALUES ('la-villa', now(), now() - interval '1 hour', 'x')`.execute(database.db),
    'site_blocks.blocked_until: must not be before blocked_at'],
  ])('%s', async (_case, work, message) => {
    await person();
    const err = await refusal(work);
    expect(describeConstraintViolation(err)?.message).toBe(message);
  });

  it('has a message for every CHECK of the schema', async () => {
    const { rows } = await sql<{ name: string }>`SELECT conname AS name FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace ORDER BY conname`.execute(database.db);
    expect(rows.map((r) => r.name)).toEqual([
      'booking_attempts_attempt_positive',
      'booking_attempts_outcome_known',
      'daemons_lease_positive',
      'daemons_venues_no_nulls',
      'notification_outbox_state_known',
      'notification_sinks_known',
      'reservations_courts_no_nulls',
      'reservations_courts_nonempty',
      'reservations_courts_one_dimensional',
      'reservations_held_has_lease',
      'reservations_lease_bounded',
      'reservations_scheduled_has_instants',
      'reservations_slot_end_after_start',
      'reservations_source_known',
      'reservations_standing_link_whole',
      'reservations_standing_occurrence_local',
      'reservations_status_known',
      'reservations_target_time_hhmm',
      'site_blocks_until_after_at',
      'standing_reservations_courts_no_nulls',
      'standing_reservations_courts_nonempty',
      'standing_reservations_courts_one_dimensional',
      'standing_reservations_cron_nonempty',
      'standing_reservations_status_known',
    ]);
    for (const { name } of rows) {
      const described = describeConstraintViolation({ code: '23514', constraint: name, message: `violates check constraint "${name}"` });
      expect(described?.message, name).not.toContain('refused by the database');
    }
  });
});

describe('one booking per person at a time', () => {
  const duplicate = (id: number, matchedBy: string, slot: string, venue: string) =>
    `duplicate: reservation ${id} already books this person (${matchedBy}) for ${slot} at ${venue}, overlapping this slot; one booking per person at a time`;
  const pending = (userId: number, venue: string, time: string) => insertReservation(database.db, { userId, venue, targetDate: '2027-07-23', targetTime: time, courts: [1] });
  const validate = () => validatePendingOnce({ db: database.db, config, now: new Date(T0), logger });

  it('across daemons: a slot of a venue only another daemon serves is compared by the end its daemon wrote (slot_end_at)', async () => {
    // Daemon B serves club-b (90-min slots); daemon A serves la-villa only and does not know club-b's length.
    const onlyB = testConfig('http://127.0.0.1:1', { 'club-b': config.venues['club-b']! });
    const onlyA = testConfig('http://127.0.0.1:1', { 'la-villa': LA_VILLA });
    const userId = await person();
    const first = await pending(userId, 'club-b', '07:00');
    await validatePendingOnce({ db: database.db, config: onlyB, now: new Date(T0), logger });
    expect(await getReservation(database.db, first)).toMatchObject({
      status: 'scheduled',
      slot_at: at('2027-07-23T13:00:00.000Z'),
      slot_end_at: at('2027-07-23T14:30:00.000Z'),
    });
    // 08:00 at la-villa starts inside club-b's 07:00–08:30.
    const second = await pending(userId, 'la-villa', '08:00');
    await validatePendingOnce({ db: database.db, config: onlyA, now: new Date(T0), logger });
    expect(await getReservation(database.db, second)).toMatchObject({ status: 'rejected', reason: duplicate(first, 'booking_users.id', '2027-07-23 07:00', 'club-b') });
    // 09:00 does not overlap; an edit of the first's time clears its end with its start.
    const third = await pending(userId, 'la-villa', '09:00');
    await validatePendingOnce({ db: database.db, config: onlyA, now: new Date(T0), logger });
    expect(await getReservation(database.db, third)).toMatchObject({ status: 'scheduled', slot_end_at: at('2027-07-23T16:00:00.000Z') });
    await sql`UPDATE reservations SET target_time = '11:00' WHERE id = ${first}`.execute(database.db);
    expect(await getReservation(database.db, first)).toMatchObject({ status: 'pending', slot_at: null, slot_end_at: null });
  });

  it('rejects at validation a second row of the same booking_users row for the same slot, naming the first', async () => {
    const ana = await person();
    const first = await pending(ana, 'la-villa', '09:00');
    const second = await pending(ana, 'la-villa', '09:00');
    expect(await validate()).toEqual({ scheduled: 1, rejected: 1 });
    expect((await getReservation(database.db, first))?.status).toBe('scheduled');
    expect(await getReservation(database.db, second)).toMatchObject({ status: 'rejected', reason: duplicate(first, 'booking_users.id', '2027-07-23 09:00', 'la-villa') });
  });

  it('rejects an overlapping slot at another venue of the same e-mail (any case) on another booking_users row; lets a slot after it, another person and a finished row be', async () => {
    const ana = await person();
    const anaAgain = await person({ email: 'ANA@Example.test' });
    const ben = await person({ email: 'ben@example.test', firstName: 'Ben' });
    const cancelled = await pending(ana, 'la-villa', '20:00');
    await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${cancelled}`.execute(database.db);
    const clubB = await pending(ana, 'club-b', '19:00'); // 19:00–20:30
    const overlapping = await pending(anaAgain, 'la-villa', '20:00'); // 20:00–21:00
    const after = await pending(anaAgain, 'la-villa', '21:00'); // starts as club-b's ends
    const other = await pending(ben, 'la-villa', '20:00');
    expect(await validate()).toEqual({ scheduled: 3, rejected: 1 });
    const statuses = await database.db.selectFrom('reservations').select(['id', 'status', 'reason']).orderBy('id').execute();
    expect(statuses.map((r) => [Number(r.id), r.status, r.reason])).toEqual([
      [cancelled, 'cancelled', null],
      [clubB, 'scheduled', null],
      [overlapping, 'rejected', duplicate(clubB, 'booking_users.email', '2027-07-23 19:00', 'club-b')],
      [after, 'scheduled', null],
      [other, 'scheduled', null],
    ]);
    // The e-mail stays out of the log.
    expect(JSON.stringify(lines)).not.toMatch(/ana@example\.test/i);
  });

  it('counts an e-mail stored with white space around it (trimmed by validation) as the same person, whichever is validated first', async () => {
    const spaced = await person({ email: ' \tana@example.test \u00a0\n' });
    const plain = await person({ email: 'ANA@example.test' });
    const first = await pending(spaced, 'la-villa', '09:00');
    const second = await pending(plain, 'la-villa', '09:00');
    expect(await validate()).toEqual({ scheduled: 1, rejected: 1 });
    expect(await getReservation(database.db, second)).toMatchObject({ status: 'rejected', reason: duplicate(first, 'booking_users.email', '2027-07-23 09:00', 'la-villa') });
    // The other way round: the plain address first, the spaced one second (at another venue, overlapping).
    const third = await pending(plain, 'la-villa', '12:00');
    const fourth = await pending(spaced, 'club-b', '11:30'); // 11:30–13:00
    expect(await validate()).toEqual({ scheduled: 1, rejected: 1 });
    expect(await getReservation(database.db, fourth)).toMatchObject({ status: 'rejected', reason: duplicate(third, 'booking_users.email', '2027-07-23 12:00', 'la-villa') });
  });

  it('of two rows inserted straight as scheduled for one e-mail, one with a trailing space, rejects the second at its claim', async () => {
    const first = await scheduledRow(await person({ email: 'ana@example.test ' }));
    const second = await scheduledRow(await person({ email: 'ana@example.test' }));
    const held = await sessionsWith(forbiddenExecutor()).holdDue({ horizonMs: 60_000, limit: 10 });
    expect(held.map((s) => s.id)).toEqual([first]);
    expect(await getReservation(database.db, second)).toMatchObject({ status: 'rejected', reason: duplicate(first, 'booking_users.email', '2027-07-23 09:00', 'la-villa') });
  });

  it('a pending row edited while validation has it in hand is not scheduled with the old slot\'s instants, and is validated again as it now is', async () => {
    const userId = await person({ email: 'race@example.test' });
    const id = await pending(userId, 'la-villa', '09:00');
    // Another session holds the person's lock: validation reads the row, then waits in lockPerson.
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('reservd.person'), hashtext('race@example.test'))`);
      const validating = validate();
      const waiting = async (): Promise<number> =>
        Number((await holder.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows[0]!.n);
      while ((await waiting()) === 0) await new Promise((resolve) => setImmediate(resolve));
      await sql`UPDATE reservations SET target_date = '2027-07-24', courts = '{3,2}' WHERE id = ${id}`.execute(database.db);
      await holder.query(`SELECT pg_advisory_unlock(hashtext('reservd.person'), hashtext('race@example.test'))`);
      expect(await validating).toEqual({ scheduled: 0, rejected: 0 });
    } finally {
      await holder.end();
    }
    expect(await getReservation(database.db, id)).toMatchObject({ status: 'pending', target_date: '2027-07-24', courts: [3, 2], release_at: null, slot_at: null });
    expect(await validate()).toEqual({ scheduled: 1, rejected: 0 });
    expect(await getReservation(database.db, id)).toMatchObject({
      status: 'scheduled',
      release_at: at('2027-07-22T15:00:00.000Z'),
      slot_at: at('2027-07-24T15:00:00.000Z'),
    });
  });

  it('two daemons validating two rows of one person at once end with one scheduled and one rejected (20 people)', async () => {
    const other = createKysely(database.url, { poolMax: 10, logger: silentDbLogger });
    try {
      const slotLengthsS = { 'la-villa': 3600, 'club-b': 5400 };
      const pairs: Array<[number, number]> = [];
      for (let n = 0; n < 20; n++) {
        const email = `player${n}@example.test`;
        const a = await pending(await person({ email }), 'la-villa', '09:00');
        const b = await pending(await person({ email: email.toUpperCase() }), 'club-b', '08:30'); // 08:30–10:00
        pairs.push([a, b]);
      }
      const schedule = (db: typeof other, id: number, slotAt: string, userId: number, email: string, venue: 'la-villa' | 'club-b') =>
        scheduleUnlessDuplicate(db, {
          slot: { reservationId: id, userId, email, slotAt: at(slotAt), slotLengthS: slotLengthsS[venue], slotLengthsS },
          releaseAt: new Date(T0),
          now: new Date(T0),
        });
      await Promise.all(
        pairs.flatMap(([a, b], n) => [
          schedule(database.db, a, '2027-07-23T15:00:00.000Z', 2 * n + 1, `player${n}@example.test`, 'la-villa'),
          schedule(other, b, '2027-07-23T14:30:00.000Z', 2 * n + 2, `PLAYER${n}@EXAMPLE.TEST`, 'club-b'),
        ]),
      );
      const rows = await database.db.selectFrom('reservations').select(['id', 'status']).orderBy('id').execute();
      const byId = new Map(rows.map((r) => [Number(r.id), r.status]));
      for (const [a, b] of pairs) expect([byId.get(a), byId.get(b)].sort()).toEqual(['rejected', 'scheduled']);
    } finally {
      await other.destroy();
    }
  });

  it('refuses book-now for a person whose queued row overlaps, naming that row; nothing is written', async () => {
    const ana = await person();
    const queued = await scheduledRow(ana, { releaseAt: at('2027-07-21T15:00:00.000Z') });
    const request = buildImmediateRequest({ user: { ...ANA, email: 'Ana@Example.TEST' }, venue: 'la-villa', targetDate: '2027-07-23', targetTime: '09:00', courts: [2] }, new Set(['la-villa']));
    const sessions = sessionsWith(forbiddenExecutor());
    await expect(sessions.holdImmediate({ request, releaseAt: new Date(T0), slotAt: at('2027-07-23T15:00:00.000Z') })).rejects.toThrow(
      duplicate(queued, 'booking_users.email', '2027-07-23 09:00', 'la-villa'),
    );
    expect((await database.db.selectFrom('reservations').select('id').execute()).map((r) => Number(r.id))).toEqual([queued]);
  });

  it('of two rows inserted straight as scheduled for one e-mail and slot, books the first and rejects the second at its claim', async () => {
    const first = await scheduledRow(await person());
    const second = await scheduledRow(await person({ email: 'ANA@example.test' }));
    const held = await sessionsWith(forbiddenExecutor()).holdDue({ horizonMs: 60_000, limit: 10 });
    expect(held.map((s) => s.id)).toEqual([first]);
    expect(await getReservation(database.db, second)).toMatchObject({ status: 'rejected', reason: duplicate(first, 'booking_users.email', '2027-07-23 09:00', 'la-villa') });
  });

  it('the database refuses a second active row of one booking_users row for one slot, naming the first', async () => {
    const ana = await person();
    await scheduledRow(ana);
    const err = await refusal(() => scheduledRow(ana, { courts: [2] }));
    expect(describeConstraintViolation(err)?.message).toBe(
      'duplicate: reservation 1 already books this person (booking_users.id 1) for the slot starting 2027-07-23T15:00:00Z; one booking per person at a time',
    );
  });
});

describe('migration 0004 on old rows that break its rules', () => {
  it('settles them first (cuts far leases, keeps the first of duplicates, held ones included), then guards', async () => {
    const db = database.db;
    // As before 0004 ran (0007, which guards booked rows, comes after it).
    await m0007.down(db as unknown as Kysely<unknown>);
    await m0004.down(db as unknown as Kysely<unknown>);
    const ana = await person();
    const ins = (values: string) =>
      sql.raw(`INSERT INTO reservations (user_id, venue, target_date, target_time, courts, status, release_at, slot_at, lease_owner, lease_expires_at, updated_at) VALUES ${values}`).execute(db);
    await ins(`(${ana}, 'la-villa', '2027-07-23', '08:00', '{1}', 'claimed', '2027-07-21T14:00Z', '2027-07-23T14:00Z', 'ghost', '2099-01-01Z', '2027-07-21T15:00Z')`);
    await ins(`(${ana}, 'la-villa', '2027-07-23', '09:00', '{1}', 'scheduled', '2027-07-21T15:00Z', '2027-07-23T15:00Z', NULL, NULL, '2027-07-21T15:00Z'),
               (${ana}, 'la-villa', '2027-07-23', '09:00', '{2}', 'scheduled', '2027-07-21T15:00Z', '2027-07-23T15:00Z', NULL, NULL, '2027-07-21T15:00Z')`);
    await ins(`(${ana}, 'la-villa', '2027-07-23', '10:00', '{1}', 'succeeded', '2027-07-21T16:00Z', '2027-07-23T16:00Z', NULL, NULL, '2027-07-21T15:00Z'),
               (${ana}, 'la-villa', '2027-07-23', '10:00', '{2}', 'succeeded', '2027-07-21T16:00Z', '2027-07-23T16:00Z', NULL, NULL, '2027-07-21T15:00Z')`);
    await ins(`(${ana}, 'la-villa', '2027-07-23', '11:00', '{1}', 'scheduled', '2027-07-21T17:00Z', '2027-07-23T17:00Z', NULL, NULL, '2027-07-21T15:00Z'),
               (${ana}, 'la-villa', '2027-07-23', '11:00', '{2}', 'succeeded', '2027-07-21T17:00Z', '2027-07-23T17:00Z', NULL, NULL, '2027-07-21T15:00Z')`);
    // Held duplicates: two `booking` rows and a `claimed` one of one person and slot (with 100-day leases).
    await ins(`(${ana}, 'la-villa', '2027-07-23', '12:00', '{1}', 'booking', '2027-07-21T18:00Z', '2027-07-23T18:00Z', 'ghost', '2027-10-29T15:00Z', '2027-07-21T15:00Z'),
               (${ana}, 'la-villa', '2027-07-23', '12:00', '{2}', 'booking', '2027-07-21T18:00Z', '2027-07-23T18:00Z', 'ghost', '2027-10-29T15:00Z', '2027-07-21T15:00Z'),
               (${ana}, 'la-villa', '2027-07-23', '12:00', '{3}', 'claimed', '2027-07-21T18:00Z', '2027-07-23T18:00Z', 'ghost', '2027-10-29T15:00Z', '2027-07-21T15:00Z')`);
    await m0004.up(db as unknown as Kysely<unknown>);
    await m0007.up(db as unknown as Kysely<unknown>);
    const rows = await db.selectFrom('reservations').select(['id', 'status', 'courts', 'reason', 'lease_expires_at']).orderBy('id').execute();
    expect(rows.map((r) => ({ ...r, id: Number(r.id) }))).toEqual([
      { id: 1, status: 'claimed', courts: [1], reason: null, lease_expires_at: at('2027-07-21T16:00:00.000Z') },
      { id: 2, status: 'scheduled', courts: [1], reason: null, lease_expires_at: null },
      { id: 3, status: 'rejected', courts: [2], reason: 'duplicate: reservation 2 already books this person (booking_users.id) for this slot; one booking per person at a time', lease_expires_at: null },
      { id: 4, status: 'succeeded', courts: [1], reason: null, lease_expires_at: null },
      { id: 5, status: 'needs_attention', courts: [2], reason: 'duplicate: reservation 4 already books this person (booking_users.id) for this slot; both are booked on the site: cancel one there', lease_expires_at: null },
      { id: 6, status: 'rejected', courts: [1], reason: 'duplicate: reservation 7 already books this person (booking_users.id) for this slot; one booking per person at a time', lease_expires_at: null },
      { id: 7, status: 'succeeded', courts: [2], reason: null, lease_expires_at: null },
      { id: 8, status: 'booking', courts: [1], reason: null, lease_expires_at: at('2027-07-21T16:00:00.000Z') },
      { id: 9, status: 'needs_attention', courts: [2], reason: 'duplicate: reservation 8 already books this person (booking_users.id) for this slot; it was being booked too: check the site for its booking', lease_expires_at: null },
      { id: 10, status: 'rejected', courts: [3], reason: 'duplicate: reservation 8 already books this person (booking_users.id) for this slot; one booking per person at a time', lease_expires_at: null },
    ]);
    // The guards are back: the ghost's row cannot be held for ever again.
    const err = await refusal(() => sql`UPDATE reservations SET lease_expires_at = '2099-01-01Z' WHERE id = 1`.execute(db));
    expect(describeConstraintViolation(err)?.constraint).toBe('reservations_lease_bounded');
  });
});
