import { appendFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { createApp, type App } from '../src/app.js';
import { systemClock, type Clock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import type { Database } from '../src/db/types.js';
import { insertUser } from '../src/reservations/index.js';
import { createLogger, createSilentLogger, type Logger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/database.js';
import { startTestSandbox, type TestSandbox, type TestVenueInput } from '../test/helpers/sandbox.js';

/**
 * One benchmark environment: a throw-away Postgres database, the in-process sandbox site (the Acuity
 * look-alike, booked through its page in Chromium) and one reservd daemon (`createApp`), all on 127.0.0.1
 * and all reading one shared "offset clock" (real time shifted), so a part can stand a few seconds before
 * any release instant without sleeping for days.
 */

/** Real time shifted by an offset the benchmark moves; the sandbox and the daemon share it. */
export interface OffsetClock extends Clock {
  /** Shifts the clock so that `now()` reads `atMs` at this moment (time keeps flowing from there). */
  moveTo(atMs: number): void;
}

/** Creates an {@link OffsetClock} reading `startAtMs` now. */
export function createBenchClock(startAtMs: number): OffsetClock {
  let offsetMs = startAtMs - systemClock.now();
  return {
    now: () => systemClock.now() + offsetMs,
    sleep: (durationMs, signal) => systemClock.sleep(durationMs, signal),
    moveTo(atMs) {
      offsetMs = atMs - systemClock.now();
    },
  };
}

/** One daemon log line, parsed, with the bench clock's reading when it was written. */
export interface LogEvent {
  /** Bench clock (true time, not the site's) when the line was written, epoch ms. */
  atMs: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger (info level) whose lines are kept in memory for the benchmark to read. */
export interface LogCapture {
  logger: Logger;
  events: LogEvent[];
  /** Events whose message matches `pattern`. */
  matching(pattern: RegExp): LogEvent[];
}

/** Creates a {@link LogCapture}; each line is stamped with `clock.now()` as it is written. */
export function createLogCapture(clock: Clock): LogCapture {
  const events: LogEvent[] = [];
  const logger = createLogger({
    level: 'info',
    destination: {
      write(line: string) {
        const atMs = clock.now();
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          events.push({ ...parsed, atMs, msg: String(parsed.msg ?? '') });
        } catch {
          events.push({ atMs, msg: line });
        }
      },
    },
  });
  return { logger, events, matching: (pattern) => events.filter((e) => pattern.test(e.msg)) };
}

/** How long a daemon gets to stop by itself before the harness closes its browser under it, ms. */
export const DAEMON_STOP_BUDGET_MS = 10_000;

/** True when `promise` settled within `ms` (it keeps running otherwise). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const settled = await Promise.race([promise.then(() => true, () => true), systemClock.sleep(ms, timer.signal).then(() => false)]);
  timer.abort();
  return settled;
}

/**
 * Stops a daemon within a bounded time: `app.stop()` waits for in-flight bookings, and a booking stuck
 * in the browser (e.g. 100 pages loading on 2 cores) does not see the stop. After
 * {@link DAEMON_STOP_BUDGET_MS} the harness closes the daemon's browser pool, which fails whatever waits on
 * it, and waits once more as long. Logged on stderr.
 */
async function stopApp(app: App): Promise<void> {
  const stopped = app.stop();
  if (await settlesWithin(stopped, DAEMON_STOP_BUDGET_MS)) return stopped;
  process.stderr.write(`[harness] the daemon did not stop within ${DAEMON_STOP_BUDGET_MS / 1000} s; closing its browser\n`);
  await settlesWithin(app.services()?.pool.close() ?? Promise.resolve(), DAEMON_STOP_BUDGET_MS);
  if (await settlesWithin(stopped, DAEMON_STOP_BUDGET_MS)) return stopped;
  throw new Error(`the daemon did not stop within ${(3 * DAEMON_STOP_BUDGET_MS) / 1000} s even with its browser closed`);
}

/** Cleanups of the harnesses still running (see {@link stopAllHarnesses}). */
const running = new Set<() => Promise<void>>();

/**
 * Stops every running harness (daemon, sandbox, database), e.g. on SIGINT/SIGTERM, so an interrupted run
 * leaves no browser or database behind. Safe to call twice.
 */
export async function stopAllHarnesses(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

/** What {@link withHarness} sets up. */
export interface HarnessOptions {
  /** Venues served by the sandbox and configured in the daemon (ids → venue without `site.baseUrl`). */
  venues: Record<string, TestVenueInput>;
  /** Site clock − bench clock, ms. */
  skewMs: number;
  /** The sandbox's per-address limiter (`BENCH_SITE_LIMITER`); on unless false. */
  siteLimiter?: boolean;
  /** The `daemon` section of the daemon's config (defaults apply to the rest). */
  daemon: Record<string, unknown>;
  /** `database.poolMax` of the daemon (default: the config default). */
  dbPoolMax?: number;
  /** The bench clock reads this when the daemon starts, epoch ms. */
  startAtMs: number;
  /** Number of `booking_users` rows to create (`Bench User <i>`, `bench-<i>@example.test`). */
  users: number;
  /**
   * Keep the daemon's info logs in memory (default false: the silent logger). With `BENCH_LOG_FILE` set,
   * every harness captures them and appends them to that file (JSON lines, plus `atMs`) when it stops.
   */
  captureLogs?: boolean;
}

/** A running benchmark environment; see the module comment. */
export interface BenchHarness {
  clock: OffsetClock;
  /** The test database's own pool (the benchmark's queries; the daemon has its own pool). */
  db: Kysely<Database>;
  database: TestDatabase;
  sandbox: TestSandbox;
  app: App;
  /** Site clock − bench clock, ms (as configured). */
  skewMs: number;
  /** Ids of the created users, in order. */
  userIds: number[];
  /** Email of user `i` (how the site's submits and bookings are attributed, besides the booking's hash). */
  userEmail(index: number): string;
  /** The daemon's logs, when captured. */
  logs: LogCapture | null;
}

/** Email of benchmark user `index`. */
export function benchUserEmail(index: number): string {
  return `bench-${index}@example.test`;
}

/**
 * Creates database, sandbox and daemon, runs `body`, and stops all three (in that reverse order, each step
 * attempted) however `body` ends. The clock is put at `startAtMs` before the daemon starts, so anything the
 * daemon does at start (e.g. a site-clock estimate) is never disturbed by a clock jump of the first round.
 */
export async function withHarness<T>(options: HarnessOptions, body: (harness: BenchHarness) => Promise<T>): Promise<T> {
  const clock = createBenchClock(options.startAtMs);
  const cleanups: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const startedMs = systemClock.now();
      for (const cleanup of cleanups.reverse()) {
        await cleanup().catch((err: unknown) => process.stderr.write(`bench: cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`));
      }
      process.stderr.write(`[harness] daemon, sandbox and database stopped in ${((systemClock.now() - startedMs) / 1000).toFixed(1)} s\n`);
    })());
  running.add(stop);
  try {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const sandbox = await startTestSandbox({
      venues: options.venues,
      clock,
      clockSkewMs: options.skewMs,
      switches: { limiter: { enabled: options.siteLimiter ?? true } },
    });
    cleanups.push(() => sandbox.stop());
    const userIds: number[] = [];
    for (let i = 0; i < options.users; i++) {
      userIds.push(await insertUser(database.db, { firstName: 'Bench', lastName: `User ${i}`, email: benchUserEmail(i), phone: `+502 5555 ${String(1000 + i).padStart(4, '0')}` }));
    }
    const config = parseConfig({
      daemon: { stopGraceMs: 5_000, ...options.daemon },
      database: { url: database.url, ...(options.dbPoolMax === undefined ? {} : { poolMax: options.dbPoolMax }) },
      venues: { ...sandbox.config.venues },
    });
    const logFile = process.env.BENCH_LOG_FILE;
    const logs = options.captureLogs || logFile ? createLogCapture(clock) : null;
    if (logs && logFile) cleanups.push(async () => appendFileSync(logFile, logs.events.map((e) => `${JSON.stringify(e)}\n`).join('')));
    const app = createApp({ config, logger: logs?.logger ?? createSilentLogger(), clock });
    cleanups.push(() => stopApp(app));
    clock.moveTo(options.startAtMs);
    await app.start();
    return await body({ clock, db: database.db, database, sandbox, app, skewMs: options.skewMs, userIds, userEmail: benchUserEmail, logs });
  } finally {
    await stop();
    running.delete(stop);
  }
}
