import { CompiledQuery, PostgresDialect, type DatabaseConnection, type Driver, type QueryResult, type TransactionSettings } from 'kysely';
import type pg from 'pg';
import type { Clock } from '../clock.js';
import { DatabaseConnectionError, isTransientDbError } from './errors.js';
import type { DbLogger } from './logger.js';
import { backoffDelayMs } from '../backoff.js';

/**
 * A Kysely driver over a pg pool that survives database faults: Postgres restarting, or every
 * connection being killed with `pg_terminate_backend`.
 *
 * Rules (why each statement is or is not retried):
 * - Getting a connection is always retried while the failure is transient (refused, reset, "starting up"):
 *   nothing was sent yet.
 * - A statement that fails because its connection was lost is retried on a fresh connection, with backoff,
 *   for up to `retryMs` — but only when repeating it cannot do harm: a Kysely-built SELECT, or an UPDATE with
 *   a WHERE clause (reservd's state changes all name the state and lease owner they expect, so a repeat of one
 *   that was in fact applied matches no row), outside a transaction, with no data-modifying CTE. A repeated
 *   guarded UPDATE whose first try was applied reports 0 rows: callers that must know check the row.
 * - Never retried: INSERT, DELETE, MERGE and raw `sql` statements (an INSERT of a `booking_attempts` row that
 *   was in fact applied would be logged twice, and the driver cannot tell), and anything inside a transaction
 *   after BEGIN (the transaction died with its connection; the caller's loop retries the whole unit). A BEGIN
 *   itself is retried: no transaction existed yet. These fail with {@link DatabaseConnectionError} `unavailable`
 *   saying the statement may or may not have been applied.
 * - A checkout that waits `connectionTimeoutMs` for a free connection fails with `pool_exhausted`, naming
 *   `database.poolMax`; it is not retried.
 * - A connection that dies while checked out (between two statements of a transaction) emits an error that
 *   would otherwise crash the process (pg re-emits it with no listener): it is logged and the connection
 *   discarded on release. Idle connections are the pool's (`pool.on('error')` in `createKysely`).
 * - Session state (SET, session advisory locks) does not survive a retry on a new connection: reservd uses none
 *   (the time zone is a connection option, so every new connection has it).
 *
 * Outages are logged once: the first transient failure (warn) and the first success after it (info, with
 * its length). Retries wait in real time on `clock`.
 */

/** Options of {@link createResilientDialect}. */
export interface ResilientDialectOptions {
  pool: pg.Pool;
  /** The pool's `max`, named in the `pool_exhausted` message. */
  poolMax: number;
  /** The pool's `connectionTimeoutMillis`, ms. */
  connectionTimeoutMs: number;
  /** How long a failed connect or a repeatable statement is retried after its first failure, ms (0: never). */
  retryMs: number;
  logger: DbLogger;
  clock: Clock;
}

/** The Postgres dialect of reservd: Kysely's own compiler and adapter, the {@link ResilientDriver}. */
export function createResilientDialect(options: ResilientDialectOptions): PostgresDialect {
  const driver = new ResilientDriver(options);
  return new (class extends PostgresDialect {
    override createDriver(): Driver {
      return driver;
    }
  })({ pool: options.pool });
}

/** pg-pool's message when no client became free within `connectionTimeoutMillis`. */
const POOL_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';

class ResilientDriver implements Driver {
  readonly #options: ResilientDialectOptions;
  readonly #destroyed = new AbortController();
  #outage: { startedAtMs: number; failures: number } | null = null;

  constructor(options: ResilientDialectOptions) {
    this.#options = options;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new ResilientConnection(this, await this.retrying('opening a connection', true, () => this.checkout()));
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const conn = connection as ResilientConnection;
    let text = 'begin';
    if (settings.isolationLevel || settings.accessMode) {
      text = `start transaction${settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : ''}${settings.accessMode ? ` ${settings.accessMode}` : ''}`;
    }
    await conn.run(CompiledQuery.raw(text), true);
    conn.inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as ResilientConnection;
    try {
      const { rows } = await conn.run(CompiledQuery.raw('commit'), false);
      // PostgreSQL completes COMMIT with a ROLLBACK tag when an earlier error aborted the transaction.
      if ((rows[0] as { command?: string } | undefined)?.command === 'ROLLBACK') throw new Error('Database: the transaction was aborted by an earlier error and rolled back.');
    } finally {
      conn.inTransaction = false;
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as ResilientConnection;
    try {
      // A lost connection took its transaction with it: the server rolled it back. Skipping the ROLLBACK keeps
      // the caller's original error (Kysely would throw the rollback's error instead).
      if (!conn.broken) await conn.run(CompiledQuery.raw('rollback'), false);
    } finally {
      conn.inTransaction = false;
    }
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as ResilientConnection).run(CompiledQuery.raw(`savepoint ${quoteIdent(name)}`), false);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as ResilientConnection).run(CompiledQuery.raw(`rollback to savepoint ${quoteIdent(name)}`), false);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await (connection as ResilientConnection).run(CompiledQuery.raw(`release savepoint ${quoteIdent(name)}`), false);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as ResilientConnection).release();
  }

  async destroy(): Promise<void> {
    if (this.#destroyed.signal.aborted) return;
    this.#destroyed.abort();
    await this.#options.pool.end();
  }

  /** One checkout from the pool; a pool timeout becomes `pool_exhausted`. */
  async checkout(): Promise<pg.PoolClient> {
    if (this.#destroyed.signal.aborted) throw new Error('Database: the pool is closed.');
    try {
      return await this.#options.pool.connect();
    } catch (err) {
      if (err instanceof Error && err.message === POOL_TIMEOUT_MESSAGE) {
        const { poolMax, connectionTimeoutMs } = this.#options;
        throw new DatabaseConnectionError(
          'pool_exhausted',
          `Database: no pooled connection became free within ${connectionTimeoutMs} ms (database.connectionTimeoutMs): all database.poolMax = ${poolMax} connections are busy. Raise database.poolMax, or look for a stuck query or a connection that is never released.`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /**
   * Runs `attempt` until it succeeds. While it fails with a transient error it is tried again, with backoff, for
   * up to `retryMs` — when `repeatable`, or when the failure came before the statement was sent (`markSent`
   * not yet called: connecting). A transient failure that is not retried (or no longer) is wrapped in
   * `DatabaseConnectionError('unavailable')`; any other error passes through unchanged.
   */
  async retrying<T>(what: string, repeatable: boolean, attempt: (markSent: () => void) => Promise<T>): Promise<T> {
    const { clock, retryMs } = this.#options;
    let failures = 0;
    let deadlineMs = 0;
    for (;;) {
      let sent = false;
      try {
        const value = await attempt(() => (sent = true));
        this.#noteSuccess();
        return value;
      } catch (err) {
        if (!isTransientDbError(err) || err instanceof DatabaseConnectionError) throw err;
        this.#noteFailure(err);
        failures += 1;
        if (failures === 1) deadlineMs = clock.now() + retryMs;
        const delayMs = failures === 1 ? 0 : backoffDelayMs(failures - 1, { firstMs: 100, maxMs: 2_000 });
        const mayRetry = repeatable || !sent;
        if (!mayRetry || this.#destroyed.signal.aborted || clock.now() + delayMs > deadlineMs) {
          throw new DatabaseConnectionError('unavailable', unavailableMessage(what, err, mayRetry ? retryMs : null), { cause: err });
        }
        await clock.sleep(delayMs, this.#destroyed.signal);
      }
    }
  }

  /** A checked-out connection failed outside any query: log it; the connection is dropped on release. */
  noteClientError(err: Error): void {
    this.#options.logger.warn({ err }, 'Database: a connection in use was closed by the server or the network; it is discarded when released.');
  }

  #noteFailure(err: unknown): void {
    if (this.#outage) {
      this.#outage.failures += 1;
      return;
    }
    this.#outage = { startedAtMs: this.#options.clock.now(), failures: 1 };
    this.#options.logger.warn(
      { err, retry_ms: this.#options.retryMs },
      'Database: connection lost or refused; retrying statements that are safe to repeat (further failures during this outage are not logged).',
    );
  }

  #noteSuccess(): void {
    const outage = this.#outage;
    if (!outage) return;
    this.#outage = null;
    const outageMs = this.#options.clock.now() - outage.startedAtMs;
    this.#options.logger.info({ outage_ms: outageMs, failures: outage.failures }, `Database: reachable again after ${outageMs} ms (${outage.failures} failed ${outage.failures === 1 ? 'try' : 'tries'}).`);
  }
}

/** One Kysely connection; it may swap its pg client when a repeatable statement is retried. */
class ResilientConnection implements DatabaseConnection {
  readonly #driver: ResilientDriver;
  #client: pg.PoolClient | null;
  /** The error that killed the current client, if any: it is then destroyed, not returned to the pool. */
  broken: Error | null = null;
  /** Between BEGIN and COMMIT/ROLLBACK: nothing is retried. */
  inTransaction = false;
  readonly #onError = (err: Error): void => {
    // Already known (a query failed with it): the retry or the caller's error reports it.
    if (!this.broken) this.#driver.noteClientError(err);
    this.broken ??= err;
  };

  constructor(driver: ResilientDriver, client: pg.PoolClient) {
    this.#driver = driver;
    this.#client = client;
    client.on('error', this.#onError);
  }

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return this.run<R>(compiledQuery, isRepeatable(compiledQuery.query));
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Database: streaming queries are not supported by reservd\'s driver.');
  }

  /** Runs one statement; `repeatable` (and no open transaction) allows retries on a new connection. */
  run<R>(compiledQuery: CompiledQuery, repeatable: boolean): Promise<QueryResult<R>> {
    const retry = repeatable && !this.inTransaction;
    return this.#driver.retrying(describe(compiledQuery), retry, async (markSent) => {
      // A client known dead before anything is sent is swapped for any statement (nothing can have run on it);
      // inside a transaction it cannot be: the transaction died with it.
      if (this.broken && !this.inTransaction) this.#detach();
      if (!this.#client) this.#attach(await this.#driver.checkout());
      const client = this.#client as pg.PoolClient;
      markSent();
      try {
        const result = await client.query(compiledQuery.sql, [...compiledQuery.parameters]);
        return toQueryResult<R>(result);
      } catch (err) {
        if (isTransientDbError(err)) this.broken ??= err as Error;
        throw err;
      }
    });
  }

  /** Gives the client back to the pool, or destroys it when its connection failed. */
  release(): void {
    this.#detach();
  }

  #attach(client: pg.PoolClient): void {
    this.#client = client;
    this.broken = null;
    client.on('error', this.#onError);
  }

  #detach(): void {
    const client = this.#client;
    if (!client) return;
    this.#client = null;
    client.off('error', this.#onError);
    client.release(this.broken ?? undefined);
  }
}

function toQueryResult<R>(result: pg.QueryResult): QueryResult<R> {
  const { command, rowCount, rows } = result;
  if (command === 'ROLLBACK' || command === 'COMMIT') return { rows: [{ command } as R] };
  const changes = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
  return { ...(changes ? { numAffectedRows: BigInt(rowCount ?? 0) } : {}), rows: (rows ?? []) as R[] };
}

type Node = { kind: string; where?: unknown; with?: { expressions: ReadonlyArray<{ expression: Node }> } };

/**
 * True for statements a lost connection may repeat: a SELECT, or an UPDATE with a WHERE clause, whose CTEs
 * (if any) are repeatable too. See the module comment.
 */
export function isRepeatable(node: { kind: string }): boolean {
  const n = node as Node;
  if (n.kind !== 'SelectQueryNode' && !(n.kind === 'UpdateQueryNode' && n.where)) return false;
  return (n.with?.expressions ?? []).every((cte) => isRepeatable(cte.expression));
}

function describe(compiledQuery: CompiledQuery): string {
  const kind = compiledQuery.query.kind;
  if (kind === 'RawNode') return `the statement "${compiledQuery.sql.slice(0, 40).replace(/\s+/g, ' ')}"`;
  return `a ${kind.replace(/QueryNode$/, '').toUpperCase()} statement`;
}

function unavailableMessage(what: string, err: unknown, retriedMs: number | null): string {
  const reason = err instanceof Error ? err.message : String(err);
  if (retriedMs !== null) return `Database: ${what} failed because the database is unavailable (${reason}); retried for ${retriedMs} ms (database.retryMs).`;
  return `Database: the connection was lost during ${what} (${reason}); it may or may not have been applied and is not retried automatically (not safe to repeat, or inside a transaction).`;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
