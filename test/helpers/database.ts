import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { createKysely } from '../../src/db/create-database.js';
import type { DbLogger } from '../../src/db/logger.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Database } from '../../src/db/types.js';

/** A migrated, throw-away database for one test file. */
export interface TestDatabase {
  /** Connection string of the new database (hand it to code under test, e.g. a second pool or a child process). */
  url: string;
  /** Pool of 10 connections with reservd's type parsers. */
  db: Kysely<Database>;
  /** Empties every table except Kysely's migration bookkeeping and restarts the id sequences. */
  truncate(): Promise<void>;
  /** Destroys `db`, terminates leftover connections (yours included) and drops the database. Safe to call twice. */
  drop(): Promise<void>;
}

/** Discards logs (tests that do not inspect them). */
export const silentDbLogger: DbLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** Admin URL: `TEST_DATABASE_ADMIN_URL`, else the CI/dev server's `postgres` database (README "Quick start"). */
export function testAdminUrl(): string {
  return process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testAdminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates `reservd_t_<random>` on the admin server, migrates it to the latest schema and opens a pool on it.
 * Call in `beforeAll`, `truncate()` in `beforeEach`, `drop()` in `afterAll`.
 *
 * @throws when the admin server is unreachable (start it: `pg_ctlcluster $(ls /etc/postgresql) main start`).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `reservd_t_${randomBytes(6).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`));
  const url = new URL(testAdminUrl());
  url.pathname = `/${name}`;
  const db = createKysely(url.toString(), { poolMax: 10, logger: silentDbLogger });
  let dropped: Promise<void> | null = null;
  const drop = (): Promise<void> =>
    (dropped ??= (async () => {
      const terminate = (admin: pg.Client) =>
        admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      // Terminate first: a test that timed out may leave a query waiting on a lock, and destroy() would wait forever.
      await withAdmin(terminate);
      await db.destroy();
      await withAdmin(async (admin) => {
        await terminate(admin);
        await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)}`);
      });
    })());
  try {
    await migrateToLatest(db, silentDbLogger);
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  return {
    url: url.toString(),
    db,
    async truncate() {
      const tables = await sql<{ name: string }>`
        SELECT quote_ident(tablename) AS name FROM pg_tables
        WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_migration%'
      `.execute(db);
      if (tables.rows.length === 0) return;
      await sql.raw(`TRUNCATE ${tables.rows.map((t) => t.name).join(', ')} RESTART IDENTITY CASCADE`).execute(db);
    },
    drop,
  };
}

/**
 * Sets an attempt's intent (`submitted_at`) as a daemon that has since died wrote it: a fixture for
 * reconciliation tests, where the row's lease has expired and the guarded `recordIntent` would refuse.
 */
export async function setAttemptSubmitted(db: Kysely<Database>, attemptId: number, at: Date): Promise<void> {
  await sql`UPDATE booking_attempts SET submitted_at = ${at} WHERE id = ${attemptId}`.execute(db);
}
