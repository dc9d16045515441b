import { ReservdError } from '../errors.js';

/** Why the database could not be opened (see {@link DatabaseStartError}). */
export type DatabaseStartErrorCode =
  /** Another PostgreSQL (another reservd) already runs on the embedded data directory. */
  | 'data_dir_in_use'
  /** The embedded port is taken by some other program. */
  | 'port_in_use'
  /** The embedded data directory cannot be created, read or used (permissions, not a data directory...). */
  | 'data_dir_unusable'
  /** Anything else while starting embedded PostgreSQL. */
  | 'start_failed';

/**
 * Opening the database failed in a way an operator must fix (nothing is retried). `main` may map it to exit
 * code 78 so systemd does not restart in a loop. The message is a sentence naming the data directory or port
 * and the fix; `cause` holds the underlying error or PostgreSQL's own log lines.
 */
export class DatabaseStartError extends ReservdError {
  /** Why opening failed (see {@link DatabaseStartErrorCode}). */
  declare readonly code: DatabaseStartErrorCode;
  /** Never retryable: an operator must fix the cause first. */
  declare readonly retryable: false;

  /**
   * @param code - why (see {@link DatabaseStartErrorCode}).
   * @param message - names the data directory or port and the fix.
   * @param options - `cause`: the underlying error or PostgreSQL's log lines.
   */
  constructor(code: DatabaseStartErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, { ...options, retryable: false });
  }
}

/** Why the database gave no working connection (see {@link DatabaseConnectionError}). */
export type DatabaseConnectionErrorCode =
  /**
   * Every pooled connection stayed busy for `database.connectionTimeoutMs`: the pool is too small for the
   * load, or a query or transaction is stuck. Not retried (waiting longer would only hide it).
   */
  | 'pool_exhausted'
  /**
   * Opening the database: the server stayed unreachable for `database.retryMs`. (Once open, a lost or refused
   * connection fails a statement with pg's own error, which {@link isTransientDbError} recognises.)
   */
  | 'unavailable';

/**
 * The database gave no working connection, through no fault of the SQL. `retryable` is true for
 * `unavailable` (a later try may reach the server), false for `pool_exhausted`. `cause` holds pg's own error.
 */
export class DatabaseConnectionError extends ReservdError {
  /** Why the statement had no connection (see {@link DatabaseConnectionErrorCode}). */
  declare readonly code: DatabaseConnectionErrorCode;

  /**
   * @param code - why (see {@link DatabaseConnectionErrorCode}); `unavailable` makes the error retryable.
   * @param message - names the statement and says whether it may have been applied.
   * @param options - `cause`: pg's own error.
   */
  constructor(code: DatabaseConnectionErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, { ...options, retryable: code === 'unavailable' });
  }
}

/** SQLSTATEs of a lost or refused connection: admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket errors of a lost or unreachable server. */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN']);
/** pg's messages when the socket closes under a client (they carry no code). */
const TRANSIENT_MESSAGES = [
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
];

/**
 * True when `err` means "no working connection" rather than "bad statement": a terminated backend (57P01
 * admin_shutdown from `pg_terminate_backend` or a fast shutdown, 57P02, 57P03 while the server starts),
 * too many connections (53300), any connection-exception SQLSTATE (class 08), a reset or refused socket, pg's
 * "Connection terminated ..." errors, or a {@link DatabaseConnectionError} with code `unavailable`. Looks
 * through `AggregateError`s (Node's dual-stack connect) and `cause`. Serialization failures and deadlocks are
 * NOT transient here: they are answers about the statement.
 */
export function isTransientDbError(err: unknown): boolean {
  return isTransient(err, 0);
}

function isTransient(err: unknown, depth: number): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  if (err instanceof DatabaseConnectionError) return err.code === 'unavailable';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SOCKET_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  const message = (err as { message?: unknown }).message;
  if (typeof message === 'string' && TRANSIENT_MESSAGES.some((m) => message.startsWith(m))) return true;
  if (err instanceof AggregateError && err.errors.some((e) => isTransient(e, depth + 1))) return true;
  return isTransient((err as { cause?: unknown }).cause, depth + 1);
}
