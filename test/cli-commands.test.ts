import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dbUrlCommand, locateDatabase } from '../src/commands/database.js';
import type { Output } from '../src/commands/output.js';
import { addReservation, cancelCommand, listCommand, showCommand, type CommandContext } from '../src/commands/reservations.js';
import type { DatabaseConfig } from '../src/config/schema.js';
import { ContractError } from '../src/contracts/index.js';
import type { ReservationStatus } from '../src/db/types.js';
import { openDatabase, waitForRunningServer } from '../src/db/create-database.js';
import { createManualClock } from '../src/clock.js';
import { DatabaseConstraintError } from '../src/db/errors.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createImmediateReservation, getReservation, insertReservation, insertUser, startAttempt } from '../src/reservations/index.js';
import { validatePendingOnce } from '../src/scheduling/validate-pending.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { LA_VILLA, testConfig } from './helpers/sandbox.js';

/**
 * The CLI's data commands (`add`, `list`, `show`, `cancel`, `db-url`) on a real database: the handlers called
 * in-process with a captured output, a few spawned `reservd` processes (exit codes, stderr), and the embedded
 * server a daemon holds being attached to instead of refused.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const config = testConfig('http://127.0.0.1:1', { 'la-villa': LA_VILLA, other: LA_VILLA });
/** Two weeks before the slots below (la-villa, −06:00: 2027-07-15 07:00 = 13:00Z, released 48 h before). */
const NOW = new Date('2027-07-01T00:00:00.000Z');
const ANA = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+1 555 0100' };
const BEN = { firstName: 'Ben', lastName: 'Ortiz', email: 'ben@example.test', phone: '+1 555 0101' };

let database: TestDatabase;
let captured: { out: string; err: string };
let ctx: CommandContext;

function capture(): Output {
  captured = { out: '', err: '' };
  return { write: (text) => void (captured.out += text), error: (text) => void (captured.err += text) };
}

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  ctx = { db: database.db, config, now: NOW, out: capture() };
});

const slot = (over: Partial<{ venue: string; targetDate: string; targetTime: string; courts: number[] }> = {}) => ({
  venue: 'la-villa',
  targetDate: '2027-07-15',
  targetTime: '07:00',
  courts: [2, 1],
  ...over,
});

describe('add', () => {
  it('inserts a pending queue row for a found-or-created person and says what happens next', async () => {
    expect(await addReservation(ctx, { user: ANA, ...slot() }, false)).toBe(0);
    expect(captured.out).toBe(
      'reservation 1 queued (pending): la-villa 2027-07-15 07:00, courts 2,1.\n' +
        'A running daemon (reservd run) serving la-villa validates it, schedules it for the release at 2027-07-13T13:00:00.000Z and books it then; follow it with: reservd show 1\n',
    );
    ctx.out = capture();
    expect(await addReservation(ctx, { user: { ...ANA, email: ' ANA@example.test ' }, ...slot({ targetTime: '09:00', courts: [3] }) }, true)).toBe(0);
    expect(JSON.parse(captured.out)).toEqual({
      id: 2,
      status: 'pending',
      venue: 'la-villa',
      target_date: '2027-07-15',
      target_time: '09:00',
      courts: [3],
      user_id: 1,
      release_at: '2027-07-13T15:00:00.000Z',
      slot_at: '2027-07-15T15:00:00.000Z',
    });
    const row = await getReservation(database.db, 2);
    expect(row).toMatchObject({ status: 'pending', source: 'queue', user_id: 1, courts: [3], release_at: null, slot_at: null });
    const users = await database.db.selectFrom('booking_users').select('id').execute();
    expect(users).toHaveLength(1);
  });

  it('refuses an input the daemon would reject, with the same field and text, and inserts nothing', async () => {
    await expect(addReservation(ctx, { user: ANA, ...slot({ targetTime: '07:30' }) }, false)).rejects.toThrow(
      new ContractError('target_time', 'target_time: "07:30" is not a slot start at venue "la-villa" on 2027-07-15 (slots start every 60 min from 07:00 to 21:00)'),
    );
    await expect(addReservation(ctx, { user: ANA, ...slot({ courts: [9] }) }, false)).rejects.toMatchObject({ code: 'invalid_request', field: 'courts' });
    expect(await database.db.selectFrom('reservations').select('id').execute()).toEqual([]);
    expect(captured.out).toBe('');
  });

  it("--telegram-chat-id stores the person's chat id (a found person's too); a malformed one is refused before any write", async () => {
    const chatOf = async () => (await database.db.selectFrom('booking_users').select(['id', 'telegram_chat_id']).orderBy('id').execute()).map((u) => [Number(u.id), u.telegram_chat_id]);
    expect(await addReservation(ctx, { user: ANA, ...slot() }, false)).toBe(0);
    expect(await chatOf()).toEqual([[1, null]]);
    expect(await addReservation(ctx, { user: ANA, ...slot({ targetTime: '08:00' }) }, false, '123456789')).toBe(0);
    expect(await addReservation(ctx, { user: BEN, ...slot({ targetTime: '09:00' }) }, false, '-1001234567890')).toBe(0);
    expect(await chatOf()).toEqual([[1, '123456789'], [2, '-1001234567890']]);
    await expect(addReservation(ctx, { user: ANA, ...slot({ targetTime: '10:00' }) }, false, '12 34')).rejects.toMatchObject({
      code: 'invalid_request',
      message: '--telegram-chat-id: "12 34" is not a Telegram chat id (an integer such as 123456789, or @channelname)',
    });
    expect(await chatOf()).toEqual([[1, '123456789'], [2, '-1001234567890']]);
    expect((await database.db.selectFrom('reservations').select('id').execute()).length).toBe(3);
  });
});

describe('list', () => {
  beforeEach(async () => {
    const ana = await insertUser(database.db, ANA);
    const ben = await insertUser(database.db, BEN);
    await insertReservation(database.db, { userId: ana, ...slot() });
    await insertReservation(database.db, { userId: ben, ...slot({ targetDate: '2027-07-16', venue: 'other', courts: [1] }) });
    await insertReservation(database.db, { userId: ben, ...slot({ targetDate: '2027-07-14', targetTime: '08:00', courts: [3] }), status: 'cancelled' });
  });

  it('prints a table by slot, all rows unfiltered', async () => {
    expect(await listCommand(ctx, {}, false)).toBe(0);
    expect(captured.out).toBe(
      [
        'id  status     venue     date        time   courts  person                        release_at  reason',
        '--  ---------  --------  ----------  -----  ------  ----------------------------  ----------  ------',
        '3   cancelled  la-villa  2027-07-14  08:00  3       Ben Ortiz <ben@example.test>',
        '1   pending    la-villa  2027-07-15  07:00  2,1     Ana López <ana@example.test>',
        '2   pending    other     2027-07-16  07:00  1       Ben Ortiz <ben@example.test>',
        '',
      ].join('\n'),
    );
  });

  it('filters by status, venue, dates and e-mail; --json gives the rows', async () => {
    const ids = async (filter: Parameters<typeof listCommand>[1]): Promise<number[]> => {
      ctx.out = capture();
      expect(await listCommand(ctx, filter, true)).toBe(0);
      return (JSON.parse(captured.out) as Array<{ id: number }>).map((r) => r.id);
    };
    expect(await ids({ status: ['pending'] })).toEqual([1, 2]);
    expect(await ids({ status: ['cancelled', 'failed'] })).toEqual([3]);
    expect(await ids({ venue: 'other' })).toEqual([2]);
    expect(await ids({ from: '2027-07-15' })).toEqual([1, 2]);
    expect(await ids({ from: '2027-07-14', to: '2027-07-15' })).toEqual([3, 1]);
    expect(await ids({ email: 'BEN@example.test' })).toEqual([3, 2]);
    expect(await ids({ email: 'ben@example.test', status: ['pending'] })).toEqual([2]);
    ctx.out = capture();
    await listCommand(ctx, { venue: 'none' }, false);
    expect(captured.out).toBe('no reservations match\n');
  });

  it('names the flag of a bad filter', async () => {
    await expect(listCommand(ctx, { status: ['booked' as ReservationStatus] }, false)).rejects.toThrow(
      '--status: "booked" is not a status (one of pending, scheduled, claimed, booking, succeeded, failed, rejected, expired, cancelled, needs_attention)',
    );
    await expect(listCommand(ctx, { to: '15/07/2027' }, false)).rejects.toThrow('--to: "15/07/2027" is not a date written YYYY-MM-DD');
    await expect(listCommand(ctx, { limit: 0 }, false)).rejects.toThrow('--limit: must be a whole number from 1 to 100000 (got 0)');
    ctx.out = capture();
    await listCommand(ctx, { limit: 1 }, true);
    expect((JSON.parse(captured.out) as Array<{ id: number }>).map((r) => r.id)).toEqual([3]);
  });
});

describe('show and the status timeline (reservation_events)', () => {
  it('records every status change in the same transaction, daemon and hand edits alike, with its actor', async () => {
    const userId = await insertUser(database.db, ANA);
    const id = await insertReservation(database.db, { userId, ...slot(), now: NOW });
    const validatedAt = new Date(NOW.getTime() + 60_000);
    await validatePendingOnce({ db: database.db, config, now: validatedAt, logger: createSilentLogger() });
    const claimedAt = new Date('2027-07-13T12:59:00.000Z');
    await sql`UPDATE reservations SET status = 'claimed', lease_owner = 'daemon-a', lease_expires_at = ${new Date(claimedAt.getTime() + 60_000)}, updated_at = ${claimedAt} WHERE id = ${id}`.execute(database.db);
    await startAttempt(database.db, { reservationId: id, court: 2, daemonId: 'daemon-a', browserId: null, flow: 'acuity-spa', now: claimedAt });
    // A status edit that does not change the status records nothing.
    await sql`UPDATE reservations SET status = 'claimed' WHERE id = ${id}`.execute(database.db);
    ctx.out = capture();
    expect(await cancelCommand(ctx, id, false)).toBe(0);
    expect(captured.out).toBe('reservation 1 cancelled (was claimed).\n');

    ctx.out = capture();
    expect(await showCommand(ctx, id, true)).toBe(0);
    const shown = JSON.parse(captured.out) as { reservation: { status: string }; attempts: Array<{ court: number; daemon_id: string }>; events: Array<Record<string, unknown>> };
    expect(shown.reservation.status).toBe('cancelled');
    expect(shown.attempts.map((a) => [a.court, a.daemon_id])).toEqual([[2, 'daemon-a']]);
    expect(shown.events.map(({ at, from_status, to_status, actor }) => ({ at, from_status, to_status, actor }))).toEqual([
      { at: NOW.toISOString(), from_status: null, to_status: 'pending', actor: null },
      { at: validatedAt.toISOString(), from_status: 'pending', to_status: 'scheduled', actor: null },
      { at: claimedAt.toISOString(), from_status: 'scheduled', to_status: 'claimed', actor: 'daemon-a' },
      { at: expect.any(String), from_status: 'claimed', to_status: 'cancelled', actor: 'cli' },
    ]);

    ctx.out = capture();
    expect(await showCommand(ctx, id, false)).toBe(0);
    expect(captured.out).toContain('status             cancelled\n');
    expect(captured.out).toContain('\ntimeline:\nat                        from       to         actor     reason\n');
    expect(captured.out).toContain(`${claimedAt.toISOString()}  scheduled  claimed    daemon-a\n`);
  });

  it('keeps the reason a rejection wrote', async () => {
    const userId = await insertUser(database.db, ANA);
    const id = await insertReservation(database.db, { userId, ...slot({ targetTime: '07:30' }), now: NOW });
    await validatePendingOnce({ db: database.db, config, now: NOW, logger: createSilentLogger() });
    const events = await database.db.selectFrom('reservation_events').select(['to_status', 'reason']).where('reservation_id', '=', String(id)).orderBy('id').execute();
    expect(events).toEqual([
      { to_status: 'pending', reason: null },
      { to_status: 'rejected', reason: 'target_time: "07:30" is not a slot start at venue "la-villa" on 2027-07-15 (slots start every 60 min from 07:00 to 21:00)' },
    ]);
  });

  it("names book-now's owner as the actor of its row, and a rolled-back change leaves no event", async () => {
    const created = await createImmediateReservation(database.db, {
      user: ANA,
      ...slot(),
      releaseAt: new Date('2027-07-13T13:00:00.000Z'),
      slotAt: new Date('2027-07-15T13:00:00.000Z'),
      owner: 'host:42:book-now',
      now: NOW,
      leaseMs: 60_000,
    });
    const id = created;
    await expect(
      database.db.transaction().execute(async (tx) => {
        await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${id}`.execute(tx);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const events = await database.db.selectFrom('reservation_events').select(['at', 'from_status', 'to_status', 'actor']).where('reservation_id', '=', String(id)).orderBy('id').execute();
    expect(events).toEqual([{ at: NOW, from_status: null, to_status: 'booking', actor: 'host:42:book-now' }]);
  });

  it('exits 66 for an id no row has', async () => {
    expect(await showCommand(ctx, 42, false)).toBe(66);
    expect(captured).toEqual({ out: '', err: 'reservd: reservation 42 does not exist\n' });
  });
});

describe('cancel', () => {
  it("refuses a booked row with its guard's sentence (exit 65 in main), leaves a final row alone, 66 for no row", async () => {
    const userId = await insertUser(database.db, ANA);
    const booked = await database.db
      .insertInto('reservations')
      .values({ user_id: userId, venue: 'la-villa', target_date: '2027-07-15', target_time: '07:00', courts: [2], status: 'succeeded', booked_court: 2, confirmation_code: 'ABC123' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const id = Number(booked.id);
    const refused = cancelCommand(ctx, id, false);
    await expect(refused).rejects.toBeInstanceOf(DatabaseConstraintError);
    await expect(refused).rejects.toMatchObject({
      code: 'invalid_request',
      field: 'status',
      message: `status: reservation ${id} is booked on the site (court 2, code ABC123) and its row is the record of it; changing the row would not cancel the booking there: cancel it with the site's change/cancel link (result->'metadata'->>'confirmation_url')`,
    });
    expect((await getReservation(database.db, id))?.status).toBe('succeeded');

    const rejected = await insertReservation(database.db, { userId, ...slot({ targetTime: '08:00' }), status: 'rejected' });
    expect(await cancelCommand(ctx, rejected, true)).toBe(0);
    expect(JSON.parse(captured.out)).toEqual({ id: rejected, outcome: 'unchanged', previous_status: 'rejected', status: 'rejected' });
    ctx.out = capture();
    expect(await cancelCommand(ctx, 999, false)).toBe(66);
    expect(captured.err).toBe('reservd: reservation 999 does not exist\n');
  });
});

describe('db-url', () => {
  it("prints the configured URL with its password redacted unless asked", async () => {
    const dbConfig: DatabaseConfig = { ...config.database, url: 'postgres://app:s3cret@db.example.test:5432/reservd' };
    expect(await dbUrlCommand(dbConfig, capture(), { showPassword: false, json: false })).toBe(0);
    expect(captured.out).toBe('postgres://app:***@db.example.test:5432/reservd\n');
    expect(await dbUrlCommand(dbConfig, capture(), { showPassword: true, json: true })).toBe(0);
    expect(JSON.parse(captured.out)).toEqual({ url: 'postgres://app:s3cret@db.example.test:5432/reservd', embedded: false, running: null });
    const missing: DatabaseConfig = { ...config.database, url: null, embeddedDataDir: path.join(tmpdir(), 'reservd-no-such-dir') };
    expect(await dbUrlCommand(missing, capture(), { showPassword: false, json: false })).toBe(69);
    expect(captured.err).toContain('has not been created yet');
  });
});

/** Runs `node --import tsx src/main.ts <args>` to its end. */
function runReservd(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env: { ...process.env, RESERVD_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describe('spawned reservd', () => {
  let dir: string;
  let configPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'reservd-cli-'));
    // As root, the embedded PostgreSQL runs as "postgres", which must be able to enter the directory.
    await chmod(dir, 0o755);
    configPath = path.join(dir, 'reservd.json');
    const venue = { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } };
    await writeFile(configPath, JSON.stringify({ venues: { 'la-villa': venue }, database: { embeddedDataDir: path.join(dir, 'pgdata'), embeddedPort: await freePort() } }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('add with a bad --time exits 65 naming the flag; cancel of a booked row 65 with its guard sentence; show of no row 66', { timeout: 60_000 }, async () => {
    const bad = await runReservd(
      ['add', '--config', configPath, '--venue', 'la-villa', '--date', '2027-07-15', '--time', '25:00', '--courts', '2', '--first-name', 'Ana', '--last-name', 'López', '--email', 'ana@example.test', '--phone', '+1 555 0100'],
      { DATABASE_URL: database.url },
    );
    expect(bad.code).toBe(65);
    expect(bad.stderr).toContain('reservd: target_time (--time): "25:00" is not a 24-hour HH:MM time\n');
    const userId = await insertUser(database.db, ANA);
    await database.db
      .insertInto('reservations')
      .values({ user_id: userId, venue: 'la-villa', target_date: '2027-07-15', target_time: '07:00', courts: [2], status: 'succeeded', booked_court: 2, confirmation_code: 'ABC123' })
      .execute();
    const booked = await runReservd(['cancel', '1', '--config', configPath], { DATABASE_URL: database.url });
    expect(booked.code).toBe(65);
    expect(booked.stderr).toContain("reservd: status: reservation 1 is booked on the site (court 2, code ABC123) and its row is the record of it; changing the row would not cancel the booking there: cancel it with the site's change/cancel link (result->'metadata'->>'confirmation_url')\n");
    const missing = await runReservd(['show', '7', '--config', configPath], { DATABASE_URL: database.url });
    expect(missing).toMatchObject({ code: 66, stdout: '' });
    expect(missing.stderr).toContain('reservd: reservation 7 does not exist\n');
  });

  it('psql runs on the database in use, its arguments after --, and returns its exit code', { timeout: 60_000 }, async () => {
    const userId = await insertUser(database.db, ANA);
    await insertReservation(database.db, { userId, ...slot() });
    const counted = await runReservd(['psql', '--config', configPath, '--', '-Atc', 'SELECT status, count(*) FROM reservations GROUP BY 1'], { DATABASE_URL: database.url });
    expect(counted).toMatchObject({ code: 0, stdout: 'pending|1\n' });
    const failed = await runReservd(['psql', '--config', configPath, '--', '-Atc', 'SELECT * FROM no_such_table', '-v', 'ON_ERROR_STOP=1'], { DATABASE_URL: database.url });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('relation "no_such_table" does not exist');
  });

  it('a command that lost the start race to a daemon waits for its server and attaches (postmaster.pid written late)', async () => {
    const dataDir = path.join(dir, 'late-pgdata');
    await mkdir(dataDir, { recursive: true });
    const clock = createManualClock(Date.parse('2026-12-02T12:00:00Z'));
    let found: Awaited<ReturnType<typeof waitForRunningServer>> | undefined;
    const waiting = waitForRunningServer(dataDir, clock).then((r) => (found = r));
    const step = async (): Promise<void> => {
      // Wait (on events) until the poll is parked in its sleep, then move the clock past it.
      while (clock.pendingSleeps() === 0 && found === undefined) await new Promise((done) => setImmediate(done));
      clock.advance(200);
    };
    await step();
    await step();
    expect(found).toBeUndefined();
    // What a starting server leaves: postmaster.pid (pid, data dir, start time, port, ...) and reservd's password file.
    await writeFile(path.join(dataDir, 'postmaster.pid'), `${process.pid}\n${dataDir}\n1764676800\n54777\n/tmp\n127.0.0.1\n`);
    await writeFile(path.join(dataDir, 'reservd-password'), 's3cret-Pw\n', { mode: 0o600 });
    for (let i = 0; i < 5 && found === undefined; i += 1) await step();
    await waiting;
    expect(found).toEqual({ url: 'postgres://postgres:s3cret-Pw@127.0.0.1:54777/reservd', pid: process.pid, port: 54777 });
  });

  it('waiting for a daemon that never comes gives up after 10 s of its clock', async () => {
    const dataDir = path.join(dir, 'never-pgdata');
    await mkdir(dataDir, { recursive: true });
    const clock = createManualClock(Date.parse('2026-12-02T12:00:00Z'));
    let found: Awaited<ReturnType<typeof waitForRunningServer>> | undefined;
    const waiting = waitForRunningServer(dataDir, clock).then((r) => (found = r));
    for (let i = 0; i < 60 && found === undefined; i += 1) {
      while (clock.pendingSleeps() === 0 && found === undefined) await new Promise((done) => setImmediate(done));
      clock.advance(200);
    }
    await waiting;
    expect(found).toBeNull();
    expect(clock.now() - Date.parse('2026-12-02T12:00:00Z')).toBeGreaterThanOrEqual(10_000);
  });

  it("talks to the embedded server a daemon holds instead of failing data_dir_in_use", { timeout: 90_000 }, async () => {
    const written = JSON.parse(await readFile(configPath, 'utf8')) as { database: { embeddedPort: number } };
    const dbConfig: DatabaseConfig = { ...config.database, url: null, embeddedDataDir: path.join(dir, 'pgdata'), embeddedPort: written.database.embeddedPort };
    const holder = await openDatabase(dbConfig, silentDbLogger);
    try {
      await migrateToLatest(holder.db, silentDbLogger);
      const userId = await insertUser(holder.db, ANA);
      await insertReservation(holder.db, { userId, ...slot() });
      const located = await locateDatabase(dbConfig);
      expect(located).toEqual({ url: holder.url, embedded: true, running: true });

      const attached = await openDatabase(dbConfig, silentDbLogger, { attach: true });
      expect({ embedded: attached.embedded, attached: attached.attached, url: attached.url }).toEqual({ embedded: true, attached: true, url: holder.url });
      await attached.close();
      // Closing the attached handle leaves the holder's server running.
      expect((await getReservation(holder.db, 1))?.status).toBe('pending');

      const env = { DATABASE_URL: '' };
      const listed = await runReservd(['list', '--json', '--config', configPath], env);
      expect(listed.code).toBe(0);
      expect((JSON.parse(listed.stdout) as Array<{ id: number; status: string }>).map((r) => [r.id, r.status])).toEqual([[1, 'pending']]);
      // A week ahead of the real clock the spawned process runs on, venue-local.
      const date = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Guatemala' }).format(Date.now() + 7 * 86_400_000);
      const added = await runReservd(['add', '--config', configPath, '--venue', 'la-villa', '--date', date, '--time', '08:00', '--courts', '3', '--first-name', 'Ana', '--last-name', 'López', '--email', 'ana@example.test', '--phone', '+1 555 0100', '--json'], env);
      expect(added.code).toBe(0);
      expect(JSON.parse(added.stdout)).toMatchObject({ id: 2, status: 'pending', venue: 'la-villa', target_date: date, target_time: '08:00', courts: [3], user_id: userId });
      expect((await getReservation(holder.db, 2))?.status).toBe('pending');
      const url = await runReservd(['db-url', '--config', configPath], env);
      expect(url).toMatchObject({ code: 0, stdout: `postgres://postgres:***@127.0.0.1:${dbConfig.embeddedPort}/reservd\n` });
    } finally {
      await holder.close();
    }
  });
});
