import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { systemClock, type Clock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import { computeReleaseAt } from '../src/scheduling/release-time.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * The observability endpoint as `src/app.ts` starts and stops it (README "Observability"): a real booking on
 * the sandbox site (real Postgres, real Chromium) shows in `/metrics` with its real values, `/readyz` and
 * `/healthz` answer 200 while it runs, the status page lists the confirmation code, and the port is closed
 * after the stop. The clock is real time shifted to stand seconds before the release (shared with the site).
 */

const SLOT_DATE = '2027-07-23';
let database: TestDatabase;
let sandbox: TestSandbox;
let offsetMs = 0;
const clock: Clock = { now: () => systemClock.now() + offsetMs, sleep: (ms, signal) => systemClock.sleep(ms, signal) };

beforeAll(async () => {
  database = await createTestDatabase();
  sandbox = await startTestSandbox({ clock, switches: { limiter: { enabled: false } } });
});
afterAll(async () => {
  await sandbox?.stop();
  await database?.drop();
});

describe('observability endpoint of the daemon', () => {
  it('serves a booking\'s metrics, health and status page while the app runs, and nothing after its stop', async () => {
    const releaseAt = computeReleaseAt({ hoursBefore: 48 }, SLOT_DATE, '10:00', 'America/Guatemala');
    offsetMs = releaseAt.getTime() - 8_000 - systemClock.now();
    const config = parseConfig({
      daemon: { pollIntervalMs: 1_000, prepareLeadMs: 3_000, attemptTimeoutMs: 15_000, notOpenRetryBudgetMs: 3_000, stopGraceMs: 5_000 },
      database: { url: database.url },
      http: { enabled: true, port: 0 },
      venues: { 'la-villa': { ...sandbox.config.venues['la-villa']! } },
    });
    const { rows } = await sql<{ id: string }>`INSERT INTO booking_users (first_name, last_name, email, phone) VALUES ('Zoë', '<b>Ortiz</b>', 'zoe@example.com', '+502 5555 0111') RETURNING id`.execute(database.db);
    await sql`INSERT INTO reservations (user_id, venue, target_date, target_time, courts) VALUES (${rows[0]!.id}, 'la-villa', ${SLOT_DATE}, '10:00', '{2}'::int[])`.execute(database.db);
    const app = createApp({ config, logger: createSilentLogger(), clock, outboxDepth: async () => 3 });
    let base = '';
    try {
      await app.start();
      const bound = app.observability.address()!;
      expect(bound.host).toBe('127.0.0.1');
      base = `http://127.0.0.1:${bound.port}`;
      await waitFor('readyz', async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 10_000, everyMs: 50 });
      const code = await waitFor('the booking', async () => {
        const r = await sql<{ status: string; confirmation_code: string | null }>`SELECT status, confirmation_code FROM reservations`.execute(database.db);
        return r.rows[0]!.status === 'succeeded' ? r.rows[0]!.confirmation_code : undefined;
      }, { timeoutMs: 40_000, everyMs: 100 });
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('reservd_reservations{status="succeeded"} 1\n');
      expect(metrics).toContain('reservd_attempts_total{outcome="booked"} 1\n');
      expect(metrics).toContain('reservd_fire_lag_ms_count{venue="la-villa"} 1\n');
      expect(metrics).toContain('reservd_notification_outbox_depth 3\n');
      expect(metrics).toContain('reservd_browser_restarts_total 0\n');
      const site = new URL(sandbox.config.venues['la-villa']!.site.baseUrl).origin;
      expect(metrics).toMatch(new RegExp(`^reservd_site_clock_offset_ms\\{site="${site}"\\} -?\\d`, 'm'));
      const lag = /^reservd_fire_lag_ms_sum\{venue="la-villa"\} (-?[\d.e+-]+)$/m.exec(metrics);
      expect(Math.abs(Number(lag![1]))).toBeLessThan(1_000);
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, database: { reachable: true }, browser: { state: 'connected', launches: 1 }, scheduler: { stale: false } });
      const page = await (await fetch(`${base}/`)).text();
      expect(page).toContain(`confirmation <code>${code}</code>`);
      expect(page).toContain('<td>Zoë &lt;.</td>');
      expect(page).not.toContain('zoe@example.com');
      expect(page).not.toContain('5555');
    } finally {
      await app.stop();
    }
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
