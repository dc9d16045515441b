import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Clock } from '../clock.js';
import type { DatabaseConfig } from '../config/schema.js';
import { startEmbeddedServer, type EmbeddedServer } from './embedded-server.js';
import { startListener, type Listener } from './listen.js';
import type { DbLogger } from './logger.js';
import { reservdPgTypes } from './pg-types.js';
import type { Database } from './types.js';

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
  /** Pool size (default 10). */
  poolMax?: number;
  logger: DbLogger;
}

/**
 * Builds a `Kysely<Database>` over a new pg pool with reservd's type parsers (`reservdPgTypes`) and sessions
 * in `TimeZone=UTC` (instants are exact in any zone; UTC only makes server-side text deterministic).
 * Idle-connection errors are logged, never thrown: without a `pool.on('error')` handler a dropped idle
 * connection kills the process (STACK.md). `db.destroy()` ends the pool.
 */
export function createKysely(url: string, options: KyselyOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    types: reservdPgTypes,
    options: '-c TimeZone=UTC',
  });
  pool.on('error', (err) => {
    options.logger.error({ err }, 'Database: an idle pooled connection failed; the pool replaces it.');
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * Opens the database of `config`: `config.url` when set, otherwise an embedded PostgreSQL in
 * `config.embeddedDataDir` on 127.0.0.1:`config.embeddedPort` (initialised on first use). Does not migrate
 * (call `migrateToLatest`). Checks the connection once so a bad URL fails here, not at the first query.
 *
 * @param options.clock timer source for LISTEN reconnect backoff (default the system clock).
 * @throws DatabaseStartError when the embedded server cannot start (e.g. `data_dir_in_use`); pg's error when
 *   the URL cannot be reached.
 */
export async function openDatabase(config: DatabaseConfig, logger: DbLogger, options: { clock?: Clock } = {}): Promise<DatabaseHandle> {
  let server: EmbeddedServer | null = null;
  if (config.url === null) {
    server = await startEmbeddedServer({ dataDir: config.embeddedDataDir, port: config.embeddedPort, logger });
  }
  const url = server?.url ?? (config.url as string);
  const db = createKysely(url, { poolMax: config.poolMax, logger });
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
      const listener = await startListener({ url, channel, onNotify, logger, ...(options.clock ? { clock: options.clock } : {}) });
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
