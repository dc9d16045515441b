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
import { isRepeatable } from '../src/db/resilient-driver.js';
import { retryTransient } from '../src/db/retry.js';
import type { Database } from '../src/db/types.js';
import type { BookingExecutor } from '../src/booking/session-port.js';
import { createBookingSessions } from '../src/booking-session/index.js';
import { getReservation, insertReservation, insertUser } from '../src/reservations/index.js';
import { createScheduler, type Scheduler } from '../src/scheduling/daemon.js';
import { runLoop } from '../src/scheduling/run-loop.js';
import { createTestDatabase, testAdminUrl, type TestDatabase } from './helpers/database.js';
import { createFakeExecutor } from './helpers/fake-executor.js';
import { LA_VILLA } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * Issue 4 "Database faults", against the real Postgres: every connection of the test database terminated
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

/**
 * A TCP proxy in front of the real Postgres: `down()` refuses new connections and resets open ones (a
 * stopped server), `up()` listens again on the same port (the server is back).
 */
async function startProxy(target: URL): Promise<{ url: string; down: () => Promise<void>; up: () => Promise<void>; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
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
    client.pipe(upstream).pipe(client);
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
  return { url: url.toString(), down, up: () => listen(port), close: () => (server.listening ? down() : Promise.resolve()) };
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
    // Issued at once, racing the termination messages: a dead connection is retried on a new one.
    const rows = await handle.db.selectFrom('reservations').select('id').execute();
    expect(rows).toEqual([]);
    await waitFor('the idle connections to be reported', () => log.matching('warn', 'idle pooled connection').length >= 1 || undefined, { timeoutMs: 5_000, everyMs: 5 });
    for (const line of log.matching('warn', 'idle pooled connection')) expect(line.err?.code).toBe('57P01');
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);

    // Writes work again too.
    const userId = await insertUser(handle.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' });
    expect(userId).toBeGreaterThan(0);
  });

  it('a statement on a checked-out connection whose backend was killed runs on a new connection', async () => {
    await handle.db.connection().execute(async (conn) => {
      const pid = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn)).rows[0]!.pid;
      expect(await terminateAll(dbName, `AND pid = ${pid}`)).toBe(1);
      // No wait for the termination to arrive: the SELECT may be sent on the dead socket and is then retried.
      const first = await conn.selectNoFrom((eb) => eb.val(1).as('one')).executeTakeFirstOrThrow();
      expect(Number(first.one)).toBe(1);
      const after = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn)).rows[0]!.pid;
      expect(after).not.toBe(pid);

      // Killed while held between statements: the error event is logged (it would crash an unlistened client)
      // and the next statement is sent on a new connection.
      // (The first kill may have been reported the same way, when it arrived before the SELECT was sent.)
      const reportedBefore = log.matching('warn', 'connection in use').length;
      expect(await terminateAll(dbName, `AND pid = ${after}`)).toBe(1);
      await waitFor('the held connection to be reported lost', () => log.matching('warn', 'connection in use').length === reportedBefore + 1 || undefined, { timeoutMs: 5_000, everyMs: 5 });
      const again = await conn.selectNoFrom((eb) => eb.val(2).as('two')).executeTakeFirstOrThrow();
      expect(Number(again.two)).toBe(2);
    });
    expect(log.matching('warn', 'connection lost or refused').length).toBeLessThanOrEqual(1);
  });

  it('a transaction whose connection dies fails with a clear error (not retried halfway) and the process survives', async () => {
    const failed = handle.db
      .transaction()
      .execute(async (trx) => {
        const pid = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)).rows[0]!.pid;
        await terminateAll(dbName, `AND pid = ${pid}`);
        await waitFor('the held connection to be reported lost', () => log.matching('warn', 'connection in use').length === 1 || undefined, { timeoutMs: 5_000, everyMs: 5 });
        await trx.selectFrom('reservations').select('id').execute();
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    const err = await failed;
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect(err).toMatchObject({ code: 'unavailable', retryable: true, message: expect.stringContaining('may or may not have been applied') });
    expect(isTransientDbError(err)).toBe(true);
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
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let db: Kysely<Database>;
  let log: ReturnType<typeof createRecordingLogger>;

  beforeEach(async () => {
    proxy = await startProxy(new URL(t.url));
    log = createRecordingLogger();
    db = createKysely(proxy.url, { poolMax: 3, connectionTimeoutMs: 1_000, retryMs: 400, logger: log.logger });
    await db.selectFrom('reservations').select('id').execute();
  });
  afterEach(async () => {
    await db.destroy();
    await proxy.close();
  });

  it('statements fail with a transient error after retryMs, the outage is logged once, and work resumes', async () => {
    await proxy.down();
    for (let i = 0; i < 3; i++) {
      const err = await db.selectFrom('reservations').select('id').execute().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'unavailable', retryable: true });
      expect(isTransientDbError(err)).toBe(true);
    }
    expect(log.matching('warn', 'Database: connection lost or refused')).toHaveLength(1);

    await proxy.up();
    expect(await db.selectFrom('reservations').select('id').execute()).toEqual([]);
    expect(log.matching('info', 'Database: reachable again')).toHaveLength(1);
  });

  it('a statement waiting in its retry succeeds once the server is back within retryMs', async () => {
    const patient = createKysely(proxy.url, { poolMax: 2, connectionTimeoutMs: 1_000, retryMs: 20_000, logger: log.logger });
    try {
      await proxy.down();
      const query = patient.selectFrom('reservations').select('id').execute();
      await waitFor('the statement to be retrying', () => log.matching('warn', 'connection lost or refused').length > 0 || undefined, { timeoutMs: 5_000, everyMs: 5 });
      await proxy.up();
      expect(await query).toEqual([]);
    } finally {
      await patient.destroy();
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
      expect(log.matching('warn', 'loop faults: tick failed, the database is unavailable')).toHaveLength(1);
      expect(log.matching('warn', 'Database: connection lost or refused')).toHaveLength(1);
      expect(log.matching('error', 'loop faults')).toEqual([]);
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

describe('which statements the driver repeats after a lost connection', () => {
  it('SELECTs and guarded UPDATEs only; never INSERT, DELETE, raw SQL or an UPDATE without WHERE', () => {
    const db = t.db;
    expect(isRepeatable(db.selectFrom('reservations').selectAll().compile().query)).toBe(true);
    expect(isRepeatable(db.updateTable('reservations').set({ status: 'scheduled' }).where('status', '=', 'claimed').compile().query)).toBe(true);
    expect(isRepeatable(db.updateTable('reservations').set({ status: 'scheduled' }).compile().query)).toBe(false);
    expect(isRepeatable(db.insertInto('booking_users').values({ first_name: 'a', last_name: 'b', email: 'c@d.e', phone: '1' }).compile().query)).toBe(false);
    expect(isRepeatable(db.deleteFrom('reservations').where('id', '=', '1').compile().query)).toBe(false);
    expect(isRepeatable(sql`SELECT 1`.compile(db).query)).toBe(false);
    const withInsert = db
      .with('made', (qb) => qb.insertInto('booking_users').values({ first_name: 'a', last_name: 'b', email: 'c@d.e', phone: '1' }).returning('id'))
      .selectFrom('made')
      .selectAll()
      .compile().query;
    expect(isRepeatable(withInsert)).toBe(false);
  });

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
  });
});

describe('a booking result recorded while the database is down', () => {
  it('is retried until the database is back, then the row is succeeded', async () => {
    await t.truncate();
    const proxy = await startProxy(new URL(t.url));
    const log = createRecordingLogger();
    // A short driver retry, so the booking job's own (longer) retry of the outcome is what carries it.
    const db = createKysely(proxy.url, { poolMax: 2, connectionTimeoutMs: 1_000, retryMs: 200, logger: log.logger });
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

    // Five seconds before the release every connection of the database dies (issue 4, test 3).
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

