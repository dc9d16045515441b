import { execFileSync } from 'node:child_process';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../src/clock.js';
import { computeReleaseAt } from '../src/scheduling/release-time.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { spawnDaemon, writeDaemonConfig, type DaemonProcess } from './helpers/daemon-process.js';
import { LA_VILLA, startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * Never twice, never lost (README "Reliability"), with REAL daemon processes, the real Postgres, real Chromium and the
 * sandbox site (the Acuity look-alike): a daemon is killed with SIGKILL at each point of a booking, a new one
 * is started on the same database, and the site and the table must show at most one booking and nothing
 * left `claimed` or `booking`. Where the site's answer had been read (its hash stored on the attempt), the
 * row is `succeeded` with that hash; where the submit was sent but no answer read, the new daemon asks the
 * site whether the slot is still offered: offered → booked again, gone → `needs_attention` (never a blind
 * second submit). Also SIGTERM during a booking, and a user's cancel while the daemon waits.
 *
 * Time: daemons and the site share one shifted clock (`RESERVD_TEST_CLOCK_OFFSET_MS`), set per scenario
 * so that its slot's release is {@link leadMs} away when the scenario starts.
 */

const ZONE = 'America/Guatemala';
/** Real time from a scenario's start to its release on an idle machine: enough to start a daemon and let it claim. */
const LEAD_MS = 24_000;
/** What a scenario needs after its daemon is up: the claim (`prepareLeadMs` before the release) and the page. */
const AFTER_START_MS = 18_000;
/** The slowest daemon start-up seen in this file, real ms (a warm-up daemon measures the first). */
let slowestStartMs = 0;
/**
 * Real time from a scenario's start to its release: {@link LEAD_MS}, longer when daemons start slowly (a
 * loaded machine; twice the slowest start, as the load comes and goes).
 */
const leadMs = (): number => Math.max(LEAD_MS, 2 * slowestStartMs + AFTER_START_MS);
const EMAIL = 'kill-test@example.test';

let database: TestDatabase;
let sandbox: TestSandbox;
let offsetMs = 0;
const clock: Clock = { now: () => systemClock.now() + offsetMs, sleep: (ms, signal) => systemClock.sleep(ms, signal) };
let configPath: string;
let userId: string;
const daemons: DaemonProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  // One daemon's page loads and XHRs from 127.0.0.1: these tests are not about the site's 429 limiter.
  sandbox = await startTestSandbox({ clock, switches: { limiter: { enabled: false } } });
  configPath = writeDaemonConfig({
    // A lease longer than a restart under load: a take-over by the restarted daemon is the dead-owner check's, not an expiry.
    // A prepare lead a loaded machine's page load fits in (the tests act while the page waits for the release).
    daemon: { pollIntervalMs: 1_000, prepareLeadMs: 12_000, leaseMs: 30_000, stopGraceMs: 8_000 },
    venues: { 'la-villa': { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: sandbox.url } } },
  });
  const { rows } = await sql<{ id: string }>`
    INSERT INTO booking_users (first_name, last_name, email, phone)
    VALUES ('Killy', 'Tester', ${EMAIL}, '+502 5555 0404') RETURNING id`.execute(database.db);
  userId = rows[0]!.id;
  // Warm-up: compiles the sources into tsx's cache and measures a start-up before the first scenario.
  const warmUp = await start();
  await warmUp.stop('SIGKILL');
  daemons.splice(0);
}, 120_000);

afterEach(async () => {
  sandbox.site.setSwitches({ slowSubmitMs: 0, captchaLatencyMs: 0 });
  await Promise.all(daemons.splice(0).map((d) => d.stop('SIGKILL')));
});

afterAll(async () => {
  await sandbox?.stop();
  await database?.drop();
});

interface Scenario {
  id: number;
  date: string;
  time: string;
  releaseAtMs: number;
}

/** Inserts a reservation for `date time` (court 2) and shifts the shared clock to {@link leadMs} before its release. */
async function scenario(date: string, time: string): Promise<Scenario> {
  const releaseAtMs = computeReleaseAt({ hoursBefore: 48 }, date, time, ZONE).getTime();
  offsetMs = releaseAtMs - leadMs() - systemClock.now();
  const { rows } = await sql<{ id: string }>`
    INSERT INTO reservations (user_id, venue, target_date, target_time, courts)
    VALUES (${userId}, 'la-villa', ${date}, ${time}, '{2}') RETURNING id`.execute(database.db);
  return { id: Number(rows[0]!.id), date, time, releaseAtMs };
}

async function start(): Promise<DaemonProcess> {
  const daemon = await spawnDaemon({ configPath, databaseUrl: database.url, clockOffsetMs: offsetMs });
  daemons.push(daemon);
  slowestStartMs = Math.max(slowestStartMs, daemon.startupMs);
  return daemon;
}

async function row(id: number) {
  const { rows } = await sql<{ status: string; confirmation_code: string | null; booked_court: number | null; result: Record<string, unknown> | null; reason: string | null }>`
    SELECT status, confirmation_code, booked_court, result, reason FROM reservations WHERE id = ${id}`.execute(database.db);
  return rows[0]!;
}

/** A wait's budget for something due by shortly after `s`'s release: the real time left to it, plus a minute. */
const byRelease = (s: Scenario): number => Math.max(0, s.releaseAtMs - clock.now()) + 60_000;

const finalRow = (s: Scenario) =>
  waitFor(`reservation ${s.id} to finish`, async () => {
    const r = await row(s.id);
    return ['succeeded', 'failed', 'needs_attention', 'rejected', 'expired', 'cancelled'].includes(r.status) ? r : undefined;
  }, { timeoutMs: byRelease(s), everyMs: 50 });

/** Our client's bookings of the scenario's slot on the site. */
const siteBookings = (s: Scenario) => sandbox.site.bookings().filter((b) => b.email === EMAIL && b.date === s.date && b.time === s.time);
const submitsOf = (s: Scenario) => sandbox.site.submits().filter((b) => b.email === EMAIL && b.date === s.date && b.time === s.time);

/** Exactly one booking on the site, on court 2, the row `succeeded` with its hash, nothing held. */
async function expectBookedOnce(s: Scenario): Promise<void> {
  const done = await finalRow(s);
  const bookings = siteBookings(s);
  expect(bookings.map((b) => [b.court, b.source])).toEqual([[2, 'client']]);
  expect(bookings[0]!.hash).toMatch(/^[0-9a-f]{32}$/);
  expect(done).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: bookings[0]!.hash });
  await expectNothingHeld();
}

async function expectNothingHeld(): Promise<void> {
  const { rows: held } = await sql<{ n: string }>`SELECT count(*) AS n FROM reservations WHERE status IN ('claimed', 'booking')`.execute(database.db);
  expect(Number(held[0]!.n)).toBe(0);
}

/** The attempts of a reservation, in order, with the daemon that made each and the code (or hash) it holds. */
async function attemptsOf(id: number) {
  const { rows } = await sql<{ attempt: number; daemon_id: string; submitted: boolean; outcome: string | null; confirmation_code: string | null }>`
    SELECT attempt, daemon_id, submitted_at IS NOT NULL AS submitted, outcome, confirmation_code FROM booking_attempts WHERE reservation_id = ${id} ORDER BY attempt`.execute(database.db);
  return rows;
}

/** The pids of the processes `pid` started (its Chromium). */
const childPids = (pid: number): number[] =>
  execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A test fixture, not reservd's schema: an UPDATE that writes the outcome of reservation `id`'s attempts
 * sleeps in its trigger, so the daemon can be killed while its outcome is on its way to the table.
 */
async function holdOutcomeWrites(id: number): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION test_hold_outcome() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.outcome IS NOT NULL AND OLD.outcome IS NULL AND NEW.reservation_id = ${sql.raw(String(Math.trunc(id)))} THEN PERFORM pg_sleep(300); END IF;
      RETURN NEW;
    END $$`.execute(database.db);
  await sql`CREATE OR REPLACE TRIGGER test_hold_outcome BEFORE UPDATE ON booking_attempts FOR EACH ROW EXECUTE FUNCTION test_hold_outcome()`.execute(database.db);
}

/** Ends every backend sleeping in {@link holdOutcomeWrites}'s trigger (its UPDATE is rolled back), then drops the trigger. */
async function releaseOutcomeWrites(): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event = 'PgSleep'`.execute(database.db);
  await sql`DROP TRIGGER IF EXISTS test_hold_outcome ON booking_attempts`.execute(database.db);
  return Number(rows[0]!.n);
}

/** The site received the submit at or after the release (its own clock). */
const arrivedAfterRelease = (s: Scenario): boolean => siteBookings(s).every((b) => Date.parse(b.arrivedAt) >= Date.parse(b.releaseAt));

describe('kill -9 at each point of a booking, then restart', () => {
  it("after the claim: the restarted daemon takes the dead one's lease over at once and books", async () => {
    const s = await scenario('2027-09-06', '08:00');
    const first = await start();
    await waitFor('the claim', async () => (await row(s.id)).status === 'claimed' || undefined, { timeoutMs: byRelease(s), everyMs: 20 });
    await first.stop('SIGKILL');
    const killedAtMs = systemClock.now();
    const second = await start();
    const takeOver = await second.waitForLog('the take-over of the dead daemon', (l) => typeof l.lease_owner === 'string' && l.lease_owner.includes(`:${first.pid}:`));
    const started = second.logs().find((l) => l.msg === 'reservd started')!;
    // Figures for the closing note: the restart dominates; the take-over itself is the first tick.
    process.stderr.write(`take-over: kill → restarted daemon up ${Date.parse(String(started.time)) - killedAtMs} ms, → lease taken over ${Date.parse(String(takeOver.time)) - killedAtMs} ms\n`);
    await expectBookedOnce(s);
    expect(arrivedAfterRelease(s)).toBe(true);
    const attempts = await attemptsOf(s.id);
    expect(attempts.map((a) => [a.outcome, a.daemon_id.includes(`:${second.pid}:`)])).toEqual([['booked', true]]);
  }, 300_000);

  it('after the page is warmed: the same, no submit from the dead daemon', async () => {
    const s = await scenario('2027-09-06', '09:00');
    const first = await start();
    await first.waitForLog('the page to be ready', (l) => l.reservation_id === s.id && l.msg === 'page ready; waiting for the release instant', byRelease(s));
    await first.stop('SIGKILL');
    expect(submitsOf(s)).toEqual([]);
    await start();
    await expectBookedOnce(s);
    expect(arrivedAfterRelease(s)).toBe(true);
    expect(submitsOf(s)).toHaveLength(1);
    // The dead daemon's attempt (started, never submitted) is closed; the new one booked.
    const attempts = await attemptsOf(s.id);
    expect(attempts.filter((a) => a.submitted).map((a) => a.outcome)).toEqual(['booked']);
    expect(attempts.map((a) => [a.outcome, a.daemon_id.includes(`:${first.pid}:`)])).toEqual([
      ['interrupted', true],
      ['booked', false],
    ]);
  }, 300_000);

  it('after the intent, before the POST left the page: the slot still offered, so the new daemon books it, once', async () => {
    const s = await scenario('2027-09-06', '16:00');
    // The page mints its captcha token at the click and only then posts: 8 s between the intent and the POST.
    sandbox.site.setSwitches({ captchaLatencyMs: 8_000 });
    const first = await start();
    await waitFor('the intent', async () => (await attemptsOf(s.id)).some((a) => a.submitted) || undefined, { timeoutMs: byRelease(s), everyMs: 10 });
    const browsers = childPids(first.pid);
    await first.stop('SIGKILL');
    // Its Chromium goes with it (the pipe to its dead parent closes): nothing can post for the dead daemon.
    await waitFor('the dead daemon\'s browser to exit', () => browsers.every((pid) => !isAlive(pid)) || undefined, { timeoutMs: 20_000, everyMs: 50 });
    expect(submitsOf(s)).toEqual([]);
    sandbox.site.setSwitches({ captchaLatencyMs: 0 });
    const second = await start();
    await expectBookedOnce(s);
    expect(submitsOf(s).map((x) => x.result)).toEqual(['booked']);
    // The dead daemon's attempt: intent, no hash, the slot still offered → settled as not booked, the row
    // back in the queue; the new daemon's attempt booked.
    const attempts = await attemptsOf(s.id);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.submitted, a.daemon_id.includes(`:${first.pid}:`), a.daemon_id.includes(`:${second.pid}:`)])).toEqual([
      [1, 'interrupted', true, true, false],
      [2, 'booked', true, false, true],
    ]);
    expect((await row(s.id)).result).not.toHaveProperty('metadata.recovered');
  }, 300_000);

  it('right after the POST was sent, before the answer was read: no hash and the slot gone → needs_attention, not submitted again', async () => {
    const s = await scenario('2027-09-06', '10:00');
    sandbox.site.setSwitches({ slowSubmitMs: 5_000 }); // the site takes the booking when the POST arrives, answers 5 s later
    const first = await start();
    await waitFor('the submit to reach the site', () => submitsOf(s).length > 0 || undefined, { timeoutMs: byRelease(s), everyMs: 5 });
    await first.stop('SIGKILL');
    sandbox.site.setSwitches({ slowSubmitMs: 0 });
    await start();
    const done = await finalRow(s);
    // The site holds the dead daemon's booking, but nobody read its hash: it cannot be proven ours.
    expect(siteBookings(s).map((b) => [b.court, b.source])).toEqual([[2, 'client']]);
    expect(done).toMatchObject({ status: 'needs_attention', confirmation_code: null, booked_court: null });
    expect(done.reason).toMatch(/no appointment hash from the site; the slot 2027-09-06 at 10:00 is no longer offered on court 2/);
    expect(submitsOf(s)).toHaveLength(1);
    const attempts = await attemptsOf(s.id);
    expect(attempts.map((a) => [a.attempt, a.submitted, a.daemon_id.includes(`:${first.pid}:`)])).toEqual([[1, true, true]]);
    await expectNothingHeld();
  }, 300_000);

  it('after the answer was read (its hash stored), before the outcome was recorded: looked up by hash → succeeded (recovered), not submitted again', async () => {
    const s = await scenario('2027-09-06', '11:00');
    await holdOutcomeWrites(s.id);
    try {
      const first = await start();
      await waitFor('the outcome write to be held', async () => {
        const { rows } = await sql<{ n: string }>`
          SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep' AND query ILIKE '%booking_attempts%'`.execute(database.db);
        return Number(rows[0]!.n) > 0 || undefined;
      }, { timeoutMs: byRelease(s), everyMs: 10 });
      const bookings = siteBookings(s);
      expect(bookings).toHaveLength(1);
      // The answer's hash reached the attempt the moment it arrived; the outcome did not.
      expect((await attemptsOf(s.id)).map((a) => [a.attempt, a.submitted, a.outcome, a.confirmation_code])).toEqual([[1, true, null, bookings[0]!.hash]]);
      await first.stop('SIGKILL');
      expect(await releaseOutcomeWrites()).toBe(1);
      expect((await row(s.id)).status).toBe('booking');
      await start();
      await expectBookedOnce(s);
      expect(submitsOf(s)).toHaveLength(1);
      expect((await row(s.id)).result?.metadata).toMatchObject({ recovered: true });
      expect((await attemptsOf(s.id)).map((a) => [a.attempt, a.outcome, a.confirmation_code, a.daemon_id.includes(`:${first.pid}:`)])).toEqual([[1, 'booked', bookings[0]!.hash, true]]);
    } finally {
      await releaseOutcomeWrites();
    }
  }, 300_000);
});

describe('the database drops the daemon', () => {
  it('pg_terminate_backend on every daemon connection while it waits for the release: the booking still happens', async () => {
    const s = await scenario('2027-09-06', '15:00');
    const daemon = await start();
    await daemon.waitForLog('the page to be ready', (l) => l.reservation_id === s.id && l.msg === 'page ready; waiting for the release instant', byRelease(s));
    const { rows } = await sql<{ n: string }>`
      SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'reservd%'`.execute(database.db);
    expect(Number(rows[0]!.n)).toBeGreaterThan(0); // the pool and the LISTEN connection
    await expectBookedOnce(s);
    expect(arrivedAfterRelease(s)).toBe(true);
    expect(daemon.child.exitCode).toBeNull(); // survived
  }, 300_000);
});

describe('the browser dies', () => {
  it('Chromium killed before the release: a new browser is started and the booking still happens', async () => {
    const s = await scenario('2027-09-06', '14:00');
    const daemon = await start();
    await daemon.waitForLog('the page to be ready', (l) => l.reservation_id === s.id && l.msg === 'page ready; waiting for the release instant', byRelease(s));
    const browsers = childPids(daemon.pid);
    expect(browsers.length).toBeGreaterThan(0);
    for (const pid of browsers) process.kill(pid, 'SIGKILL');
    await expectBookedOnce(s);
    expect(daemon.logs().some((l) => l.reservation_id === s.id && l.msg === 'the prepared page is gone (browser crashed?); preparing it again')).toBe(true);
    expect(daemon.logs().some((l) => l.msg === 'browser launched' && l.browser_id === 'chromium-2')).toBe(true);
  }, 300_000);
});

describe('stopping and cancelling', () => {
  it('SIGTERM during a booking: exit 0 within the grace period, the booking finished and recorded', async () => {
    const s = await scenario('2027-09-06', '12:00');
    sandbox.site.setSwitches({ slowSubmitMs: 2_000 });
    const daemon = await start();
    await waitFor('the submit to reach the site', () => submitsOf(s).length > 0 || undefined, { timeoutMs: byRelease(s), everyMs: 5 });
    const sentAtMs = systemClock.now();
    const exit = await daemon.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(systemClock.now() - sentAtMs).toBeLessThan(8_000 + 5_000); // stopGraceMs + closing the browser and pool
    await expectBookedOnce(s);
  }, 300_000);

  it('a row cancelled by its user while the daemon waits for the release: no submit, stays cancelled', async () => {
    const s = await scenario('2027-09-06', '13:00');
    const daemon = await start();
    await daemon.waitForLog('the page to be ready', (l) => l.reservation_id === s.id && l.msg === 'page ready; waiting for the release instant', byRelease(s));
    await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${s.id}`.execute(database.db);
    // The cancel's NOTIFY reaches the daemon at once: it releases the prepared page and ends the row clean.
    await daemon.waitForLog('the cancel to be noticed', (l) => l.reservation_id === s.id && l.msg === `reservation ${s.id} cancelled by the user; releasing its prepared page, nothing is submitted`, byRelease(s));
    await waitFor('the release to pass', () => clock.now() > s.releaseAtMs + 1_000 || undefined, { timeoutMs: byRelease(s), everyMs: 50 });
    expect(submitsOf(s)).toEqual([]);
    const { rows } = await sql<{ status: string; lease_owner: string | null; finished: boolean }>`SELECT status, lease_owner, finished_at IS NOT NULL AS finished FROM reservations WHERE id = ${s.id}`.execute(database.db);
    expect(rows[0]).toEqual({ status: 'cancelled', lease_owner: null, finished: true });
  }, 300_000);
});
