import net from 'node:net';
import { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, systemClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import { BookingResult, createBookingMetadata } from '../src/contracts/index.js';
import { createKysely, DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_RETRY_MS, openDatabase, type DatabaseHandle } from '../src/db/create-database.js';
import { DatabaseConnectionError, isTransientDbError } from '../src/db/errors.js';
import { retryTransient } from '../src/db/retry.js';
import type { Database } from '../src/db/types.js';
import type { BookingExecutor } from '../src/booking/session-port.js';
import { createBookingSessions } from '../src/booking-session/index.js';
import { getReservation, insertReservation, insertUser, listAttempts } from '../src/reservations/index.js';
import { createScheduler, type Scheduler } from '../src/scheduling/daemon.js';
import { runLoop } from '../src/scheduling/run-loop.js';
import { createTestDatabase, testAdminUrl, type TestDatabase } from './helpers/database.js';
import { createFakeExecutor } from './helpers/fake-executor.js';
import { LA_VILLA } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * Database faults, against the real Postgres: every connection of the test database terminated
 * (`pg_terminate_backend`), a Postgres that refuses connections for a while (a TCP proxy in front of the real
 * server is closed and reopened), and an exhausted pool. No fixed sleeps: every wait is on a condition.
 */

interface LogLine {
  level: string;
  msg: string;
  err?: { message?: string; code?: string };
  [key: string]: unknown;
}

/** A pino logger (debug and up) whose JSON lines are kept in `lines`. */
function createRecordingLogger(): { logger: Logger; lines: LogLine[]; matching: (level: string, text: string) => LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger = pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, stream);
  return { logger, lines, matching: (level, text) => lines.filter((l) => l.level === level && l.msg.includes(text)) };
}

/** Terminates every session of `dbName` (from an admin connection to another database). Returns how many. */
async function terminateAll(dbName: string, filter = ''): Promise<number> {
  const admin = new pg.Client({ connectionString: testAdminUrl() });
  await admin.connect();
  try {
    const result = await admin.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ${filter}`, [dbName]);
    return result.rows.filter((r: { ok: boolean }) => r.ok).length;
  } finally {
    await admin.end();
  }
}

/** Sessions of `dbName` with application_name `app`. */
async function sessionCount(dbName: string, app: string): Promise<number> {
  const admin = new pg.Client({ connectionString: testAdminUrl() });
  await admin.connect();
  try {
    const result = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [dbName, app]);
    return (result.rows[0] as { n: number }).n;
  } finally {
    await admin.end();
  }
}

/** The TCP proxy of {@link startProxy}. */
interface Proxy {
  url: string;
  /** Refuses new connections and resets open ones (a stopped server). */
  down: () => Promise<void>;
  /** Listens again on the same port (the server is back). */
  up: () => Promise<void>;
  /**
   * Arms a lost reply: the next statement sent whose bytes match `pattern` reaches the server, which runs it
   * (and commits it: Postgres replies after the commit), but its reply is thrown away and that connection
   * closed, as when the network fails at that instant. Resolves once that happened.
   */
  dropReplyTo: (pattern: RegExp) => Promise<void>;
  close: () => Promise<void>;
}

/** A TCP proxy in front of the real Postgres (see {@link Proxy}). */
async function startProxy(target: URL): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  let armed: { pattern: RegExp; dropped: () => void } | null = null;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    let dropReply: (() => void) | null = null;
    client.on('data', (chunk: Buffer) => {
      if (armed && armed.pattern.test(chunk.toString('latin1'))) {
        dropReply = armed.dropped;
        armed = null;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!dropReply) {
        client.write(chunk);
        return;
      }
      upstream.destroy();
      client.destroy();
      dropReply();
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  const listen = (port: number): Promise<void> => new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  const down = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.resetAndDestroy();
    await closed;
  };
  return {
    url: url.toString(),
    down,
    up: () => listen(port),
    dropReplyTo: (pattern) => new Promise<void>((resolve) => (armed = { pattern, dropped: resolve })),
    close: () => (server.listening ? down() : Promise.resolve()),
  };
}

let t: TestDatabase;
let dbName: string;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => {
  uncaught.push(err);
};

beforeAll(async () => {
  t = await createTestDatabase();
  dbName = new URL(t.url).pathname.slice(1);
  process.on('uncaughtException', onUncaught);
});
afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await t?.drop();
});
afterEach(() => {
  // A pool or client error without a listener would have been an uncaught exception (a crash in production).
  expect(uncaught).toEqual([]);
});

describe('all connections terminated (pg_terminate_backend)', () => {
  let handle: DatabaseHandle;
  let log: ReturnType<typeof createRecordingLogger>;

  beforeEach(async () => {
    log = createRecordingLogger();
    handle = await openDatabase({ url: t.url, embeddedDataDir: 'unused', embeddedPort: 54329, poolMax: 4 }, log.logger);
  });
  afterEach(async () => {
    await handle.close();
  });

  it('logs the idle pool errors, never throws them, and the next query succeeds', async () => {
    // Four idle pooled connections.
    await Promise.all([1, 2, 3, 4].map(() => sql`SELECT pg_sleep(0.05)`.execute(handle.db)));
    expect(await sessionCount(dbName, 'reservd')).toBeGreaterThanOrEqual(4);

    expect(await terminateAll(dbName)).toBeGreaterThanOrEqual(4);
    // Issued at once, racing the termination messages: it may be sent on a dead connection and fail with a
    // transient error (the stock driver retries nothing); retried as the writes that matter are, it succeeds.
    const rows = await retryTransient(() => handle.db.selectFrom('reservations').select('id').execute(), { what: 'racing read', logger: log.logger, budgetMs: 5_000 });
    expect(rows).toEqual([]);
    await waitFor('the idle connections to be reported', () => log.matching('warn', 'idle pooled connection').length >= 3 || undefined, { timeoutMs: 5_000, everyMs: 5 });
    for (const line of log.matching('warn', 'idle pooled connection')) expect(line.err?.code).toBe('57P01');
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);

    // The pool dropped every dead connection: reads and writes work again without any retry.
    expect(await handle.db.selectFrom('reservations').select('id').execute()).toEqual([]);
    const userId = await insertUser(handle.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' });
    expect(userId).toBeGreaterThan(0);
  });

  it('a checked-out connection whose backend is killed: logged (not thrown), its statement fails transient, the pool lends a new one', async () => {
    let killed = 0;
    await handle.db.connection().execute(async (conn) => {
      killed = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn)).rows[0]!.pid;
      // Killed while held between statements: the error event is logged (it would crash an unlistened client).
      expect(await terminateAll(dbName, `AND pid = ${killed}`)).toBe(1);
      await waitFor('the held connection to be reported lost', () => log.matching('warn', 'connection in use').length === 1 || undefined, { timeoutMs: 5_000, everyMs: 5 });
      const err = await conn.selectNoFrom((eb) => eb.val(1).as('one')).execute().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isTransientDbError(err)).toBe(true);
    });
    // Released, it was discarded (no longer queryable): the next statement runs on another backend.
    const after = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(handle.db)).rows[0]!.pid;
    expect(after).not.toBe(killed);
    expect(log.matching('warn', 'connection in use')).toHaveLength(1);
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });

  it('a transaction whose connection dies fails transient (never resumed halfway); retried whole, it commits once', async () => {
    await t.truncate();
    let runs = 0;
    const transaction = (): Promise<number> =>
      handle.db.transaction().execute(async (trx) => {
        runs += 1;
        const userId = await insertUser(trx, { firstName: 'Ana', lastName: 'López', email: `ana${runs}@example.test`, phone: '+502 5555 1234' });
        // Its first two runs lose their connection after the INSERT.
        if (runs <= 2) {
          const pid = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)).rows[0]!.pid;
          await terminateAll(dbName, `AND pid = ${pid}`);
          await waitFor('the held connection to be reported lost', () => log.matching('warn', 'connection in use').length === runs || undefined, { timeoutMs: 5_000, everyMs: 5 });
          await trx.selectFrom('reservations').select('id').execute();
        }
        return userId;
      });
    const err = await transaction().then(
      () => null,
      (e: unknown) => e,
    );
    // Kysely's ROLLBACK on the dead connection fails too, and its error is the one thrown: transient as well.
    expect(isTransientDbError(err)).toBe(true);
    expect(runs).toBe(1);
    // Rolled back by the server: the first run's insert is gone.
    expect(await t.db.selectFrom('booking_users').select('email').execute()).toEqual([]);

    // As reconciliation does: the whole transaction retried, each run on a new connection; only the last commits.
    await retryTransient(transaction, { what: 'whole transaction', logger: log.logger, budgetMs: 5_000 });
    expect(runs).toBe(3);
    expect(await t.db.selectFrom('booking_users').select('email').execute()).toEqual([{ email: 'ana3@example.test' }]);
    expect(await handle.db.selectFrom('reservations').select('id').execute()).toEqual([]);
  });

  it('LISTEN reconnects, asks for a rescan, and receives a NOTIFY sent after the kill', async () => {
    const payloads: string[] = [];
    const listener = await handle.listen('reservd_reservations', (payload) => payloads.push(payload));
    try {
      expect(await sessionCount(dbName, 'reservd-listen')).toBe(1);
      expect(await terminateAll(dbName)).toBeGreaterThanOrEqual(1);
      await waitFor('the rescan request after the reconnect', () => payloads.includes('') || undefined, { timeoutMs: 15_000, everyMs: 5 });
      expect(log.matching('warn', 'LISTEN reservd_reservations: connection lost').length).toBe(1);
      expect(log.matching('info', 'LISTEN reservd_reservations: reconnected').length).toBe(1);

      const notifier = new pg.Client({ connectionString: t.url });
      await notifier.connect();
      try {
        await notifier.query(`SELECT pg_notify('reservd_reservations', 'after-kill')`);
      } finally {
        await notifier.end();
      }
      await waitFor('the NOTIFY sent after the kill', () => payloads.includes('after-kill') || undefined, { timeoutMs: 5_000, everyMs: 5 });
    } finally {
      await listener.close();
    }
  });
});

describe('an exhausted pool', () => {
  it('times out with an error naming database.poolMax instead of hanging', async () => {
    const log = createRecordingLogger();
    const db = createKysely(t.url, { poolMax: 1, connectionTimeoutMs: 300, logger: log.logger });
    try {
      await db.connection().execute(async (held) => {
        await held.selectNoFrom((eb) => eb.val(1).as('one')).execute();
        const startedMs = systemClock.now();
        const err = await db.selectFrom('reservations').select('id').execute().then(
          () => null,
          (e: unknown) => e,
        );
        const waitedMs = systemClock.now() - startedMs;
        expect(err).toBeInstanceOf(DatabaseConnectionError);
        expect(err).toMatchObject({ code: 'pool_exhausted', retryable: false });
        expect((err as Error).message).toContain('database.poolMax = 1');
        expect((err as Error).message).toContain('300 ms');
        expect(isTransientDbError(err)).toBe(false);
        expect(waitedMs).toBeGreaterThanOrEqual(250);
        expect(waitedMs).toBeLessThan(5_000);
      });
      // Released: the pool works again.
      expect(await db.selectFrom('reservations').select('id').execute()).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

describe('Postgres refusing connections for a while (a proxy in front of it is stopped, then started)', () => {
  let proxy: Proxy;
  let db: Kysely<Database>;
  let log: ReturnType<typeof createRecordingLogger>;

  beforeEach(async () => {
    proxy = await startProxy(new URL(t.url));
    log = createRecordingLogger();
    db = createKysely(proxy.url, { poolMax: 3, connectionTimeoutMs: 1_000, logger: log.logger });
    await db.selectFrom('reservations').select('id').execute();
  });
  afterEach(async () => {
    await db.destroy();
    await proxy.close();
  });

  it('statements fail at once with a transient error (no retry in the pool), nothing is thrown unhandled, and work resumes', async () => {
    await proxy.down();
    for (let i = 0; i < 3; i++) {
      const startedMs = systemClock.now();
      const err = await db.selectFrom('reservations').select('id').execute().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isTransientDbError(err)).toBe(true);
      expect(err).not.toBeInstanceOf(DatabaseConnectionError);
      // Refused at once: neither retried nor waiting for the connection timeout.
      expect(systemClock.now() - startedMs).toBeLessThan(900);
    }
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);

    await proxy.up();
    expect(await db.selectFrom('reservations').select('id').execute()).toEqual([]);
  });

  it('a statement under retryTransient succeeds once the server is back within its budget, logged once each way', async () => {
    await proxy.down();
    const query = retryTransient(() => db.selectFrom('reservations').select('id').execute(), { what: 'patient read', logger: log.logger, budgetMs: 20_000 });
    await waitFor('the statement to be retrying', () => log.matching('warn', 'patient read: the database is unavailable').length > 0 || undefined, { timeoutMs: 5_000, everyMs: 5 });
    await proxy.up();
    expect(await query).toEqual([]);
    expect(log.matching('warn', 'patient read')).toHaveLength(1);
    expect(log.matching('info', 'patient read: succeeded after')).toHaveLength(1);
  });

  it('opening the database waits database.retryMs for a server that refuses connections, then fails clearly', async () => {
    await proxy.down();
    const config = { url: proxy.url, embeddedDataDir: 'unused', embeddedPort: 54329, poolMax: 2, connectionTimeoutMs: 1_000 };
    const startedMs = systemClock.now();
    const err = await openDatabase({ ...config, retryMs: 300 }, log.logger).then(
      (h) => h.close().then(() => null),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect(err).toMatchObject({ code: 'unavailable', retryable: true, message: expect.stringContaining('retried for up to database.retryMs = 300 ms') });
    // Retried with backoff (it stops once the next wait would pass the budget), never past the budget by much.
    const waitedMs = systemClock.now() - startedMs;
    expect(waitedMs).toBeGreaterThanOrEqual(100);
    expect(waitedMs).toBeLessThan(2_000);

    // A server that comes up within retryMs is waited for.
    const opening = openDatabase({ ...config, retryMs: 20_000 }, log.logger);
    await waitFor('the start-up wait', () => log.matching('warn', 'Database: connecting at start-up: the database is unavailable').length >= 2 || undefined, { timeoutMs: 5_000, everyMs: 5 });
    await proxy.up();
    const opened = await opening;
    try {
      expect(await opened.db.selectFrom('reservations').select('id').execute()).toEqual([]);
    } finally {
      await opened.close();
    }
  });

  it('a loop ticking on the database logs the outage once (not once per tick) and resumes', async () => {
    const controller = new AbortController();
    let succeeded = 0;
    let wake: () => void = () => {};
    const loop = runLoop({
      name: 'faults',
      clock: systemClock,
      logger: log.logger,
      signal: controller.signal,
      maxBackoffMs: 50,
      onWake: (w) => (wake = w),
      tickOnce: async () => {
        await db.selectFrom('reservations').select('id').execute();
        succeeded += 1;
      },
      nextDelayMs: () => 60_000,
    });
    try {
      await waitFor('the first tick', () => succeeded === 1 || undefined, { everyMs: 5 });
      await proxy.down();
      wake();
      await waitFor('several failed ticks', () => log.matching('debug', 'loop faults: tick failed, the database is still unavailable').length >= 3 || undefined, { timeoutMs: 20_000, everyMs: 5 });
      // One line for the outage, however many ticks fail (the pool's own "Database: ..." lines are one per
      // connection it drops).
      expect(log.matching('warn', 'loop faults: tick failed, the database is unavailable')).toHaveLength(1);
      expect(log.lines.filter((l) => l.level === 'warn' && !l.msg.startsWith('Database: '))).toHaveLength(1);
      expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
      await proxy.up();
      await waitFor('a tick to succeed again', () => succeeded >= 2 || undefined, { timeoutMs: 20_000, everyMs: 5 });
      expect(log.matching('info', 'loop faults: the database is reachable again')).toHaveLength(1);
    } finally {
      controller.abort();
      wake();
      await loop;
    }
  });
});

describe('a write whose reply is lost (it ran on the server; the connection died before the answer came)', () => {
  let proxy: Proxy;
  let db: Kysely<Database>;
  let log: ReturnType<typeof createRecordingLogger>;
  const releaseMs = Date.parse('2027-07-21T15:00:00.000Z');
  const config = parseConfig({ venues: { club: { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } } } });

  beforeEach(async () => {
    await t.truncate();
    proxy = await startProxy(new URL(t.url));
    log = createRecordingLogger();
    db = createKysely(proxy.url, { poolMax: 2, connectionTimeoutMs: 1_000, logger: log.logger });
  });
  afterEach(async () => {
    await db.destroy();
    await proxy.close();
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });

  async function scheduledReservation(): Promise<number> {
    const userId = await insertUser(t.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' });
    return insertReservation(t.db, {
      userId,
      venue: 'club',
      targetDate: '2027-07-23',
      targetTime: '09:00',
      courts: [2],
      status: 'scheduled',
      releaseAt: new Date(releaseMs),
      slotAt: new Date(releaseMs + 48 * 3_600_000),
    });
  }

  function sessionsWith(executor: BookingExecutor, clock = createManualClock(releaseMs)) {
    return createBookingSessions({ db, clock, logger: log.logger, daemonId: 'faults-test', venues: config.venues, leaseMs: 30_000, executor });
  }

  /** Arms a lost reply to the next statement matching `pattern`; `dropped()` tells whether it happened. */
  function loseReplyTo(pattern: RegExp): { dropped: () => boolean } {
    let dropped = false;
    void proxy.dropReplyTo(pattern).then(() => (dropped = true));
    return { dropped: () => dropped };
  }

  /** Runs `write` with the reply to the statement matching `pattern` lost; fails unless that reply was dropped. */
  async function withLostReply<T>(pattern: RegExp, write: () => Promise<T>): Promise<T> {
    const lost = loseReplyTo(pattern);
    const value = await write();
    expect(lost.dropped(), `a reply to ${pattern} was dropped`).toBe(true);
    return value;
  }

  const succeededAfterOneFailure = (what: string): LogLine[] => log.matching('info', `${what}: succeeded after 1 failed try`);

  it('begin fire, the attempt (start, intent, outcome) and the result are each retried once and written exactly once', async () => {
    const id = await scheduledReservation();
    let resultLost: { dropped: () => boolean } | null = null;
    const executor: BookingExecutor = {
      async execute(port) {
        expect(await withLostReply(/update "reservations" set "status"/, () => port.beginFire())).toBe(true);
        // The INSERT's transaction committed: the retry finds that attempt instead of logging a second one.
        const attempt = await withLostReply(/commit\0/, () => port.startAttempt({ court: 2, browserId: 'browser-1', flow: 'fake' }));
        expect(attempt.attempt).toBe(1);
        expect(await withLostReply(/coalesce\(a\.submitted_at/, () => attempt.recordIntent())).toBe(true);
        await withLostReply(/update "booking_attempts" set "finished_at"/, () => attempt.finish({ outcome: 'booked', confirmationCode: 'LOST-REPLIES', error: null, metadata: {} }));
        // The result's reply is lost too: the retry changes no row, and the row shows the write was ours.
        resultLost = loseReplyTo(/"booked_court" = \$2/);
        const metadata = createBookingMetadata(port.request, { executor: 'fake', flow: 'fake', browserId: 'browser-1', attempt: 1 });
        return { kind: 'settled', result: BookingResult.success({ request: port.request, court: 2, confirmationCode: 'LOST-REPLIES', metadata }) };
      },
    };
    const [session] = await sessionsWith(executor).holdDue({ horizonMs: 0, limit: 1 });
    expect(session?.id).toBe(id);
    const { recorded } = await session!.run({ fireAt: new Date(releaseMs), siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(resultLost!.dropped()).toBe(true);
    expect(recorded).toBe(true);

    expect(await getReservation(t.db, id)).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: 'LOST-REPLIES', attempt_count: 1, lease_owner: null });
    const attempts = await listAttempts(t.db, id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, court: 2, outcome: 'booked', confirmation_code: 'LOST-REPLIES' });
    expect(attempts[0]?.submitted_at?.getTime()).toBe(releaseMs);
    for (const what of ['beginning the fire', 'starting an attempt', 'attempt 1: recording the intent', 'attempt 1: recording its outcome', 'recording the result']) {
      expect(succeededAfterOneFailure(`reservation ${id}: ${what}`), what).toHaveLength(1);
    }
  });

  it('a claim is retried without claiming twice; the rows the lost try claimed are claimed again once their lease runs out', async () => {
    const id = await scheduledReservation();
    const clock = createManualClock(releaseMs);
    const interrupted: BookingExecutor = {
      async execute(port) {
        const metadata = createBookingMetadata(port.request, { executor: 'fake', flow: 'fake', browserId: 'none', attempt: 1 });
        return { kind: 'interrupted', result: BookingResult.failure({ request: port.request, outcome: 'interrupted', errors: ['test'], metadata }) };
      },
    };
    const sessions = sessionsWith(interrupted, clock);
    expect(await withLostReply(/skip locked/, () => sessions.holdDue({ horizonMs: 0, limit: 1 }))).toEqual([]);
    expect(succeededAfterOneFailure('claiming due reservations')).toHaveLength(1);
    // Claimed by the lost try, held by no session (so no heartbeat): late, never twice.
    expect(await getReservation(t.db, id)).toMatchObject({ status: 'claimed', lease_owner: 'faults-test' });
    expect(await sessions.holdDue({ horizonMs: 0, limit: 1 })).toEqual([]);

    clock.advance(30_000);
    const [session] = await sessions.holdDue({ horizonMs: 0, limit: 1 });
    expect(session?.id).toBe(id);
    await session!.run({ fireAt: new Date(clock.now()), siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(await getReservation(t.db, id)).toMatchObject({ status: 'scheduled', lease_owner: null });
  });

  it('a reconciliation transaction whose COMMIT reply is lost is retried whole and reported as written', async () => {
    const id = await scheduledReservation();
    let commitLost: { dropped: () => boolean } | null = null;
    const executor: BookingExecutor = {
      async execute(port) {
        expect(await port.beginFire()).toBe(true);
        const attempt = await port.startAttempt({ court: 2, browserId: 'browser-1', flow: 'fake' });
        expect(await attempt.recordIntent()).toBe(true);
        await attempt.finish({ outcome: 'booked', confirmationCode: 'RECONCILED', error: null, metadata: {} });
        // The attempt read the confirmation, then the answer was called unknown: reconciled from the attempt,
        // in one transaction whose COMMIT (the next one sent) loses its reply.
        commitLost = loseReplyTo(/commit\0/);
        const metadata = createBookingMetadata(port.request, { executor: 'fake', flow: 'fake', browserId: 'browser-1', attempt: 1 });
        return { kind: 'unknown', result: BookingResult.failure({ request: port.request, outcome: 'unknown', errors: ['court 2: the answer was lost'], metadata }) };
      },
    };
    const [session] = await sessionsWith(executor).holdDue({ horizonMs: 0, limit: 1 });
    expect(session?.id).toBe(id);
    const { recorded, result } = await session!.run({ fireAt: new Date(releaseMs), siteClockOffsetMs: null, signal: new AbortController().signal });
    expect(commitLost!.dropped()).toBe(true);
    expect(recorded).toBe(true);
    expect(result).toMatchObject({ status: 'success', court: 2, confirmationCode: 'RECONCILED' });
    expect(await getReservation(t.db, id)).toMatchObject({ status: 'succeeded', confirmation_code: 'RECONCILED', lease_owner: null });
    expect(succeededAfterOneFailure(`reservation ${id}: recording its reconciliation`)).toHaveLength(1);
    expect(log.matching('info', `reservation ${id}: reconciled: booked on court 2`)).toHaveLength(1);
  });
});

describe('configuration and retryTransient', () => {
  it('the pool defaults are the config defaults', () => {
    expect(parseConfig({ venues: {} }).database).toMatchObject({ connectionTimeoutMs: DEFAULT_CONNECTION_TIMEOUT_MS, retryMs: DEFAULT_RETRY_MS });
  });

  it('retryTransient repeats transient failures only, and stops at its budget', async () => {
    const log = createRecordingLogger();
    let calls = 0;
    const value = await retryTransient(
      async () => {
        calls += 1;
        if (calls < 3) throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
        return 'ok';
      },
      { what: 'reservation 7: recording the result', logger: log.logger, budgetMs: 5_000 },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    expect(log.matching('warn', 'reservation 7: recording the result: the database is unavailable')).toHaveLength(1);
    expect(log.matching('info', 'succeeded after 2 failed tries')).toHaveLength(1);

    const notTransient = new Error('duplicate key value violates unique constraint');
    await expect(retryTransient(() => Promise.reject(notTransient), { what: 'x', logger: log.logger, budgetMs: 5_000 })).rejects.toBe(notTransient);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    let tries = 0;
    await expect(
      retryTransient(
        () => {
          tries += 1;
          return Promise.reject(refused);
        },
        { what: 'y', logger: log.logger, budgetMs: 300 },
      ),
    ).rejects.toBe(refused);
    expect(tries).toBeGreaterThan(1);
    // Budget 0: one try, no retry.
    tries = 0;
    await expect(
      retryTransient(
        () => {
          tries += 1;
          return Promise.reject(refused);
        },
        { what: 'z', logger: log.logger, budgetMs: 0 },
      ),
    ).rejects.toBe(refused);
    expect(tries).toBe(1);
  });
});

describe('a booking result recorded while the database is down', () => {
  it('is retried until the database is back, then the row is succeeded', async () => {
    await t.truncate();
    const proxy = await startProxy(new URL(t.url));
    const log = createRecordingLogger();
    // The pool retries nothing: the booking job's own retry of the outcome is what carries it.
    const db = createKysely(proxy.url, { poolMax: 2, connectionTimeoutMs: 1_000, logger: log.logger });
    try {
      const user = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' };
      const userId = await insertUser(t.db, user);
      const releaseMs = Date.parse('2027-07-21T15:00:00.000Z');
      const id = await insertReservation(t.db, {
        userId,
        venue: 'club',
        targetDate: '2027-07-23',
        targetTime: '09:00',
        courts: [2],
        status: 'scheduled',
        releaseAt: new Date(releaseMs),
        slotAt: new Date(releaseMs + 48 * 3_600_000),
      });
      const config = parseConfig({ venues: { club: { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } } } });
      // The site took the booking; the database went down while the answer was read.
      const executor: BookingExecutor = {
        async execute(session) {
          expect(await session.beginFire()).toBe(true);
          await proxy.down();
          const metadata = createBookingMetadata(session.request, { executor: 'fake', flow: 'fake', browserId: 'none', attempt: 1 });
          return { kind: 'settled', result: BookingResult.success({ request: session.request, court: 2, confirmationCode: 'FAKE-OUTAGE', metadata }) };
        },
      };
      const clock = createManualClock(releaseMs);
      const sessions = createBookingSessions({ db, clock, logger: log.logger, daemonId: 'faults-test', venues: config.venues, leaseMs: 30_000, executor });
      const [session] = await sessions.holdDue({ horizonMs: 0, limit: 1 });
      expect(session?.id).toBe(id);
      const job = session!.run({ fireAt: new Date(releaseMs), siteClockOffsetMs: null, signal: new AbortController().signal });
      await waitFor('the outcome write to be retrying', () => log.matching('warn', `reservation ${id}: recording the result: the database is unavailable`).length > 0 || undefined, { timeoutMs: 10_000, everyMs: 5 });
      await proxy.up();
      const { recorded } = await job;
      expect(recorded).toBe(true);
      expect(await getReservation(t.db, id)).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: 'FAKE-OUTAGE', lease_owner: null });
      expect(log.matching('info', `reservation ${id}: recording the result: succeeded after`)).toHaveLength(1);
      expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    } finally {
      await db.destroy();
      await proxy.close();
    }
  });
});

describe('the scheduler through a kill of every connection before a release', () => {
  let scheduler: Scheduler | null = null;
  let db: Kysely<Database> | null = null;
  afterEach(async () => {
    await scheduler?.stop(0);
    scheduler = null;
    await db?.destroy();
    db = null;
  });

  it('still fires at the release and records the reservation succeeded', async () => {
    await t.truncate();
    const log = createRecordingLogger();
    db = createKysely(t.url, { poolMax: 4, logger: log.logger });
    const userId = await insertUser(db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' });
    const config = parseConfig({ daemon: { prepareLeadMs: 60_000 }, venues: { club: { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } } } });
    // 2027-07-23 09:00 in Guatemala (−06:00), released 48 h before: 2027-07-21T15:00Z.
    const releaseMs = Date.parse('2027-07-21T15:00:00.000Z');
    const clock = createManualClock(releaseMs - 120_000);
    const executor = createFakeExecutor(clock);
    const running = createScheduler({ db, config, clock, logger: log.logger, executor, daemonId: 'faults-test' });
    scheduler = running;
    const id = await insertReservation(db, { userId, venue: 'club', targetDate: '2027-07-23', targetTime: '09:00', courts: [2, 1] });
    running.start();
    // Parked: the loop, plus per job one heartbeat and one executor wait (as in scheduler-clock.test.ts).
    const settle = (): Promise<unknown> =>
      waitFor('the scheduler to park on the clock', () => (running.inFlight() === executor.parked() && clock.pendingSleeps() === 1 + 2 * running.inFlight()) || undefined, { timeoutMs: 20_000, everyMs: 2 });
    await settle();
    for (let atMs = releaseMs - 60_000; executor.calls.length === 0 && atMs < releaseMs; atMs += 5_000) {
      clock.set(atMs);
      await settle();
    }
    expect(executor.calls).toHaveLength(1);
    expect((await getReservation(db, id))?.status).toBe('claimed');

    // Five seconds before the release every connection of the database dies.
    clock.set(releaseMs - 5_000);
    await settle();
    expect(await terminateAll(dbName)).toBeGreaterThanOrEqual(1);
    clock.set(releaseMs);
    await waitFor('the result to be recorded', async () => ((await getReservation(db!, id))?.status === 'succeeded') || undefined, { timeoutMs: 20_000, everyMs: 10 });
    expect(executor.calls[0]?.submittedAtMs).toBe(releaseMs);
    expect(await getReservation(db, id)).toMatchObject({ status: 'succeeded', booked_court: 2, confirmation_code: `FAKE-${id}` });
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    // The kill was seen (idle connections reported, or a statement retried), and survived.
    expect(log.lines.some((l) => l.level === 'warn' && l.msg.startsWith('Database:'))).toBe(true);
  });
});

