import { Kysely } from 'kysely';
import pg from 'pg';
import { systemClock, type Clock } from '../clock.js';
import type { DatabaseConfig } from '../config/schema.js';
import { startEmbeddedServer, type EmbeddedServer } from './embedded-server.js';
import { startListener, type Listener } from './listen.js';
import type { DbLogger } from './logger.js';
import { reservdPgTypes } from './pg-types.js';
import { createResilientDialect } from './resilient-driver.js';
import type { Database } from './types.js';

/** Default of `database.connectionTimeoutMs` (kept equal to the config schema's). */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
/** Default of `database.retryMs` (kept equal to the config schema's). */
export const DEFAULT_RETRY_MS = 15_000;

/** The open database of one reservd process. */
export interface DatabaseHandle {
  /** Query builder over a pg pool of `poolMax` connections. */
  db: Kysely<Database>;
  /** Connection string in use, password included: log it only through `redactUrl`. */
  url: string;
  /** True when reservd started its own embedded PostgreSQL (no `database.url`/`DATABASE_URL`). */
  embedded: boolean;
  /**
   * LISTENs on `channel` over a dedicated connection that reconnects (with backoff) when lost; after a
   * reconnect `onNotify('')` asks for a rescan. Closed by `close()` too.
   * @throws the connection error when the first connect fails.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Listener>;
  /** Closes listeners, the pool and the embedded server, every step attempted; safe to call twice. */
  close(): Promise<void>;
}

/** Options of {@link createKysely}. */
export interface KyselyOptions {
  /** Pool size (default 10; config `database.poolMax`). */
  poolMax?: number;
  /**
   * How long a checkout waits for a free connection (or a new connection for the server) before it fails,
   * ms (default {@link DEFAULT_CONNECTION_TIMEOUT_MS}; config `database.connectionTimeoutMs`). A full pool then
   * fails with `DatabaseConnectionError('pool_exhausted')` naming `database.poolMax`, instead of hanging.
   */
  connectionTimeoutMs?: number;
  /**
   * How long a statement that lost its connection (or could not get one) is retried when that is safe, ms
   * (default {@link DEFAULT_RETRY_MS}; config `database.retryMs`; 0 disables). See `resilient-driver.ts`.
   */
  retryMs?: number;
  logger: DbLogger;
  /** Timer source for retry backoff (default the system clock: outages happen in real time). */
  clock?: Clock;
}

/**
 * Builds a `Kysely<Database>` over a new pg pool with reservd's type parsers (`reservdPgTypes`) and sessions
 * in `TimeZone=UTC` (instants are exact in any zone; UTC only makes server-side text deterministic).
 * Database faults are survived: idle-connection errors are logged, never thrown (without a
 * `pool.on('error')` handler a dropped idle connection kills the process); statements that lost their
 * connection are retried when safe and a full pool times out with a clear error (`resilient-driver.ts`).
 * `db.destroy()` ends the pool.
 */
export function createKysely(url: string, options: KyselyOptions): Kysely<Database> {
  const poolMax = options.poolMax ?? 10;
  const connectionTimeoutMs = options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
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
    options.logger.warn({ err }, 'Database: an idle pooled connection was closed by the server or the network; the pool drops it and opens a new one when needed.');
  });
  const dialect = createResilientDialect({
    pool,
    poolMax,
    connectionTimeoutMs,
    retryMs: options.retryMs ?? DEFAULT_RETRY_MS,
    logger: options.logger,
    clock: options.clock ?? systemClock,
  });
  return new Kysely<Database>({ dialect });
}

/**
 * Opens the database of `config`: `config.url` when set, otherwise an embedded PostgreSQL in
 * `config.embeddedDataDir` on 127.0.0.1:`config.embeddedPort` (initialised on first use). Does not migrate
 * (call `migrateToLatest`). Checks the connection once so a bad URL fails here, not at the first query.
 *
 * @param options.clock timer source for LISTEN reconnect and statement retry backoff (default the system clock).
 * A server that refuses connections is waited for up to `config.retryMs` (it may still be starting).
 *
 * @throws DatabaseStartError when the embedded server cannot start (e.g. `data_dir_in_use`);
 *   DatabaseConnectionError `unavailable` when the server stays unreachable for `retryMs`; pg's error for a
 *   wrong password or database name.
 */
export async function openDatabase(config: DatabaseConfig, logger: DbLogger, options: { clock?: Clock } = {}): Promise<DatabaseHandle> {
  let server: EmbeddedServer | null = null;
  if (config.url === null) {
    server = await startEmbeddedServer({ dataDir: config.embeddedDataDir, port: config.embeddedPort, logger });
  }
  const url = server?.url ?? (config.url as string);
  const connectionTimeoutMs = config.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
  const db = createKysely(url, {
    poolMax: config.poolMax,
    connectionTimeoutMs,
    retryMs: config.retryMs ?? DEFAULT_RETRY_MS,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  try {
    await db.selectNoFrom((eb) => eb.val(1).as('ok')).execute();
  } catch (err) {
    await db.destroy().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    throw err;
  }

  const listeners = new Set<Listener>();
  let closePromise: Promise<void> | null = null;
  return {
    db,
    url,
    embedded: server !== null,
    async listen(channel, onNotify) {
      if (closePromise) throw new Error(`Database: cannot LISTEN ${channel} after close().`);
      const listener = await startListener({ url, channel, onNotify, logger, connectionTimeoutMs, ...(options.clock ? { clock: options.clock } : {}) });
      listeners.add(listener);
      return {
        close: async () => {
          listeners.delete(listener);
          await listener.close();
        },
      };
    },
    close() {
      closePromise ??= (async () => {
        const steps: Array<() => Promise<void>> = [
          ...[...listeners].map((listener) => () => listener.close()),
          () => db.destroy(),
          ...(server ? [() => (server as EmbeddedServer).stop()] : []),
        ];
        const errors: unknown[] = [];
        for (const step of steps) {
          await step().catch((err: unknown) => errors.push(err));
        }
        listeners.clear();
        if (errors.length > 0) throw new AggregateError(errors, 'Database: closing failed in some steps.');
      })();
      return closePromise;
    },
  };
}
