import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BookingExecutor } from '../src/booking/session-port.js';
import { createManualClock } from '../src/clock.js';
import { ContractError } from '../src/contracts/index.js';
import { getReservation, insertReservation, insertUser } from '../src/reservations/index.js';
import { bookNow, validateImmediateBooking, type ImmediateBookingInput } from '../src/scheduling/book-now.js';
import { assertBookableAtVenue, validatePendingOnce } from '../src/scheduling/validate-pending.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { LA_VILLA, testConfig } from './helpers/sandbox.js';

/**
 * One validation for the queue and `book-now`: the same input is refused with the same field and the same
 * text by `validatePendingOnce` (a `pending` row → `rejected`, against the real Postgres) and by
 * `validateImmediateBooking` / `bookNow`, which refuses before it creates a row or touches the executor.
 */

const config = testConfig('http://127.0.0.1:1', {
  'la-villa': LA_VILLA,
  ny: { ...LA_VILLA, timeZone: 'America/New_York' },
  'late-cron': { ...LA_VILLA, timeZone: 'America/New_York', releaseRule: { cron: '0 8 * * *', horizonDays: 0 } },
});
const USER = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+1 555 0100' };
/** la-villa (America/Guatemala, −06:00): 2027-07-15 07:00 starts at 13:00Z. */
const SLOT_AT = new Date('2027-07-15T13:00:00.000Z');
const MINUTE_MS = 60_000;

let database: TestDatabase;
let userId: number;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  userId = await insertUser(database.db, USER);
});

interface Slot {
  venue: string;
  targetDate: string;
  targetTime: string;
  courts: number[];
}
const slot = (over: Partial<Slot> = {}): Slot => ({ venue: 'la-villa', targetDate: '2027-07-15', targetTime: '07:00', courts: [2, 1], ...over });

/** The queue's verdict on `s` at `now`: the row's status and reason after one validation pass. */
async function queueVerdict(s: Slot, now: Date): Promise<{ status: string; reason: string | null }> {
  const id = await insertReservation(database.db, { userId, ...s });
  await validatePendingOnce({ db: database.db, config, now, logger: createSilentLogger() });
  const row = await getReservation(database.db, id);
  return { status: row!.status, reason: row!.reason };
}

/** `book-now`'s verdict on `s` at `now`: the ContractError's field and message, or `ok`. */
function bookNowVerdict(s: Slot, now: Date): { field: string; message: string } | 'ok' {
  try {
    validateImmediateBooking(config, { user: USER, ...s }, now);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return { field: (err as ContractError).field, message: (err as ContractError).message };
  }
}

describe('the queue and book-now refuse a slot alike, with the same text', () => {
  const PAST = 'target_date/target_time: the slot 2027-07-15 07:00 (America/Guatemala) started at 2027-07-15T13:00:00.000Z, which is in the past';

  it('a slot that started one minute ago', async () => {
    const now = new Date(SLOT_AT.getTime() + MINUTE_MS);
    expect(await queueVerdict(slot(), now)).toEqual({ status: 'rejected', reason: PAST });
    expect(bookNowVerdict(slot(), now)).toEqual({ field: 'target_date/target_time', message: PAST });
  });

  it('a slot that starts at this very instant', async () => {
    expect(await queueVerdict(slot(), SLOT_AT)).toEqual({ status: 'rejected', reason: PAST });
    expect(bookNowVerdict(slot(), SLOT_AT)).toEqual({ field: 'target_date/target_time', message: PAST });
  });

  it('a slot one minute ahead is bookable by both, with the same instants', async () => {
    const now = new Date(SLOT_AT.getTime() - MINUTE_MS);
    expect(await queueVerdict(slot(), now)).toEqual({ status: 'scheduled', reason: null });
    expect(validateImmediateBooking(config, { user: USER, ...slot() }, now)).toMatchObject({
      slotAt: new Date('2027-07-15T13:00:00.000Z'),
      releaseAt: new Date('2027-07-13T13:00:00.000Z'),
    });
  });

  it('a release rule that opens the slot only after its start', async () => {
    const s = slot({ venue: 'late-cron' });
    const now = new Date('2027-07-01T00:00:00.000Z');
    const message =
      'target_date/target_time: venue "late-cron"\'s release rule { "cron": "0 8 * * *", "horizonDays": 0 } releases the slot ' +
      '2027-07-15 07:00 (America/New_York) at 2027-07-15T12:00:00.000Z, which is not before its start at 2027-07-15T11:00:00.000Z';
    expect(await queueVerdict(s, now)).toEqual({ status: 'rejected', reason: message });
    expect(bookNowVerdict(s, now)).toEqual({ field: 'target_date/target_time', message });
  });

  it.each([
    ['a court the venue does not have', slot({ courts: [2, 7] }), 'courts', 'courts: court 7 is not a court of venue "la-villa" (its courts: 1, 2, 3)'],
    ['a time off the slot grid', slot({ targetTime: '07:30' }), 'target_time', 'target_time: "07:30" is not a slot start at venue "la-villa" on 2027-07-15 (slots start every 60 min from 07:00 to 21:00)'],
    ['a time after the last slot', slot({ targetTime: '22:00' }), 'target_time', 'target_time: "22:00" is not a slot start at venue "la-villa" on 2027-07-15 (slots start every 60 min from 07:00 to 21:00)'],
    ['a start in a DST gap', slot({ venue: 'ny', targetDate: '2027-03-14', targetTime: '02:00' }), 'target_time', 'target_time: 2027-03-14 02:00 does not exist in America/New_York (the clocks skip it: daylight-saving gap)'],
  ])('%s', async (_name, s, field, message) => {
    const now = new Date('2027-01-01T00:00:00.000Z');
    expect(await queueVerdict(s, now)).toEqual({ status: 'rejected', reason: message });
    expect(bookNowVerdict(s, now)).toEqual({ field, message });
  });

  it('an unknown venue: the same field and words; the queue adds that no running daemon serves it', async () => {
    const s = slot({ venue: 'nowhere' });
    const now = new Date('2027-01-01T00:00:00.000Z');
    expect(await queueVerdict(s, now)).toEqual({ status: 'rejected', reason: 'venue: unknown venue "nowhere": no running daemon serves it (this daemon serves: la-villa, ny, late-cron)' });
    expect(bookNowVerdict(s, now)).toEqual({ field: 'venue', message: 'venue: unknown venue "nowhere"' });
  });

  it('assertBookableAtVenue is the one function: a request, its venue and now', () => {
    const { request } = validateImmediateBooking(config, { user: USER, ...slot() }, new Date('2027-01-01T00:00:00.000Z'));
    expect(() => assertBookableAtVenue(request, config.venues['la-villa']!, new Date(SLOT_AT.getTime() + MINUTE_MS))).toThrow(PAST);
    expect(assertBookableAtVenue(request, config.venues['la-villa']!, new Date(SLOT_AT.getTime() - 1))).toEqual({
      slotAt: new Date('2027-07-15T13:00:00.000Z'),
      releaseAt: new Date('2027-07-13T13:00:00.000Z'),
    });
  });
});

describe('bookNow refuses invalid input before it records a row or books', () => {
  const executor: BookingExecutor & { calls: number } = {
    calls: 0,
    execute() {
      this.calls += 1;
      throw new Error('the executor must not be reached');
    },
  };

  async function refused(input: ImmediateBookingInput, nowMs: number): Promise<ContractError> {
    const attempt = bookNow({
      db: database.db,
      config,
      clock: createManualClock(nowMs),
      logger: createSilentLogger(),
      executor,
      owner: 'test-owner',
      input,
      signal: new AbortController().signal,
    });
    const err = await attempt.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ContractError);
    return err as ContractError;
  }

  it('a slot that started a minute ago: the queue\'s message, no row, no execution', async () => {
    const err = await refused({ user: USER, ...slot() }, SLOT_AT.getTime() + MINUTE_MS);
    expect(err.message).toBe('target_date/target_time: the slot 2027-07-15 07:00 (America/Guatemala) started at 2027-07-15T13:00:00.000Z, which is in the past');
    expect(await database.db.selectFrom('reservations').select('id').execute()).toEqual([]);
    expect(executor.calls).toBe(0);
  });

  it('errors name the column, not the input path', async () => {
    const now = new Date('2027-01-01T00:00:00.000Z').getTime();
    const email = await refused({ user: { ...USER, email: 'ana@' }, ...slot() }, now);
    expect([email.field, email.message]).toEqual(['booking_users.email', 'booking_users.email: "ana@" is not a valid email address']);
    const time = await refused({ user: USER, ...slot({ targetTime: '7:00' }) }, now);
    expect([time.field, time.message]).toEqual(['target_time', 'target_time: "7:00" is not a 24-hour HH:MM time']);
    const name = await refused({ user: { ...USER, firstName: 'Ana\u202e' }, ...slot() }, now);
    expect(name.message).toBe('booking_users.first_name: contains a bidirectional-control character U+202E (RIGHT-TO-LEFT OVERRIDE) at position 4; names may not contain control or bidirectional-control characters');
    expect(await database.db.selectFrom('reservations').select('id').execute()).toEqual([]);
    expect(executor.calls).toBe(0);
  });
});

describe('names from the database: the queue accepts legitimate text and rejects control characters', () => {
  it('a name with an ESC sequence is rejected; a ZWJ emoji and markup are scheduled', async () => {
    const now = new Date('2027-01-01T00:00:00.000Z');
    const bad = await insertUser(database.db, { ...USER, email: 'esc@example.test', firstName: 'Ana\u001b[2J' });
    const badId = await insertReservation(database.db, { userId: bad, ...slot() });
    const good = await insertUser(database.db, { ...USER, email: 'fam@example.test', firstName: '👩‍👩‍👧', lastName: "<b>O'Brien</b>" });
    const goodId = await insertReservation(database.db, { userId: good, ...slot({ targetTime: '08:00' }) });
    expect(await validatePendingOnce({ db: database.db, config, now, logger: createSilentLogger() })).toEqual({ scheduled: 1, rejected: 1 });
    expect(await getReservation(database.db, badId)).toMatchObject({
      status: 'rejected',
      reason: 'booking_users.first_name: contains a control character U+001B (ESC) at position 4; names may not contain control or bidirectional-control characters',
    });
    expect(await getReservation(database.db, goodId)).toMatchObject({ status: 'scheduled', reason: null });
  });
});
