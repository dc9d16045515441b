import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import { addDays, localDateTime } from '../src/scheduling/release-time.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { LA_VILLA, startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * The built daemon as systemd runs it: a child process (`node --import tsx src/main.ts run`) with real
 * time, DATABASE_URL, the sandbox site and Chromium. It books a row inserted with SQL, logs JSON lines
 * carrying the booking's fields (and no contact details), and stops cleanly (exit 0) on SIGTERM.
 */

const ZONE = 'America/Guatemala';
let database: TestDatabase;
let sandbox: TestSandbox;
let daemon: ChildProcess | null = null;
let stdout = '';
let stderr = '';

const logLines = (): Array<Record<string, unknown>> =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  database = await createTestDatabase();
  // A venue whose slots open three calendar days ahead at midnight: a slot two days ahead is released
  // already and starts in the future, so the daemon (on the real clock) books it at once.
  const venue = { ...LA_VILLA, releaseRule: { daysBefore: 3, at: '00:00' } };
  sandbox = await startTestSandbox({ clock: systemClock, venues: { 'la-villa': venue }, switches: { limiter: { enabled: false } } });
  const dir = mkdtempSync(join(tmpdir(), 'reservd-proc-'));
  const configPath = join(dir, 'reservd.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      daemon: { pollIntervalMs: 2_000, prepareLeadMs: 5_000, stopGraceMs: 5_000 },
      venues: { 'la-villa': { ...venue, site: { ...venue.site, baseUrl: sandbox.url } } },
    }),
  );
  daemon = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'run', '--config', configPath], {
    env: { ...process.env, DATABASE_URL: database.url, RESERVD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  daemon.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor('the daemon to start', () => logLines().some((l) => l.msg === 'reservd started') || (daemon!.exitCode !== null && Promise.reject(new Error(`daemon exited ${daemon!.exitCode}: ${stderr}${stdout}`))), { timeoutMs: 60_000 });
});

afterAll(async () => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  await sandbox?.stop();
  await database?.drop();
});

describe('reservd run as a process', () => {
  it('books a queued row, logs its fields without contact details, and exits 0 on SIGTERM', async () => {
    const today = localDateTime(systemClock.now(), ZONE).date;
    const slotDate = addDays(today, 2);
    const { rows: users } = await sql<{ id: string }>`
      INSERT INTO booking_users (first_name, last_name, email, phone)
      VALUES ('Fermina', 'Daza', 'fermina@example.com', '+502 5555 0199') RETURNING id`.execute(database.db);
    const { rows } = await sql<{ id: string }>`
      INSERT INTO reservations (user_id, venue, target_date, target_time, courts)
      VALUES (${users[0]!.id}, 'la-villa', ${slotDate}, '20:00', '{3,2}') RETURNING id`.execute(database.db);
    const id = Number(rows[0]!.id);

    const done = await waitFor(`reservation ${id} to succeed`, async () => {
      const { rows: r } = await sql<{ status: string; confirmation_code: string | null; booked_court: number | null }>`
        SELECT status, confirmation_code, booked_court FROM reservations WHERE id = ${id}`.execute(database.db);
      return r[0] && ['succeeded', 'failed', 'rejected'].includes(r[0].status) ? r[0] : undefined;
    }, { timeoutMs: 60_000 });
    expect(done.status).toBe('succeeded');
    expect(done.booked_court).toBe(3);
    const bookings = sandbox.site.bookings().filter((b) => b.email === 'fermina@example.com');
    expect(bookings).toHaveLength(1);
    expect(bookings[0]).toMatchObject({ court: 3, date: slotDate, time: '20:00', firstName: 'Fermina', lastName: 'Daza', source: 'client' });
    // The reservation's code is the booking's 32-hex hash on the site.
    expect(done.confirmation_code).toMatch(/^[0-9a-f]{32}$/);
    expect(done.confirmation_code).toBe(bookings[0]!.hash);

    const attemptLine = logLines().find((l) => l.reservation_id === id && l.court === 3 && l.attempt === 1 && l.outcome === 'booked');
    expect(attemptLine).toMatchObject({ venue: 'la-villa', target_date: slotDate, target_time: '20:00', flow: 'acuity', browser_id: 'chromium-1' });
    expect(stdout).not.toContain('fermina@example.com');
    expect(stdout).not.toContain('5555 0199');
    expect(stdout).not.toContain('Fermina');

    const exited = new Promise<number | null>((resolve) => daemon!.once('exit', (code) => resolve(code)));
    daemon!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logLines().some((l) => l.msg === 'reservd stopped')).toBe(true);
  });
});
