import type { PostgresPool } from 'kysely';
import pg from 'pg';
import { DatabaseConnectionError } from './errors.js';
import type { DbLogger } from './logger.js';
import { reservdPgTypes } from './pg-types.js';

/** Options of {@link createPool}. */
export interface PoolOptions {
  /** Pool size (config `database.poolMax`), named in the `pool_exhausted` message. */
  poolMax: number;
  /** pg's `connectionTimeoutMillis` (config `database.connectionTimeoutMs`), ms. */
  connectionTimeoutMs: number;
  logger: DbLogger;
}

/** pg-pool's message when no client became free within `connectionTimeoutMillis`. */
const POOL_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';

/**
 * pg's pool as Kysely's stock `PostgresDialect` takes it, with reservd's sessions (type parsers
 * `reservdPgTypes`, `TimeZone=UTC`, `application_name` `reservd`) and its three fault rules:
 * - an idle connection that the server or the network closes is logged and dropped by the pool
 *   (`pool.on('error')`: without a listener pg re-throws it and the process dies);
 * - a connection that dies while checked out (between two statements, e.g. `pg_terminate_backend` during a
 *   transaction) emits an `error` that nobody listens to either: it is logged once per connection; the
 *   statement on it fails with a transient error, and the pool discards it when released (pg-pool drops a
 *   client that is no longer queryable);
 * - a checkout that waits `connectionTimeoutMs` for a free connection fails with
 *   `DatabaseConnectionError('pool_exhausted')` naming `database.poolMax` (not transient: waiting longer would
 *   only hide a pool that is too small or a stuck transaction).
 * Nothing is retried here: callers retry what is safe to repeat (`retryTransient`).
 */
export function createPool(url: string, options: PoolOptions): PostgresPool {
  const { poolMax, connectionTimeoutMs, logger } = options;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    connectionTimeoutMillis: connectionTimeoutMs,
    // Names reservd's sessions in pg_stat_activity (operators, and the fault tests, find them by it).
    application_name: 'reservd',
    types: reservdPgTypes,
    options: '-c TimeZone=UTC',
  });
  pool.on('error', (err) => {
    logger.warn({ err }, 'Database: an idle pooled connection was closed by the server or the network; the pool drops it and opens a new one when needed.');
  });
  const checkedOut = new WeakSet<pg.PoolClient>();
  const reported = new WeakSet<pg.PoolClient>();
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      // An idle client's error is the pool's own (`pool.on('error')` above); pg may emit a second one for the
      // same loss (the server's FATAL, then the closed socket).
      if (!checkedOut.has(client) || reported.has(client)) return;
      reported.add(client);
      logger.warn({ err }, 'Database: a connection in use was closed by the server or the network; the statement on it fails and the connection is discarded when released.');
    });
  });
  pool.on('acquire', (client) => checkedOut.add(client));
  pool.on('release', (_err, client) => checkedOut.delete(client));
  return {
    async connect() {
      try {
        return await pool.connect();
      } catch (err) {
        if (!(err instanceof Error) || err.message !== POOL_TIMEOUT_MESSAGE) throw err;
        throw new DatabaseConnectionError(
          'pool_exhausted',
          `Database: no pooled connection became free within ${connectionTimeoutMs} ms (database.connectionTimeoutMs): all database.poolMax = ${poolMax} connections are busy. Raise database.poolMax, or look for a stuck query or a connection that is never released.`,
          { cause: err },
        );
      }
    },
    end: () => pool.end(),
  };
}
