/**
 * `npm run bench`: fire lag of the real daemon against the sandbox site and the real Postgres.
 *
 * Each round stands a shared offset clock (real time, shifted) a few seconds before the release of a
 * fresh slot, inserts one reservation with SQL and waits for the outcome; fire lag = the site's arrival
 * time of the accepted submit − the slot's release instant (both on the site's clock). Rounds:
 * `BENCH_ROUNDS` (default 10); `BENCH_SKEW_MS` skews the site's clock (default 0). Traffic stays on 127.0.0.1. The last stdout line is one JSON object; it is
 * also written to `bench/results/<time>.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { sql } from 'kysely';
import { createApp } from '../src/app.js';
import { systemClock, type Clock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import { addDays, computeReleaseAt } from '../src/scheduling/release-time.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase } from '../test/helpers/database.js';
import { startTestSandbox } from '../test/helpers/sandbox.js';
import { waitFor } from '../test/helpers/wait.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
/** Site clock skew (ms, `BENCH_SKEW_MS`); with a skew the daemon estimates the site clock during a longer lead. */
const SKEW_MS = Number(process.env.BENCH_SKEW_MS ?? 0);
const PREPARE_LEAD_MS = SKEW_MS === 0 ? 2_000 : 12_000;
const LEAD_MS = PREPARE_LEAD_MS + 2_000;
const ZONE = 'America/Guatemala';
const TIMES = ['07:00', '08:00', '09:00', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00', '17:00', '18:00', '19:00', '20:00', '21:00'];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

function stats(values: number[]): { p50: number; p95: number; p99: number; max: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN, n: sorted.length };
}

async function main(): Promise<void> {
  let offsetMs = 0;
  const clock: Clock = { now: () => systemClock.now() + offsetMs, sleep: (ms, signal) => systemClock.sleep(ms, signal) };
  const database = await createTestDatabase();
  const sandbox = await startTestSandbox({ clock, clockSkewMs: SKEW_MS });
  const config = parseConfig({
    daemon: { pollIntervalMs: 500, prepareLeadMs: PREPARE_LEAD_MS, stopGraceMs: 5_000 },
    database: { url: database.url },
    venues: { 'la-villa': { ...sandbox.config.venues['la-villa']! } },
  });
  const app = createApp({ config, logger: createSilentLogger(), clock });
  const lagsMs: number[] = [];
  const outcomes: Record<string, number> = {};
  const startedMs = systemClock.now();
  try {
    await app.start();
    const { rows: users } = await sql<{ id: string }>`
      INSERT INTO booking_users (first_name, last_name, email, phone)
      VALUES ('Bench', 'Runner', 'bench@example.com', '+502 5555 0000') RETURNING id`.execute(database.db);
    for (let round = 0; round < ROUNDS; round++) {
      const date = addDays('2027-08-02', Math.floor(round / TIMES.length));
      const time = TIMES[round % TIMES.length]!;
      const releaseAt = computeReleaseAt({ hoursBefore: 48 }, date, time, ZONE);
      offsetMs = releaseAt.getTime() - LEAD_MS - systemClock.now();
      const { rows } = await sql<{ id: string }>`
        INSERT INTO reservations (user_id, venue, target_date, target_time, courts)
        VALUES (${users[0]!.id}, 'la-villa', ${date}, ${time}, '{1}') RETURNING id`.execute(database.db);
      const id = rows[0]!.id;
      const status = await waitFor(`reservation ${id}`, async () => {
        const { rows: r } = await sql<{ status: string }>`SELECT status FROM reservations WHERE id = ${id}`.execute(database.db);
        return r[0] && ['succeeded', 'failed', 'rejected', 'expired'].includes(r[0].status) ? r[0].status : undefined;
      }, { timeoutMs: 60_000, everyMs: 50 });
      outcomes[status] = (outcomes[status] ?? 0) + 1;
      const booking = sandbox.site.bookings().find((b) => b.date === date && b.time === time);
      if (booking) lagsMs.push(Date.parse(booking.arrivedAt) - Date.parse(booking.releaseAt));
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${status}${booking ? `, fire lag ${lagsMs[lagsMs.length - 1]} ms` : ''}\n`);
    }
  } finally {
    await app.stop();
    await sandbox.stop();
    await database.drop();
  }
  const result = {
    bench: 'fire_lag_daemon',
    fire_lag_ms: stats(lagsMs),
    outcomes,
    rounds: ROUNDS,
    site_skew_ms: SKEW_MS,
    duration_s: Math.round((systemClock.now() - startedMs) / 100) / 10,
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version },
    note: 'one reservation per release; the page is prepared before the release, the daemon fires on the site clock (estimated from Date headers when skewed) with a GET + POST through the page request context',
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/${new Date(systemClock.now()).toISOString().replace(/[:.]/g, '-')}.json`, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
