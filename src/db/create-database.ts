import { Kysely, PostgresDialect } from 'kysely';
import { systemClock, type Clock } from '../clock.js';
import { redactUrl, scrubSecrets } from '../redact.js';
import type { DatabaseConfig } from '../config/schema.js';
import { findRunningEmbeddedServer, startEmbeddedServer, type EmbeddedServer } from './embedded-server.js';
import { DatabaseConnectionError, isTransientDbError } from './errors.js';
import { startListener, type Listener } from './listen.js';
import type { DbLogger } from './logger.js';
import { createPool } from './pool.js';
import { retryTransient } from './retry.js';
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
  /**
   * True when the database is the embedded PostgreSQL (no `database.url`/`DATABASE_URL`): started by this
   * process, or — with `attach` — one a running daemon holds.
   */
  embedded: boolean;
  /** True when `attach` found the embedded server already running (another process started it and stops it). */
  attached: boolean;
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
  logger: DbLogger;
}

/**
 * Builds a `Kysely<Database>` with Kysely's stock `PostgresDialect` over a new pg pool (`pool.ts`): reservd's
 * type parsers (`reservdPgTypes`), sessions in `TimeZone=UTC` (instants are exact in any zone; UTC only makes
 * server-side text deterministic), idle and in-use connection errors logged, never thrown, and a full pool that
 * times out with a clear error. No statement is retried by the pool: a lost or refused connection fails the
 * statement with a transient error (`isTransientDbError`), and the writes that must survive it retry
 * explicitly (`retryTransient`, `retry.ts`). `db.destroy()` ends the pool.
 */
export function createKysely(url: string, options: KyselyOptions): Kysely<Database> {
  const pool = createPool(url, {
    poolMax: options.poolMax ?? 10,
    connectionTimeoutMs: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    logger: options.logger,
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** How long an attaching command waits for a server another process is starting on the same data directory, ms. */
const ATTACH_WAIT_MS = 10_000;
const ATTACH_POLL_MS = 200;

/**
 * Polls `findRunningEmbeddedServer` for up to {@link ATTACH_WAIT_MS}: the other process's server writes its
 * `postmaster.pid` (port line included) and reservd its password file while it starts.
 * @returns the running server, or null when none appeared within the wait.
 */
export async function waitForRunningServer(dataDir: string, clock: Clock): Promise<Awaited<ReturnType<typeof findRunningEmbeddedServer>>> {
  for (let waitedMs = 0; waitedMs <= ATTACH_WAIT_MS; waitedMs += ATTACH_POLL_MS) {
    const running = await findRunningEmbeddedServer(dataDir);
    if (running !== null) return running;
    await clock.sleep(ATTACH_POLL_MS);
  }
  return null;
}

/**
 * Opens the database of `config`: `config.url` when set, otherwise an embedded PostgreSQL in
 * `config.embeddedDataDir` on 127.0.0.1:`config.embeddedPort` (initialised on first use). Does not migrate
 * (call `migrateToLatest`). Checks the connection once so a bad URL fails here, not at the first query.
 *
 * @param options.clock timer source for LISTEN reconnect and the start-up wait (default the system clock).
 * @param options.attach when the embedded data directory is held by a running server (a `reservd run`), connect
 *   to it (`findRunningEmbeddedServer`: port from `postmaster.pid`, password from `reservd-password`) instead of
 *   failing `data_dir_in_use`; `close()` then leaves it running. For the CLI's commands and `book-now`.
 * A server that refuses connections (it may still be starting, e.g. both started by systemd at boot) is
 * waited for up to `config.retryMs` (default {@link DEFAULT_RETRY_MS}), with backoff.
 *
 * @throws DatabaseStartError when the embedded server cannot start (e.g. `data_dir_in_use`);
 *   DatabaseConnectionError `unavailable` when the server stays unreachable for `retryMs`; pg's error for a
 *   wrong password or database name, or a host that does not resolve. Each message names the URL with its
 *   password replaced by `***`, never the password.
 */
export async function openDatabase(config: DatabaseConfig, logger: DbLogger, options: { clock?: Clock; attach?: boolean } = {}): Promise<DatabaseHandle> {
  let server: EmbeddedServer | null = null;
  let running = config.url === null && options.attach === true ? await findRunningEmbeddedServer(config.embeddedDataDir) : null;
  if (config.url === null && running === null) {
    try {
      server = await startEmbeddedServer({ dataDir: config.embeddedDataDir, port: config.embeddedPort, logger });
    } catch (err) {
      // A daemon starting at the same moment took the directory first (its postmaster.pid was not written yet
      // when we looked): attach to it once it is up instead of failing.
      running = options.attach === true && (err as { code?: unknown }).code === 'data_dir_in_use' ? await waitForRunningServer(config.embeddedDataDir, options.clock ?? systemClock) : null;
      if (running === null) throw err;
    }
  }
  const url = running?.url ?? server?.url ?? (config.url as string);
  const connectionTimeoutMs = config.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
  const db = createKysely(url, { poolMax: config.poolMax, connectionTimeoutMs, logger });
  try {
    await waitForServer(db, url, config.retryMs ?? DEFAULT_RETRY_MS, logger, options.clock);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    // pg's own errors (a host that does not resolve, a wrong password) do not say which server; the URL does,
    // its password replaced (`redactUrl`). The error keeps its class and pg `code`.
    if (err instanceof Error && !(err instanceof DatabaseConnectionError)) err.message = `${scrubSecrets(err.message, [url])} (connecting to ${redactUrl(url)})`;
    throw err;
  }

  const listeners = new Set<Listener>();
  let closePromise: Promise<void> | null = null;
  return {
    db,
    url,
    embedded: config.url === null,
    attached: running !== null,
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

/**
 * The first statement of a new pool, retried while the server is unreachable for up to `retryMs`.
 *
 * @throws DatabaseConnectionError `unavailable` when it stays unreachable; other errors (a wrong password or
 *   database name) at once.
 */
async function waitForServer(db: Kysely<Database>, url: string, retryMs: number, logger: DbLogger, clock: Clock | undefined): Promise<void> {
  try {
    await retryTransient(() => db.selectNoFrom((eb) => eb.val(1).as('ok')).execute(), {
      what: 'Database: connecting at start-up',
      logger,
      budgetMs: retryMs,
      ...(clock ? { clock } : {}),
    });
  } catch (err) {
    if (!isTransientDbError(err)) throw err;
    const reason = scrubSecrets(err instanceof Error ? err.message : String(err), [url]);
    throw new DatabaseConnectionError('unavailable', `Database: the server at ${redactUrl(url)} could not be reached (${reason}); retried for up to database.retryMs = ${retryMs} ms.`, { cause: err });
  }
}
