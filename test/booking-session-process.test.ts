import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../src/clock.js';
import { computeReleaseAt } from '../src/scheduling/release-time.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { runBookNow, spawnDaemon, writeDaemonConfig, type DaemonProcess } from './helpers/daemon-process.js';
import { LA_VILLA, startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * The booking session is the one owner of a held row, with REAL processes on the real Postgres, real Chromium
 * and the sandbox site (the Acuity look-alike):
 * - a `reservd book-now` whose booking outlasts `daemon.leaseMs` (the site answers its booking POST late)
 *   while a daemon runs on the same database: its heartbeat keeps the row, so the daemon never takes it over
 *   or submits for it;
 * - a lease stolen (another owner on the row) while the daemon's fire is on its way to the submit: the intent
 *   is refused, nothing is submitted, the attempt is closed `interrupted`, and the row is left to its new owner;
 * - a daemon paused between its intent and its POST: the daemon that takes the row over finds the slot still
 *   offered but cannot know the paused one will not post, so the row goes to `needs_attention`.
 *
 * Time: the daemons, `book-now` and the site share one shifted clock (`RESERVD_TEST_CLOCK_OFFSET_MS`).
 */

const ZONE = 'America/Guatemala';
const EMAIL = 'session-test@example.test';
/** Short, so a slow booking outlasts it many times over (the schema's minimum). */
const LEASE_MS = 5_000;

let database: TestDatabase;
let sandbox: TestSandbox;
let offsetMs = 0;
const clock: Clock = { now: () => systemClock.now() + offsetMs, sleep: (ms, signal) => systemClock.sleep(ms, signal) };
let configPath: string;
const daemons: DaemonProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  // Two daemons' pages and XHRs from 127.0.0.1: these tests are not about the site's 429 limiter.
  sandbox = await startTestSandbox({ clock, switches: { limiter: { enabled: false } } });
  configPath = writeDaemonConfig({
    daemon: { pollIntervalMs: 500, prepareLeadMs: 8_000, leaseMs: LEASE_MS, stopGraceMs: 8_000, attemptTimeoutMs: 40_000 },
    venues: { 'la-villa': { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: sandbox.url } } },
  });
}, 60_000);

afterEach(async () => {
  sandbox.site.setSwitches({ slowMs: 0, slowSubmitMs: 0 });
  await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
});

afterAll(async () => {
  await sandbox?.stop();
  await database?.drop();
});

/** Shifts the shared clock so that `date time`'s release (48 h before) is `inMs` from now (negative: passed). */
function standBeforeRelease(date: string, time: string, inMs: number): number {
  const releaseAtMs = computeReleaseAt({ hoursBefore: 48 }, date, time, ZONE).getTime();
  offsetMs = releaseAtMs - inMs - systemClock.now();
  return releaseAtMs;
}

/** Queues a reservation of `date time`, courts 2 then 1, for the client `email` (created once). */
async function queue(email: string, date: string, time: string): Promise<number> {
  await sql`
    INSERT INTO booking_users (first_name, last_name, email, phone)
    SELECT 'Sesi', 'Tester', ${email}, '+502 5555 0505' WHERE NOT EXISTS (SELECT 1 FROM booking_users WHERE email = ${email})`.execute(database.db);
  const { rows } = await sql<{ id: string }>`
    INSERT INTO reservations (user_id, venue, target_date, target_time, courts)
    SELECT id, 'la-villa', ${date}, ${time}, '{2,1}' FROM booking_users WHERE email = ${email} ORDER BY id LIMIT 1 RETURNING id`.execute(database.db);
  return Number(rows[0]!.id);
}

/** The slowest daemon start-up seen in this file, real ms: under load a start takes many times its idle ~4 s. */
let slowestStartMs = 0;

async function startDaemon(): Promise<DaemonProcess> {
  const daemon = await spawnDaemon({ configPath, databaseUrl: database.url, clockOffsetMs: offsetMs });
  daemons.push(daemon);
  slowestStartMs = Math.max(slowestStartMs, daemon.startupMs);
  return daemon;
}

/**
 * Real time to stand before a release so that `starts` daemons are up, and have claimed and prepared, before
 * it: one start more than asked for, as the load comes and goes.
 */
const leadFor = (starts: number): number => Math.max(15_000, (starts + 1) * slowestStartMs + 12_000);

/** A wait's budget for something due by shortly after the release at `releaseAtMs`: the real time left to it, plus a minute. */
const byRelease = (releaseAtMs: number): number => Math.max(0, releaseAtMs - clock.now()) + 60_000;

const submitsOf = (date: string, time: string) => sandbox.site.submits().filter((b) => b.email === EMAIL && b.date === date && b.time === time);

async function rowOf(id: number) {
  const { rows } = await sql<{ status: string; lease_owner: string | null; confirmation_code: string | null; booked_court: number | null; result: { metadata?: Record<string, unknown> } | null }>`
    SELECT status, lease_owner, confirmation_code, booked_court, result FROM reservations WHERE id = ${id}`.execute(database.db);
  return rows[0]!;
}

async function attemptsOf(id: number) {
  const { rows } = await sql<{ attempt: number; daemon_id: string; submitted: boolean; outcome: string | null; error: string | null }>`
    SELECT attempt, daemon_id, submitted_at IS NOT NULL AS submitted, outcome, error FROM booking_attempts WHERE reservation_id = ${id} ORDER BY attempt`.execute(database.db);
  return rows;
}

describe('book-now beside a running daemon', () => {
  it('a booking that outlasts the lease is held by its heartbeat: one submit at the site, succeeded once, the daemon never touches it', async () => {
    const date = '2027-09-08';
    const time = '08:00';
    standBeforeRelease(date, time, -60_000); // released a minute ago
    const daemon = await startDaemon();
    const daemonId = String(daemon.logs().find((l) => l.msg === 'reservd started')!.daemon_id);
    // The site takes the booking when the POST arrives and answers it 20 s later: four leases.
    sandbox.site.setSwitches({ slowSubmitMs: 20_000 });
    const run = await runBookNow({
      configPath,
      databaseUrl: database.url,
      clockOffsetMs: offsetMs,
      args: ['--venue', 'la-villa', '--date', date, '--time', time, '--courts', '2', '--first-name', 'Sesi', '--last-name', 'Tester', '--email', EMAIL, '--phone', '+502 5555 0505'],
    });
    expect(run.code, run.output.slice(-3_000)).toBe(0);
    expect(run.summary).toMatchObject({ status: 'success', outcome: 'booked', court: 2, recorded: true });
    const id = Number(run.summary!.reservation_id);

    const submits = submitsOf(date, time);
    expect(submits.map((s) => s.result)).toEqual(['booked']);
    const bookings = sandbox.site.bookings().filter((b) => b.email === EMAIL && b.date === date && b.time === time);
    expect(bookings.map((b) => [b.court, b.source])).toEqual([[2, 'client']]);
    expect(run.summary).toMatchObject({ confirmation_code: bookings[0]!.hash });
    const row = await rowOf(id);
    expect(row).toMatchObject({ status: 'succeeded', lease_owner: null, booked_court: 2, confirmation_code: bookings[0]!.hash });
    expect(row.result?.metadata?.recovered).toBeUndefined(); // recorded by book-now itself, not reconciled by the daemon
    const attempts = await attemptsOf(id);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.submitted, a.daemon_id === daemonId])).toEqual([[1, 'booked', true, false]]);
    // The heartbeat renewed the lease while the booking ran, and the daemon never logged anything about the row.
    expect(run.logs.some((l) => (l.level === 'warn' || l.level === 'error') && String(l.msg).includes('lease'))).toBe(false);
    expect(daemon.logs().filter((l) => l.reservation_id === id)).toEqual([]);
    expect(daemon.child.exitCode).toBeNull();
  }, 300_000);
});

describe('a lease stolen on the way to the submit', () => {
  it('refuses the intent: nothing is submitted, the attempt is closed interrupted, the row is left to its new owner', async () => {
    const date = '2027-09-08';
    const time = '10:00';
    const releaseAtMs = standBeforeRelease(date, time, leadFor(1));
    const id = await queue(EMAIL, date, time);
    const daemon = await startDaemon();
    await waitFor('the first attempt to be opened (page prepared)', async () => (await attemptsOf(id)).length > 0 || undefined, { timeoutMs: byRelease(releaseAtMs), everyMs: 20 });
    // From now on every answer of the site's pages and XHRs comes 0.8 s late (under the flow's 3 s wait for the
    // app): the fire's reload of the calendar takes a few seconds, and is on its way when we steal.
    sandbox.site.setSwitches({ slowMs: 800 });
    await waitFor('the fire to begin (claimed → booking)', async () => (await rowOf(id)).status === 'booking' || undefined, { timeoutMs: byRelease(releaseAtMs), everyMs: 10 });
    const thief = 'thief-host:1:abcdef';
    // An hour on the shared (shifted) clock: the daemon must not see the thief's lease as expired. A lease ends
    // at most an hour after the row's updated_at (reservations_lease_bounded), stamped on the same clock.
    const stolenAt = clock.now();
    await sql`UPDATE reservations SET lease_owner = ${thief}, lease_expires_at = ${new Date(stolenAt + 3_600_000)}, updated_at = ${new Date(stolenAt)} WHERE id = ${id}`.execute(database.db);

    const ended = await daemon.waitForLog('the session to end', (l) => l.reservation_id === id && String(l.msg).includes('the row changed meanwhile'), 30_000);
    expect(String(ended.msg)).toContain(`it is now booking (held by ${thief} until `);
    expect(daemon.logs().some((l) => l.reservation_id === id && l.msg === 'firing')).toBe(true); // the steal came after the fire began
    expect(submitsOf(date, time)).toEqual([]);
    const attempts = await attemptsOf(id);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.submitted])).toEqual([[1, 'interrupted', false]]); // no fallback court either
    expect(await rowOf(id)).toMatchObject({ status: 'booking', lease_owner: thief });
    expect(daemon.child.exitCode).toBeNull();
  }, 300_000);
});

describe('a daemon paused between its intent and its POST', () => {
  it('is not re-queued behind its back: the other daemon sends the row to needs_attention, and the late booking is kept with its code', async () => {
    const date = '2027-09-08';
    const time = '12:00';
    const email = 'paused-session@example.test';
    const releaseAtMs = standBeforeRelease(date, time, leadFor(2));
    // A test fixture, not reservd's schema: the intent of this client's attempts takes 3 s to write, so the
    // daemon that writes it can be stopped in between (as a GC pause, a swap storm or SIGSTOP would).
    await sql`
      CREATE OR REPLACE FUNCTION test_slow_intent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.submitted_at IS NOT NULL AND OLD.submitted_at IS NULL AND EXISTS (
          SELECT 1 FROM reservations r JOIN booking_users u ON u.id = r.user_id WHERE r.id = NEW.reservation_id AND u.email LIKE 'paused-%'
        ) THEN PERFORM pg_sleep(3); END IF;
        RETURN NEW;
      END $$`.execute(database.db);
    await sql`CREATE OR REPLACE TRIGGER test_slow_intent BEFORE UPDATE ON booking_attempts FOR EACH ROW EXECUTE FUNCTION test_slow_intent()`.execute(database.db);
    try {
      const id = await queue(email, date, time);
      const first = await startDaemon();
      const second = await startDaemon();
      await waitFor('the intent to be on its way', async () => {
        const { rows: sleeping } = await sql<{ n: string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'`.execute(database.db);
        return Number(sleeping[0]!.n) > 0 || undefined;
      }, { timeoutMs: byRelease(releaseAtMs), everyMs: 10 });
      const holderPid = Number(/:(\d+):/.exec((await rowOf(id)).lease_owner ?? '')?.[1]);
      const [holder, other] = holderPid === first.pid ? [first, second] : [second, first];
      expect(holder.pid).toBe(holderPid);
      process.kill(holder.pid, 'SIGSTOP');
      try {
        const decided = await other.waitForLog('the other daemon to take the row over and decide', (l) => l.reservation_id === id && l.decision === 'needs_attention', 60_000);
        expect(String(decided.msg)).toContain('not known to have stopped');
        expect(submitsOf(date, time).filter((s) => s.email === email)).toEqual([]);
      } finally {
        process.kill(holder.pid, 'SIGCONT');
      }
      // The paused daemon resumes and posts (it cannot be fenced at the site); its booking is not lost.
      await waitFor('the late booking to be kept on the row', async () => ((await rowOf(id)).confirmation_code !== null) || undefined, { timeoutMs: 60_000, everyMs: 50 });
      const bookings = sandbox.site.bookings().filter((b) => b.email === email);
      expect(bookings.map((b) => [b.date, b.time, b.court])).toEqual([[date, time, 2]]);
      expect(await rowOf(id)).toMatchObject({ status: 'needs_attention', lease_owner: null, booked_court: 2, confirmation_code: bookings[0]!.hash });
      const attempts = await attemptsOf(id);
      expect(attempts.every((a) => a.daemon_id.includes(`:${holder.pid}:`))).toBe(true); // the other daemon never tried
    } finally {
      await sql`DROP TRIGGER IF EXISTS test_slow_intent ON booking_attempts`.execute(database.db);
    }
  }, 300_000);
});
