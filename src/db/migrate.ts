import { Migrator, NO_MIGRATIONS, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from '../../migrations/index.js';
import type { DbLogger } from './logger.js';

/**
 * Builds a Kysely `Migrator` over the static migration map in `migrations/index.ts` (`FileMigrationProvider`
 * cannot load `.ts` migration files under vitest).
 */
function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

function settle(resultSet: MigrationResultSet, direction: string, logger: DbLogger): string[] {
  const done: string[] = [];
  for (const result of resultSet.results ?? []) {
    if (result.status === 'Success') {
      done.push(result.migrationName);
      logger.info({ migration: result.migrationName, direction }, `Database migration ${result.migrationName} ran (${direction}).`);
    } else if (result.status === 'Error') {
      logger.error({ migration: result.migrationName, direction }, `Database migration ${result.migrationName} failed (${direction}).`);
    }
  }
  if (resultSet.error !== undefined) {
    throw new Error(`Database migration (${direction}) failed: ${String((resultSet.error as Error)?.message ?? resultSet.error)}`, {
      cause: resultSet.error,
    });
  }
  return done;
}

/**
 * Applies every migration not yet applied, in name order, each in its own transaction (Postgres has
 * transactional DDL). Safe to run from several processes at once: Kysely takes a lock table row first.
 *
 * @returns names of the migrations applied now (empty when the schema was already current).
 * @throws Error naming the failing migration, with the database error as `cause`.
 */
export async function migrateToLatest(db: Kysely<any>, logger: DbLogger): Promise<string[]> {
  return settle(await createMigrator(db).migrateToLatest(), 'up', logger);
}

/**
 * Reverts every applied migration (tests and `down` checks only; it drops all reservd tables and data).
 *
 * @returns names of the migrations reverted, newest first.
 * @throws Error naming the failing migration.
 */
export async function migrateAllDown(db: Kysely<any>, logger: DbLogger): Promise<string[]> {
  return settle(await createMigrator(db).migrateTo(NO_MIGRATIONS), 'down', logger);
}

/** Which of the known migrations (`migrations/index.ts`) a database has applied. */
export interface MigrationStatus {
  /** Known migrations applied, in name order. */
  applied: string[];
  /** Known migrations not applied yet, in name order. */
  pending: string[];
}

/** Reads the migration bookkeeping without changing anything (`reservd doctor`). */
export async function migrationStatus(db: Kysely<any>): Promise<MigrationStatus> {
  const infos = await createMigrator(db).getMigrations();
  return { applied: infos.filter((m) => m.executedAt !== undefined).map((m) => m.name), pending: infos.filter((m) => m.executedAt === undefined).map((m) => m.name) };
}
