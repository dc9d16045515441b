import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, openServices, type App } from '../src/app.js';
import { systemClock, type Clock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { listAttempts } from '../src/reservations/index.js';
import { bookNow } from '../src/scheduling/book-now.js';
import { computeReleaseAt } from '../src/scheduling/release-time.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * The main job end to end: rows inserted with plain SQL are booked on the sandbox site (the Acuity
 * look-alike) through the real daemon (real Postgres, real Chromium driving the page), at their release
 * instant, with court fallback; bad rows are rejected with reasons; `book-now` goes through the same helpers;
 * a submit whose answer is unknown is reconciled against the site.
 *
 * Time: an offset clock (real time, shifted) stands each test a few seconds before a chosen release
 * instant; the daemon and the sandbox share it, so nothing sleeps for real days. The site's 429 limiter is
 * off (these tests are not about it).
 */

const ZONE = 'America/Guatemala';
const SLOT_DATE = '2027-07-23';
const FINAL = ['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'needs_attention'];

let database: TestDatabase;
let sandbox: TestSandbox;
/** Real time shifted by `offsetMs`, shared by the sandbox and each daemon; tests move the offset. */
let offsetMs = 0;
const clock: Clock = { now: () => systemClock.now() + offsetMs, sleep: (ms, signal) => systemClock.sleep(ms, signal) };
let app: App | null = null;
const logger = createSilentLogger();

/** Releases of SLOT_DATE slots under la-villa's `hoursBefore: 48` rule. */
const releaseOf = (time: string): Date => computeReleaseAt({ hoursBefore: 48 }, SLOT_DATE, time, ZONE);

function daemonConfig(daemon: Record<string, number> = {}): Config {
  return parseConfig({
    daemon: { pollIntervalMs: 1_000, prepareLeadMs: 3_000, attemptTimeoutMs: 15_000, notOpenRetryBudgetMs: 3_000, stopGraceMs: 5_000, ...daemon },
    database: { url: database.url },
    venues: { 'la-villa': { ...sandbox.config.venues['la-villa']! } },
  });
}

async function insertUser(email: string, firstName = 'Ana'): Promise<number> {
  const { rows } = await sql<{ id: string }>`
    INSERT INTO booking_users (first_name, last_name, email, phone)
    VALUES (${firstName}, 'Alvarez', ${email}, '+502 5555 0101') RETURNING id`.execute(database.db);
  return Number(rows[0]!.id);
}

async function insertReservation(userId: number, time: string, courts: string, date = SLOT_DATE, venue = 'la-villa'): Promise<number> {
  const { rows } = await sql<{ id: string }>`
    INSERT INTO reservations (user_id, venue, target_date, target_time, courts)
    VALUES (${userId}, ${venue}, ${date}, ${time}, ${courts}::int[]) RETURNING id`.execute(database.db);
  return Number(rows[0]!.id);
}

interface Row {
  status: string;
  reason: string | null;
  booked_court: number | null;
  confirmation_code: string | null;
  release_at: Date | null;
  result: unknown;
}

async function row(id: number): Promise<Row> {
  const { rows } = await sql<Row>`SELECT status, reason, booked_court, confirmation_code, release_at, result FROM reservations WHERE id = ${id}`.execute(database.db);
  return rows[0]!;
}

const finalRow = (id: number, timeoutMs = 40_000): Promise<Row> =>
  waitFor(`reservation ${id} to be final`, async () => {
    const r = await row(id);
    return FINAL.includes(r.status) ? r : undefined;
  }, { timeoutMs });

/** Another club member takes `court` at `time` on SLOT_DATE (ignoring the release), as the site's own control does. */
function takenByRival(court: number, time: string): void {
  const taken = sandbox.site.book({ venue: 'la-villa', court, date: SLOT_DATE, time }, { firstName: 'Rival', lastName: 'Player', email: 'rival@example.com', phone: '+502 5555 0999' });
  if (!taken) throw new Error(`court ${court} at ${time} was already booked`);
}

/** The site's bookings of `email`. */
const bookingsOf = (email: string) => sandbox.site.bookings().filter((b) => b.email === email);

/** Stands the shared clock `leadMs` before `releaseAt` and starts a daemon on it. */
async function startDaemonBefore(releaseAt: Date, leadMs: number, daemon: Record<string, number> = {}): Promise<void> {
  offsetMs = releaseAt.getTime() - leadMs - systemClock.now();
  app = createApp({ config: daemonConfig(daemon), logger, clock });
  await app.start();
}

beforeAll(async () => {
  database = await createTestDatabase();
  sandbox = await startTestSandbox({ clock, switches: { limiter: { enabled: false } } });
});

afterEach(async () => {
  await app?.stop();
  app = null;
  await database.truncate();
  sandbox.site.reset();
});

afterAll(async () => {
  await sandbox?.stop();
  await database?.drop();
});

describe('the main job end to end', () => {
  it('books a row inserted with SQL at its release instant, with the site code and exactly one appointment', async () => {
    const releaseAt = releaseOf('09:00');
    await startDaemonBefore(releaseAt, 6_000);
    const userId = await insertUser('ana@example.com');
    const id = await insertReservation(userId, '09:00', '{2,1}');

    const done = await finalRow(id);
    expect(done.status).toBe('succeeded');
    expect(done.release_at?.toISOString()).toBe('2027-07-21T15:00:00.000Z');
    expect(done.booked_court).toBe(2);

    const mine = bookingsOf('ana@example.com');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ court: 2, date: SLOT_DATE, time: '09:00', firstName: 'Ana', lastName: 'Alvarez', phone: '+502 5555 0101', source: 'client' });
    // The reservation's code is the site's 32-hex appointment hash.
    expect(done.confirmation_code).toMatch(/^[0-9a-f]{32}$/);
    expect(done.confirmation_code).toBe(mine[0]!.hash);
    expect((done.result as { metadata: { confirmation_url?: string } }).metadata.confirmation_url).toBe(`${sandbox.url}/schedule.php?owner=31337001&action=appt&id[]=${mine[0]!.hash}`);
    expect(mine[0]!.releaseAt).toBe('2027-07-21T15:00:00.000Z');

    // One booking POST, for court 2, and it reached the site at or after the release instant.
    const submits = sandbox.site.submits();
    expect(submits.map((x) => [x.court, x.date, x.time, x.email, x.result])).toEqual([[2, SLOT_DATE, '09:00', 'ana@example.com', 'booked']]);
    expect(submits[0]!.arrivedAtMs).toBeGreaterThanOrEqual(releaseAt.getTime());

    const attempts = await listAttempts(database.db, id);
    expect(attempts.map((a) => [a.attempt, a.court, a.outcome])).toEqual([[1, 2, 'booked']]);
    expect(attempts[0]!.submitted_at).not.toBeNull();
    expect(attempts[0]!.submitted_at!.getTime()).toBeGreaterThanOrEqual(releaseAt.getTime());
    const metadata = (done.result as { metadata: Record<string, unknown> }).metadata;
    expect(metadata).toMatchObject({ target_date: SLOT_DATE, target_time: '09:00', flow: 'acuity', attempt: 1, reservation_id: id, court: 2 });
  });

  it('falls back to the second court when the first was taken before the release: its time never shows, so the first pass moves on to court 1 at once (no not-open budget spent)', async () => {
    const releaseAt = releaseOf('10:00');
    takenByRival(2, '10:00');
    // A long budget: waiting it out on court 2 would put court 1's POST 30 s after the release.
    await startDaemonBefore(releaseAt, 5_000, { notOpenRetryBudgetMs: 30_000 });
    const id = await insertReservation(await insertUser('ben@example.com', 'Ben'), '10:00', '{2,1}');

    const done = await finalRow(id);
    expect(done.status).toBe('succeeded');
    expect(done.booked_court).toBe(1);
    const attempts = await listAttempts(database.db, id);
    expect(attempts.map((a) => [a.court, a.outcome, a.submitted_at === null])).toEqual([
      [2, 'not_open_yet', true],
      [1, 'booked', false],
    ]);
    expect(bookingsOf('ben@example.com').map((b) => b.court)).toEqual([1]);
    // Court 2 was never posted (its time was not on the calendar); court 1 right after one look at court 2.
    const submits = sandbox.site.submits();
    expect(submits.map((x) => [x.court, x.result])).toEqual([[1, 'booked']]);
    expect(submits[0]!.arrivedAtMs - releaseAt.getTime()).toBeLessThan(15_000);
  });

  it('a rival holding court 2 when the form was shown early: the POST is refused (409), court 1 is booked at once', async () => {
    const releaseAt = releaseOf('10:00');
    // The page shows the form at the direct-slot URL before the release, so the fire posts without a calendar.
    sandbox.site.setSwitches({ unofferedSlotPage: 'form' });
    takenByRival(2, '10:00');
    await startDaemonBefore(releaseAt, 5_000);
    const id = await insertReservation(await insertUser('bea@example.com', 'Bea'), '10:00', '{2,1}');

    const done = await finalRow(id);
    expect(done.status).toBe('succeeded');
    expect(done.booked_court).toBe(1);
    const attempts = await listAttempts(database.db, id);
    expect(attempts.map((a) => [a.attempt, a.court, a.outcome, a.submitted_at !== null])).toEqual([
      [1, 2, 'slot_taken', true],
      [2, 1, 'booked', true],
    ]);
    expect(sandbox.site.submits().map((x) => [x.court, x.email, x.status, x.result])).toEqual([
      [2, 'bea@example.com', 409, 'slot_taken'],
      [1, 'bea@example.com', 200, 'booked'],
    ]);
    expect(bookingsOf('bea@example.com').map((b) => b.court)).toEqual([1]);
    expect(done.confirmation_code).toBe(bookingsOf('bea@example.com')[0]!.hash);
  });

  it('fails with one reason per court when every preferred court is taken', async () => {
    const releaseAt = releaseOf('11:00');
    for (const court of [1, 3]) takenByRival(court, '11:00');
    await startDaemonBefore(releaseAt, 5_000, { notOpenRetryBudgetMs: 1_000 });
    const id = await insertReservation(await insertUser('cleo@example.com', 'Cleo'), '11:00', '{3,1}');

    const done = await finalRow(id);
    expect(done.status).toBe('failed');
    expect(done.booked_court).toBeNull();
    const errors = (done.result as { errors: string[] }).errors;
    expect(errors).toEqual([
      'court 3: slot still not open after the retry budget: 2027-07-23 11:00 is not offered on the calendar yet',
      'court 1: slot still not open after the retry budget: 2027-07-23 11:00 is not offered on the calendar yet',
    ]);
    expect(done.reason).toContain('court 3: slot still not open after the retry budget');
    expect(bookingsOf('cleo@example.com')).toHaveLength(0);
    expect(sandbox.site.submits()).toEqual([]);
  });

  it('rejects bad rows with a reason naming the problem and still books the good row', async () => {
    const releaseAt = releaseOf('12:00');
    await startDaemonBefore(releaseAt, 5_000);
    const good = await insertUser('dana@example.com', 'Dana');
    const badEmailUser = await insertUser('dana@', 'Dana');
    const ids = {
      badEmail: await insertReservation(badEmailUser, '12:00', '{1}'),
      badTime: await insertReservation(good, '25:00', '{1}'),
      unknownVenue: await insertReservation(good, '12:00', '{1}', SLOT_DATE, 'nowhere'),
      unknownCourt: await insertReservation(good, '12:00', '{7}'),
      offGrid: await insertReservation(good, '12:30', '{1}'),
      past: await insertReservation(good, '09:00', '{1}', '2027-07-20'),
      good: await insertReservation(good, '12:00', '{1}'),
    };
    // The database itself refuses an empty court list (CHECK constraint), naming the constraint.
    await expect(insertReservation(good, '12:00', '{}')).rejects.toThrow(/reservations_courts_nonempty/);

    const reasons = Object.fromEntries(
      await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, await finalRow(id)] as const)),
    );
    expect(reasons.badEmail!.status).toBe('rejected');
    expect(reasons.badEmail!.reason).toMatch(/^booking_users\.email: .*"dana@"/);
    expect(reasons.badTime!.status).toBe('rejected');
    expect(reasons.badTime!.reason).toMatch(/^target_time: .*"25:00"/);
    expect(reasons.unknownVenue!.status).toBe('rejected');
    expect(reasons.unknownVenue!.reason).toMatch(/^venue: .*"nowhere"/);
    expect(reasons.unknownCourt!.status).toBe('rejected');
    expect(reasons.unknownCourt!.reason).toBe('courts: court 7 is not a court of venue "la-villa" (its courts: 1, 2, 3)');
    expect(reasons.offGrid!.status).toBe('rejected');
    expect(reasons.offGrid!.reason).toBe('target_time: "12:30" is not a slot start at venue "la-villa" on 2027-07-23 (slots start every 60 min from 07:00 to 21:00)');
    expect(reasons.past!.status).toBe('rejected');
    expect(reasons.past!.reason).toMatch(/2027-07-20 09:00.*in the past/);
    expect(reasons.good!.status).toBe('succeeded');
    expect(reasons.good!.booked_court).toBe(1);
  });

  it('book-now books immediately through the same helpers and records its result the same way', async () => {
    const releaseAt = releaseOf('13:00');
    offsetMs = releaseAt.getTime() + 60_000 - systemClock.now();
    const services = await openServices({ config: daemonConfig(), logger, clock });
    try {
      const { reservationId, result } = await bookNow({
        db: services.database.db,
        config: daemonConfig(),
        clock,
        logger,
        executor: services.executor,
        owner: services.daemonId,
        signal: new AbortController().signal,
        input: { user: { firstName: 'Eve', lastName: 'Estrada', email: 'eve@example.com', phone: '+502 5555 0105' }, venue: 'la-villa', targetDate: SLOT_DATE, targetTime: '13:00', courts: [3] },
      });
      expect(result.status).toBe('success');
      const done = await row(reservationId);
      expect(done.status).toBe('succeeded');
      expect(done.booked_court).toBe(3);
      const mine = bookingsOf('eve@example.com');
      expect(mine.map((b) => [b.court, b.date, b.time, b.firstName, b.lastName])).toEqual([[3, SLOT_DATE, '13:00', 'Eve', 'Estrada']]);
      expect(done.confirmation_code).toBe(mine[0]!.hash);
      const { rows } = await sql<{ source: string }>`SELECT source FROM reservations WHERE id = ${reservationId}`.execute(database.db);
      expect(rows[0]!.source).toBe('immediate');
      const attempts = await listAttempts(database.db, reservationId);
      expect(attempts.map((a) => [a.court, a.outcome])).toEqual([[3, 'booked']]);
      expect((done.result as { source: string }).source).toBe('immediate');
    } finally {
      await services.close();
    }
  });

  it('respects a cancel set while the reservation waits for its release: no submit, stays cancelled', async () => {
    const releaseAt = releaseOf('14:00');
    await startDaemonBefore(releaseAt, 5_000);
    const id = await insertReservation(await insertUser('gil@example.com', 'Gil'), '14:00', '{1,2}');
    await waitFor('the claim', async () => (await row(id)).status === 'claimed');
    await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${id}`.execute(database.db);

    // The cancel's NOTIFY ends the booking at once: the lease is cleared and the row finished, before the release.
    await waitFor('the row to end clean', async () => {
      const { rows } = await sql<{ clean: boolean }>`SELECT lease_owner IS NULL AND finished_at IS NOT NULL AS clean FROM reservations WHERE id = ${id}`.execute(database.db);
      return rows[0]?.clean === true || undefined;
    });
    await waitFor('the release to pass', () => clock.now() > releaseAt.getTime() + 1_000 || undefined, { timeoutMs: 15_000, everyMs: 50 });
    // Cancelled while its page was being prepared: at most one attempt, interrupted, never submitted.
    const attempts = await listAttempts(database.db, id);
    expect(attempts.filter((a) => a.outcome !== 'interrupted' || a.submitted_at !== null || a.court !== 1)).toEqual([]);
    expect(attempts.length).toBeLessThanOrEqual(1);
    expect((await row(id)).status).toBe('cancelled');
    expect(sandbox.site.submits()).toEqual([]);
  });

  it('a stop before the release gives the reservation back to the queue without submitting', async () => {
    const releaseAt = releaseOf('15:00');
    await startDaemonBefore(releaseAt, 30_000);
    const id = await insertReservation(await insertUser('hana@example.com', 'Hana'), '15:00', '{1}');
    // prepareLeadMs is 3 s: move the clock so the claim happens now, far from the release.
    offsetMs += 27_500;
    await waitFor('the claim', async () => (await row(id)).status === 'claimed');
    await app!.stop();
    app = null;
    expect((await row(id)).status).toBe('scheduled');
    const attempts = await listAttempts(database.db, id);
    expect(attempts.map((a) => [a.outcome, a.submitted_at])).toEqual([['interrupted', null]]);
    expect(sandbox.site.submits()).toEqual([]);

    // A new daemon books it, continuing the attempt numbering.
    app = createApp({ config: daemonConfig(), logger, clock });
    await app.start();
    expect((await finalRow(id)).status).toBe('succeeded');
    expect((await listAttempts(database.db, id)).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'interrupted'],
      [2, 'booked'],
    ]);
  });

  it('a submit whose answer comes after the attempt timeout: no hash was read and the slot is gone → needs_attention naming court 1, no other court posted', async () => {
    const releaseAt = releaseOf('16:00');
    await startDaemonBefore(releaseAt, 4_000, { attemptTimeoutMs: 1_500 });
    // The site commits the booking at once and answers 4 s later, long after the flow gave up waiting.
    sandbox.site.setSwitches({ slowSubmitMs: 4_000 });
    const id = await insertReservation(await insertUser('ivo@example.com', 'Ivo'), '16:00', '{1,2}');

    const done = await finalRow(id);
    // The site holds the booking; reservd never tried court 2 and cannot prove the booking is its own.
    expect(bookingsOf('ivo@example.com').map((b) => [b.court, b.time])).toEqual([[1, '16:00']]);
    expect(sandbox.site.submits().map((x) => [x.court, x.result])).toEqual([[1, 'booked']]);
    expect(done).toMatchObject({ status: 'needs_attention', booked_court: null, confirmation_code: null });
    expect(done.reason).toMatch(/is no longer offered on court 1\b/);
    const attempts = await listAttempts(database.db, id);
    expect(attempts.map((a) => [a.court, a.outcome, a.submitted_at !== null, a.confirmation_code])).toEqual([[1, 'unknown', true, null]]);
  });

  it('a click that sent nothing (the captcha answered after the attempt timeout): no hash, the slot still offered → back to scheduled, then booked', async () => {
    const releaseAt = releaseOf('19:00');
    await startDaemonBefore(releaseAt, 4_000, { attemptTimeoutMs: 1_500 });
    // "Confirmar cita" waits for a captcha token that comes after the flow gave up: the page (and its POST)
    // is closed first, so the site never sees a booking request.
    sandbox.site.setSwitches({ captchaLatencyMs: 4_000 });
    const id = await insertReservation(await insertUser('lia@example.com', 'Lia'), '19:00', '{1,2}');

    const first = await waitFor('the first attempt to end', async () => {
      const [attempt] = await listAttempts(database.db, id);
      return attempt?.outcome ? attempt : undefined;
    });
    expect([first.court, first.outcome, first.submitted_at !== null]).toEqual([1, 'unknown', true]);
    expect(sandbox.site.submits()).toEqual([]);
    // Reconciliation looks again only once the submit is 5 s old: time enough to let the next attempt through.
    sandbox.site.setSwitches({ captchaLatencyMs: 0 });

    const done = await finalRow(id);
    expect(done).toMatchObject({ status: 'succeeded', booked_court: 1 });
    const mine = bookingsOf('lia@example.com');
    expect(mine.map((b) => [b.court, b.time])).toEqual([[1, '19:00']]);
    expect(done.confirmation_code).toBe(mine[0]!.hash);
    // One POST in all: the second attempt's.
    expect(sandbox.site.submits().map((x) => [x.court, x.result])).toEqual([[1, 'booked']]);
    expect((await listAttempts(database.db, id)).map((a) => [a.attempt, a.court, a.outcome])).toEqual([
      [1, 1, 'unknown'],
      [2, 1, 'booked'],
    ]);
  });

  it('rejects a row inserted directly as scheduled whose values are invalid, instead of crashing on it', async () => {
    const releaseAt = releaseOf('17:00');
    await startDaemonBefore(releaseAt, 2_000);
    const userId = await insertUser('jo@example.com', 'Jo');
    await sql`UPDATE booking_users SET phone = 'call me' WHERE id = ${userId}`.execute(database.db);
    const { rows } = await sql<{ id: string }>`
      INSERT INTO reservations (user_id, venue, target_date, target_time, courts, status, release_at, slot_at)
      VALUES (${userId}, 'la-villa', ${SLOT_DATE}, '17:00', '{1}', 'scheduled', ${releaseAt}, ${new Date(releaseAt.getTime() + 48 * 3_600_000)})
      RETURNING id`.execute(database.db);
    const done = await finalRow(Number(rows[0]!.id));
    expect(done.status).toBe('rejected');
    expect(done.reason).toMatch(/^booking_users\.phone: /);
    expect(sandbox.site.submits()).toEqual([]);
  });

  it('fires on the site clock: with the site 1.5 s behind, it fires 1.5 s after the local release and posts once', async () => {
    const releaseAt = releaseOf('18:00');
    sandbox.site.setClockSkewMs(-1_500);
    await startDaemonBefore(releaseAt, 14_000, { prepareLeadMs: 12_000 });
    const id = await insertReservation(await insertUser('kim@example.com', 'Kim'), '18:00', '{1}');

    const done = await finalRow(id);
    expect(done.status).toBe('succeeded');
    const submits = sandbox.site.submits();
    expect(submits.map((x) => [x.court, x.result])).toEqual([[1, 'booked']]);
    // Arrival on the SITE's clock: at or after its release.
    expect(submits[0]!.arrivedAtMs).toBeGreaterThanOrEqual(releaseAt.getTime());
    const metadata = (done.result as { metadata: { site_clock_offset_ms: number; fired_at: string } }).metadata;
    expect(Math.abs(metadata.site_clock_offset_ms + 1_500)).toBeLessThan(100);
    // It fired when the SITE's clock reached the release: 1.5 s after the release on the local clock.
    expect(Date.parse(metadata.fired_at) - releaseAt.getTime()).toBeGreaterThanOrEqual(1_400);
  });
});
