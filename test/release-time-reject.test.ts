import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { getReservation, insertReservation, insertUser } from '../src/reservations/index.js';
import { validatePendingOnce } from '../src/scheduling/validate-pending.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { LA_VILLA } from './helpers/sandbox.js';

/**
 * Validation of `pending` rows under cron release rules, against the real Postgres: a slot whose
 * release instant is not before its start is rejected with a reason naming the venue's rule; others are
 * scheduled with the cron release instant.
 */

const NOW = new Date('2027-07-01T00:00:00.000Z');
const venue = (releaseRule: unknown) => ({ ...LA_VILLA, timeZone: 'America/New_York', releaseRule, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } });
const config = parseConfig({
  venues: {
    'late-cron': venue({ cron: '0 8 * * *', horizonDays: 0 }),
    'same-cron': venue({ cron: '0 7 * * *', horizonDays: 0 }),
    'early-cron': venue({ cron: '0 6 * * *', horizonDays: 0 }),
    'day-ahead': venue({ cron: '0 7 * * *', horizonDays: 1 }),
  },
});

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
  userId = await insertUser(database.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+1 555 0100' });
});

async function validate(venueId: string, targetTime = '07:00'): Promise<Awaited<ReturnType<typeof getReservation>>> {
  const id = await insertReservation(database.db, { userId, venue: venueId, targetDate: '2027-07-15', targetTime, courts: [1] });
  await validatePendingOnce({ db: database.db, config, now: NOW, logger: createSilentLogger() });
  return getReservation(database.db, id);
}

describe('validatePendingOnce with cron release rules', () => {
  it('rejects a slot released after its start (horizonDays 0, cron after the slot time), naming the rule', async () => {
    const row = await validate('late-cron');
    expect(row).toMatchObject({ status: 'rejected', release_at: null });
    expect(row?.reason).toBe(
      'target_date/target_time: venue "late-cron"\'s release rule { "cron": "0 8 * * *", "horizonDays": 0 } releases the slot ' +
        '2027-07-15 07:00 (America/New_York) at 2027-07-15T12:00:00.000Z, which is not before its start at 2027-07-15T11:00:00.000Z',
    );
  });

  it('rejects a slot released exactly at its start', async () => {
    const row = await validate('same-cron');
    expect(row?.status).toBe('rejected');
    expect(row?.reason).toContain('{ "cron": "0 7 * * *", "horizonDays": 0 }');
    expect(row?.reason).toContain('at 2027-07-15T11:00:00.000Z, which is not before its start at 2027-07-15T11:00:00.000Z');
  });

  it('schedules a slot released before its start, on the same day or a day ahead', async () => {
    expect(await validate('early-cron')).toMatchObject({ status: 'scheduled', release_at: new Date('2027-07-15T10:00:00.000Z'), slot_at: new Date('2027-07-15T11:00:00.000Z') });
    expect(await validate('day-ahead', '08:00')).toMatchObject({ status: 'scheduled', release_at: new Date('2027-07-14T11:00:00.000Z') });
  });

  it('a later slot of a same-day rule is fine: only the release-vs-start order matters', async () => {
    expect(await validate('late-cron', '09:00')).toMatchObject({ status: 'scheduled', release_at: new Date('2027-07-15T12:00:00.000Z') });
  });
});
