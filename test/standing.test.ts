import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { createKysely } from '../src/db/create-database.js';
import { insertStanding, insertUser, removeStanding, setStandingStatus } from '../src/reservations/index.js';
import { validatePendingOnce } from '../src/scheduling/validate-pending.js';
import { createManualClock } from '../src/clock.js';
import { createStandingMaterialiser, materialiseStandingOnce } from '../src/standing/materialiser.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { waitFor } from './helpers/wait.js';

const site = { baseUrl: 'http://127.0.0.1:9', ownerKey: 'a3f09c1e' };
const courts = { '1': { appointmentTypeId: 1, calendarId: 11 }, '2': { appointmentTypeId: 2, calendarId: 12 }, '3': { appointmentTypeId: 3, calendarId: 13 } };
const config = parseConfig({
  venues: {
    madrid: { name: 'Madrid', timeZone: 'Europe/Madrid', releaseRule: { hoursBefore: 48 }, site, courts, slotLengthS: 1800, firstSlotTime: '00:00', lastSlotTime: '23:30' },
    ny: { name: 'New York', timeZone: 'America/New_York', releaseRule: { hoursBefore: 48 }, site, courts },
  },
});
const logger = createSilentLogger();
const DAY_MS = 86_400_000;
const CREATED = new Date('2027-01-01T00:00:00Z');

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});
beforeEach(async () => {
  await t.truncate();
});

async function addUser(n = 1): Promise<number> {
  return insertUser(t.db, { firstName: 'Ana', lastName: `López ${n}`, email: `ana${n}@example.com`, phone: '+50255550000' });
}

async function rows(): Promise<Array<{ id: string; standing_id: string | null; standing_occurrence: string | null; target_date: string; target_time: string; courts: number[]; status: string }>> {
  return t.db.selectFrom('reservations').select(['id', 'standing_id', 'standing_occurrence', 'target_date', 'target_time', 'courts', 'status']).orderBy('standing_id').orderBy('standing_occurrence').execute();
}

describe('materialiseStandingOnce', () => {
  it('queues each due occurrence as a pending row, which the usual validation schedules', async () => {
    const userId = await addUser();
    const standingId = await insertStanding(t.db, { userId, venue: 'ny', courts: [3, 1], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    const now = new Date('2027-03-01T00:00:00Z');
    const created = await materialiseStandingOnce({ db: t.db, config, now, logger });
    expect(created).toEqual([{ standingId, reservationId: 1, occurrence: '2027-03-09T19:00' }]);
    expect(await rows()).toEqual([{ id: '1', standing_id: String(standingId), standing_occurrence: '2027-03-09T19:00', target_date: '2027-03-09', target_time: '19:00', courts: [3, 1], status: 'pending' }]);

    await validatePendingOnce({ db: t.db, config, now, logger, noticed: new Set() });
    const row = await t.db.selectFrom('reservations').select(['status', 'release_at', 'slot_at', 'user_id']).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'scheduled', release_at: new Date('2027-03-08T00:00:00Z'), slot_at: new Date('2027-03-10T00:00:00Z'), user_id: String(userId) });
  });

  it('a restart (a second pass, a fresh materialiser) creates nothing twice; a later pass adds only the new occurrence', async () => {
    const userId = await addUser();
    await insertStanding(t.db, { userId, venue: 'ny', courts: [2], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    const now = new Date('2027-03-01T00:00:00Z');
    expect(await materialiseStandingOnce({ db: t.db, config, now, logger })).toHaveLength(1);
    expect(await materialiseStandingOnce({ db: t.db, config, now, logger })).toEqual([]);
    expect(await materialiseStandingOnce({ db: t.db, config, now: new Date(now.getTime() + 7 * DAY_MS), logger })).toEqual([{ standingId: 1, reservationId: 3, occurrence: '2027-03-16T19:00' }]);
    expect((await rows()).map((r) => r.standing_occurrence)).toEqual(['2027-03-09T19:00', '2027-03-16T19:00']);
  });

  it('two materialisers on separate pools racing create every occurrence exactly once', async () => {
    const other = createKysely(t.url, { poolMax: 10, logger: silentDbLogger });
    try {
      for (let i = 1; i <= 6; i++) {
        const userId = await addUser(i);
        await insertStanding(t.db, { userId, venue: 'madrid', courts: [1, 2], cron: '0 18,19 * * *', untilDate: null, now: CREATED });
      }
      const now = new Date('2027-05-03T00:00:00Z');
      const [a, b] = await Promise.all([materialiseStandingOnce({ db: t.db, config, now, logger }), materialiseStandingOnce({ db: other, config, now, logger })]);
      // Releases in (now, now + 7 d]: slots 05-05 18:00 (16:00Z, released 05-03 16:00Z) .. 05-11 19:00 (released 05-09 17:00Z): 7 days × 2 times.
      expect(a.length + b.length).toBe(6 * 14);
      const keys = [...a, ...b].map((r) => `${r.standingId}/${r.occurrence}`);
      expect(new Set(keys).size).toBe(6 * 14);
      const counts = await sql<{ n: string; distinct_keys: string }>`SELECT count(*) AS n, count(DISTINCT (standing_id, standing_occurrence)) AS distinct_keys FROM reservations`.execute(t.db);
      expect(counts.rows[0]).toEqual({ n: '84', distinct_keys: '84' });
    } finally {
      await other.destroy();
    }
  });

  it('a DST week (Europe/Madrid spring forward 2027-03-28): a daily 02:30 gets a row for every night but the one without 02:30', async () => {
    const userId = await addUser();
    await insertStanding(t.db, { userId, venue: 'madrid', courts: [1], cron: '30 2 * * *', untilDate: null, now: CREATED });
    // Releases in (03-22T00:00Z, 03-29T00:00Z] → slots in (03-24T00:00Z, 03-31T00:00Z].
    await materialiseStandingOnce({ db: t.db, config, now: new Date('2027-03-22T00:00:00Z'), logger });
    // A pass a day later (across the change) adds the next night only.
    await materialiseStandingOnce({ db: t.db, config, now: new Date('2027-03-23T00:00:00Z'), logger });
    expect((await rows()).map((r) => r.standing_occurrence)).toEqual(['2027-03-24T02:30', '2027-03-25T02:30', '2027-03-26T02:30', '2027-03-27T02:30', '2027-03-29T02:30', '2027-03-30T02:30', '2027-03-31T02:30']);
    await validatePendingOnce({ db: t.db, config, now: new Date('2027-03-23T00:00:00Z'), logger, noticed: new Set() });
    const slots = await t.db.selectFrom('reservations').select(['target_date', 'slot_at', 'status']).orderBy('target_date').execute();
    expect(slots.map((s) => [s.target_date, s.slot_at?.toISOString(), s.status])).toEqual([
      ['2027-03-24', '2027-03-24T01:30:00.000Z', 'scheduled'],
      ['2027-03-25', '2027-03-25T01:30:00.000Z', 'scheduled'],
      ['2027-03-26', '2027-03-26T01:30:00.000Z', 'scheduled'],
      ['2027-03-27', '2027-03-27T01:30:00.000Z', 'scheduled'],
      ['2027-03-29', '2027-03-29T00:30:00.000Z', 'scheduled'],
      ['2027-03-30', '2027-03-30T00:30:00.000Z', 'scheduled'],
      ['2027-03-31', '2027-03-31T00:30:00.000Z', 'scheduled'],
    ]);
  });

  it('a DST week (fall back 2027-10-31): the 02:30 that happens twice gets one row, at the earlier instant', async () => {
    const userId = await addUser();
    await insertStanding(t.db, { userId, venue: 'madrid', courts: [1], cron: '30 2 * * *', untilDate: null, now: CREATED });
    // Releases in (10-28T00:00Z, 11-04T00:00Z] → slots in (10-30T00:00Z, 11-06T00:00Z]; the second pass adds 11-06.
    const now = new Date('2027-10-28T00:00:00Z');
    await materialiseStandingOnce({ db: t.db, config, now, logger });
    await materialiseStandingOnce({ db: t.db, config, now: new Date('2027-10-29T01:00:00Z'), logger });
    expect((await rows()).map((r) => r.standing_occurrence)).toEqual(['2027-10-30T02:30', '2027-10-31T02:30', '2027-11-01T02:30', '2027-11-02T02:30', '2027-11-03T02:30', '2027-11-04T02:30', '2027-11-05T02:30', '2027-11-06T02:30']);
    await validatePendingOnce({ db: t.db, config, now, logger, noticed: new Set() });
    const sunday = await t.db.selectFrom('reservations').select(['slot_at']).where('target_date', '=', '2027-10-31').executeTakeFirstOrThrow();
    expect(sunday.slot_at).toEqual(new Date('2027-10-31T00:30:00Z'));
  });

  it('pause stops new rows; resume starts again from the next occurrence whose release has not passed', async () => {
    const userId = await addUser();
    const id = await insertStanding(t.db, { userId, venue: 'ny', courts: [1], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    const now = new Date('2027-03-01T00:00:00Z');
    await materialiseStandingOnce({ db: t.db, config, now, logger });
    expect(await setStandingStatus(t.db, { id, from: ['active'], to: 'paused', now })).toBe(true);
    expect(await materialiseStandingOnce({ db: t.db, config, now: new Date(now.getTime() + 7 * DAY_MS), logger })).toEqual([]);
    expect(await materialiseStandingOnce({ db: t.db, config, now: new Date(now.getTime() + 14 * DAY_MS), logger })).toEqual([]);
    expect(await setStandingStatus(t.db, { id, from: ['paused'], to: 'active', now })).toBe(true);
    // 03-16 (released 03-14T23:00Z) passed while paused; 03-23 (released 03-21T23:00Z) is within the week ahead of 03-15.
    expect((await materialiseStandingOnce({ db: t.db, config, now: new Date(now.getTime() + 14 * DAY_MS), logger })).map((r) => r.occurrence)).toEqual(['2027-03-23T19:00']);
    expect((await rows()).map((r) => r.standing_occurrence)).toEqual(['2027-03-09T19:00', '2027-03-23T19:00']);
  });

  it('an occurrence the person cancelled is not created again', async () => {
    const userId = await addUser();
    await insertStanding(t.db, { userId, venue: 'ny', courts: [1], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    const now = new Date('2027-03-01T00:00:00Z');
    await materialiseStandingOnce({ db: t.db, config, now, logger });
    await sql`UPDATE reservations SET status = 'cancelled'`.execute(t.db);
    expect(await materialiseStandingOnce({ db: t.db, config, now, logger })).toEqual([]);
    expect((await rows()).map((r) => [r.standing_occurrence, r.status])).toEqual([['2027-03-09T19:00', 'cancelled']]);
  });

  it('the link of a created row cannot be changed (a cleared link would let the occurrence be created twice)', async () => {
    const userId = await addUser();
    await insertStanding(t.db, { userId, venue: 'ny', courts: [1], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    await materialiseStandingOnce({ db: t.db, config, now: new Date('2027-03-01T00:00:00Z'), logger });
    await expect(sql`UPDATE reservations SET standing_id = NULL, standing_occurrence = NULL`.execute(t.db)).rejects.toThrow(
      'standing_id: reservation 1 was created for standing reservation 1 (occurrence 2027-03-09T19:00); that link cannot change',
    );
  });

  it('remove keeps the rows already created by default; with cancelWaiting it cancels those still pending or scheduled', async () => {
    const userId = await addUser();
    const kept = await insertStanding(t.db, { userId, venue: 'ny', courts: [1], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    const cancelled = await insertStanding(t.db, { userId, venue: 'ny', courts: [2], cron: '0 8 * * 2', untilDate: null, now: CREATED });
    const now = new Date('2027-03-01T00:00:00Z');
    await materialiseStandingOnce({ db: t.db, config, now, logger });
    expect(await removeStanding(t.db, { id: kept, now, cancelWaiting: false })).toEqual({ removed: true, cancelled: [] });
    expect(await removeStanding(t.db, { id: cancelled, now, cancelWaiting: true })).toEqual({ removed: true, cancelled: [2] });
    expect(await removeStanding(t.db, { id: cancelled, now, cancelWaiting: true })).toEqual({ removed: false, cancelled: [] });
    expect((await rows()).map((r) => [r.standing_id, r.status])).toEqual([['1', 'pending'], ['2', 'cancelled']]);
    expect(await materialiseStandingOnce({ db: t.db, config, now: new Date(now.getTime() + 7 * DAY_MS), logger })).toEqual([]);
  });

  it('until_date ends it, a venue of another daemon is left alone, and an invalid row made by hand is skipped', async () => {
    const userId = await addUser();
    await insertStanding(t.db, { userId, venue: 'ny', courts: [1], cron: '0 19 * * 2', untilDate: '2027-03-08', now: CREATED });
    await insertStanding(t.db, { userId, venue: 'paris', courts: [1], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    await insertStanding(t.db, { userId, venue: 'ny', courts: [9], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    expect(await materialiseStandingOnce({ db: t.db, config, now: new Date('2027-03-01T00:00:00Z'), logger })).toEqual([]);
    expect(await rows()).toEqual([]);
  });

  it('the loop passes at start and every standing.tickIntervalMs on the injected clock; stop ends it', async () => {
    const userId = await addUser();
    await insertStanding(t.db, { userId, venue: 'ny', courts: [1], cron: '0 19 * * 2', untilDate: null, now: CREATED });
    const clock = createManualClock(Date.parse('2027-03-01T00:00:00Z'));
    const loop = createStandingMaterialiser({ db: t.db, config, clock, logger });
    loop.start();
    loop.start();
    try {
      await waitFor('the first pass', async () => (await rows()).length === 1);
      await waitFor('the loop to sleep', () => clock.pendingSleeps() === 1);
      // A week later (one tick of the default 60 s after the clock jumps): the next Tuesday is queued.
      clock.advance(7 * DAY_MS);
      await waitFor('the second pass', async () => (await rows()).length === 2);
      expect((await rows()).map((r) => r.standing_occurrence)).toEqual(['2027-03-09T19:00', '2027-03-16T19:00']);
    } finally {
      await loop.stop();
      await loop.stop();
    }
    expect(clock.pendingSleeps()).toBe(0);
  });
});
