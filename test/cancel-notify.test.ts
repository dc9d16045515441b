import type { APIRequestContext, Page } from 'playwright-core';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrowserPool } from '../src/booking/flow.js';
import { createExecutor } from '../src/booking/executor.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import { startListener, type Listener } from '../src/db/listen.js';
import { getReservation, insertReservation, insertUser } from '../src/reservations/index.js';
import { createScheduler, type Scheduler } from '../src/scheduling/daemon.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { LA_VILLA } from './helpers/sandbox.js';
import { scriptedFlow } from './helpers/scripted-flow.js';
import { waitFor } from './helpers/wait.js';

/**
 * A user's cancel (`UPDATE reservations SET status = 'cancelled'`) reaches the REAL scheduler through the
 * REAL LISTEN/NOTIFY (`startListener`) and the real executor (scripted flow, fake pages; no browser). The
 * manual clock never moves after the cancel, so no heartbeat can be what noticed it.
 */

// 2027-03-10 09:00 in Guatemala (−06:00) = 15:00Z; released 48 h before.
const RELEASE_MS = Date.parse('2027-03-08T15:00:00.000Z');
const config = parseConfig({ daemon: { prepareLeadMs: 300_000, leaseMs: 30_000 }, venues: { club: { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } } } });

let database: TestDatabase;
let userId: number;
let scheduler: Scheduler | null = null;
let listener: Listener | null = null;

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
  await scheduler?.stop(0);
  await listener?.close();
  scheduler = null;
  listener = null;
});

/** A pool of fake pages that counts acquires and releases. */
function countingPool(): BrowserPool & { acquired: () => number; released: () => number } {
  let acquired = 0;
  let released = 0;
  return {
    acquire: async () => {
      acquired++;
      let closed = false;
      return { request: {} as APIRequestContext, page: async () => ({}) as Page, isClosed: () => closed, browserId: 'fake-1', release: async () => void ((closed = true), released++) };
    },
    close: async () => {},
    acquired: () => acquired,
    released: () => released,
  };
}

interface LogLine {
  level: string;
  msg: string;
  reservation_id?: number;
}

async function start(startMs: number, answer: Parameters<typeof scriptedFlow>[1] = () => ({ outcome: 'booked' })) {
  const clock: ManualClock = createManualClock(startMs);
  const lines: LogLine[] = [];
  const logger = createLogger({ destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  const pool = countingPool();
  const { flow, submits } = scriptedFlow(clock, answer);
  const executor = createExecutor({ clock, logger, pool, flow, executorId: 'cancel-test', attemptTimeoutMs: 5_000, notOpenRetryBudgetMs: 0, notOpenRetryIntervalMs: 250 });
  let notify: (payload?: string) => void = () => {};
  scheduler = createScheduler({ db: database.db, config, clock, logger, executor, daemonId: 'cancel-test', subscribe: (cb) => (notify = cb) });
  listener = await startListener({ url: database.url, channel: 'reservd_reservations', onNotify: (p) => notify(p), logger: silentDbLogger });
  scheduler.start();
  return { clock, lines, pool, submits };
}

const insert = (): Promise<number> => insertReservation(database.db, { userId, venue: 'club', targetDate: '2027-03-10', targetTime: '09:00', courts: [2, 1] });
const cancel = (id: number) => sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${String(id)}`.execute(database.db);
const cancelledLines = (lines: LogLine[]) => lines.filter((l) => l.msg.includes('cancelled by the user')).map((l) => ({ level: l.level, reservation_id: l.reservation_id }));
const row = async (id: number) => {
  const r = await getReservation(database.db, id);
  return { status: r?.status, lease_owner: r?.lease_owner, lease_expires_at: r?.lease_expires_at, finished: r?.finished_at instanceof Date };
};

describe('a user cancel noticed at its NOTIFY', () => {
  for (const [when, beforeReleaseMs] of [
    ['claimed, 2 min before the release', 120_000],
    ['claimed, 1 ms before the release (right before the fire)', 1],
  ] as const) {
    it(`${when}: the prepared pages are released at once, nothing is submitted, the row ends clean`, async () => {
      const id = await insert();
      const h = await start(RELEASE_MS - beforeReleaseMs);
      await waitFor('the claim and the prepared pages', async () => (await row(id)).status === 'claimed' && h.pool.acquired() === 2);
      expect(h.pool.released()).toBe(0);
      await cancel(id);
      await waitFor('the pages released', () => h.pool.released() === 2 || undefined, { timeoutMs: 5_000, everyMs: 5 });
      await waitFor('the session to end', () => scheduler!.inFlight() === 0 || undefined, { timeoutMs: 5_000, everyMs: 5 });
      expect(h.clock.now()).toBe(RELEASE_MS - beforeReleaseMs);
      expect(h.submits).toEqual([]);
      expect(await row(id)).toEqual({ status: 'cancelled', lease_owner: null, lease_expires_at: null, finished: true });
      expect(cancelledLines(h.lines)).toEqual([{ level: 'info', reservation_id: id }]);
      // No "lease lost", no "back in the queue"/"not recorded" warning: nothing but the info line above.
      expect(h.lines.filter((l) => l.level !== 'info').map((l) => l.msg)).toEqual([]);
      // The first court's attempt is closed unsubmitted (as for any stop before the fire); no second court.
      const attempts = await database.db.selectFrom('booking_attempts').select(['court', 'outcome']).where('reservation_id', '=', String(id)).execute();
      expect(attempts).toEqual([{ court: 2, outcome: 'interrupted' }]);
    });
  }

  it('scheduled (not yet claimed): logged once, finished_at set, no claim and no page later', async () => {
    const id = await insert();
    const h = await start(RELEASE_MS - 3_600_000);
    await waitFor('the row scheduled', async () => (await row(id)).status === 'scheduled');
    await cancel(id);
    await waitFor('the cancel logged', () => cancelledLines(h.lines).length === 1 || undefined, { timeoutMs: 5_000, everyMs: 5 });
    expect(await row(id)).toEqual({ status: 'cancelled', lease_owner: null, lease_expires_at: null, finished: true });
    // A second NOTIFY of the same row (e.g. a touch of its status) logs nothing more.
    await sql`SELECT pg_notify('reservd_reservations', ${String(id)})`.execute(database.db);
    await scheduler!.tickOnce();
    h.clock.set(RELEASE_MS + 1_000);
    await scheduler!.tickOnce();
    expect(h.pool.acquired()).toBe(0);
    expect(cancelledLines(h.lines)).toEqual([{ level: 'info', reservation_id: id }]);
  });

  it('booking (the submit is on its way): the cancel is left to the submit\'s rules, never "cancelled by the user"', async () => {
    const id = await insert();
    let cancelledMidSubmit = false;
    const h = await start(RELEASE_MS - 1_000, () => ({ outcome: 'booked', after: async () => void (await cancel(id), (cancelledMidSubmit = true)) }));
    await waitFor('the claim and the prepared pages', async () => (await row(id)).status === 'claimed' && h.pool.acquired() === 2);
    h.clock.set(RELEASE_MS);
    await waitFor('the session to end', () => (cancelledMidSubmit && scheduler!.inFlight() === 0) || undefined, { timeoutMs: 5_000, everyMs: 5 });
    const r = await getReservation(database.db, id);
    // The site took it after the cancel: the row needs attention, with the code (flagLateBooking).
    expect({ status: r?.status, confirmation_code: r?.confirmation_code }).toEqual({ status: 'needs_attention', confirmation_code: 'CODE-9' });
    expect(h.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([`reservation ${id}: booked on the site after the row had become cancelled; needs attention (booking CODE-9 on court 2)`]);
    expect(cancelledLines(h.lines)).toEqual([]);
  });
});
