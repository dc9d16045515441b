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

/**
 * A row the schema refused (a CHECK, a UNIQUE index, a foreign key, a NOT NULL, or one of the row-guard
 * triggers of `migrations/0004_row_guards.ts`), as a sentence that starts with the column at fault:
 * `courts: must be a one-dimensional list of court numbers`. Code `invalid_request` (bad input, never
 * retryable; `book-now` exits 65 for it). `cause` holds pg's own error.
 */
export class DatabaseConstraintError extends ReservdError {
  /** Always `invalid_request`: the row, not the database, is at fault. */
  declare readonly code: 'invalid_request';
  /** Never retryable: the same row is refused the same way. */
  declare readonly retryable: false;
  /** The column at fault, as the message starts with it (`courts`, `booking_users.email`, `release_at/slot_at`). */
  readonly field: string;
  /** The constraint (or trigger guard) pg named, e.g. `reservations_courts_one_dimensional`; null for NOT NULL. */
  readonly constraint: string | null;

  /**
   * @param field - the column at fault.
   * @param message - `<field>: <what is wrong>`.
   * @param constraint - the constraint pg named, or null.
   * @param options - `cause`: pg's error.
   */
  constructor(field: string, message: string, constraint: string | null, options?: ErrorOptions) {
    super('invalid_request', message, { ...options, retryable: false });
    this.field = field;
    this.constraint = constraint;
  }
}

/**
 * Each schema constraint, by name: the column it guards and what it asks of it (the schema is in
 * `migrations/`; keep this in step when a constraint is added). The row-guard triggers' own messages already
 * start with the column and name the row, so they are passed through.
 */
const CONSTRAINT_RULES: Readonly<Record<string, { field: string; rule: string }>> = {
  reservations_target_time_hhmm: { field: 'target_time', rule: 'must be a time written HH:MM (e.g. 07:00)' },
  reservations_courts_nonempty: { field: 'courts', rule: 'must list at least one court number' },
  reservations_courts_no_nulls: { field: 'courts', rule: 'must not contain NULL' },
  reservations_courts_one_dimensional: { field: 'courts', rule: 'must be a one-dimensional list of court numbers (e.g. {2,1})' },
  reservations_status_known: { field: 'status', rule: 'must be one of pending, scheduled, claimed, booking, succeeded, failed, rejected, expired, cancelled, needs_attention' },
  reservations_source_known: { field: 'source', rule: 'must be queue or immediate' },
  reservations_scheduled_has_instants: {
    field: 'release_at/slot_at',
    rule: 'must both be set on a scheduled, claimed or booking row (insert the row as pending and the daemon computes them)',
  },
  reservations_held_has_lease: { field: 'lease_owner/lease_expires_at', rule: 'must both be set on a claimed or booking row (only a daemon holds a row)' },
  reservations_lease_bounded: {
    field: 'lease_expires_at',
    rule: 'a claimed or booking row\'s lease must end at most 1 hour after its updated_at (only a daemon holds a row; daemon.leaseMs is at most 1 hour)',
  },
  reservations_slot_end_after_start: { field: 'slot_end_at', rule: 'must be after slot_at (and set only with it)' },
  reservations_idempotency_key_key: { field: 'idempotency_key', rule: 'is already used by another reservation' },
  reservations_user_id_fkey: { field: 'user_id', rule: 'must be the id of a booking_users row' },
  reservations_one_booking_per_user_slot: {
    field: 'slot_at',
    rule: 'this person (booking_users.id) already has an active reservation for this slot; one booking per person at a time',
  },
  booking_attempts_attempt_positive: { field: 'booking_attempts.attempt', rule: 'must be 1 or more' },
  booking_attempts_outcome_known: { field: 'booking_attempts.outcome', rule: 'must be a known attempt outcome (docs/architecture.md "Outcomes")' },
  booking_attempts_reservation_attempt: { field: 'booking_attempts.attempt', rule: 'is already used by another attempt of this reservation' },
  booking_attempts_reservation_id_fkey: { field: 'booking_attempts.reservation_id', rule: 'must be the id of a reservations row' },
  daemons_lease_positive: { field: 'daemons.lease_ms', rule: 'must be more than 0' },
  daemons_venues_no_nulls: { field: 'daemons.venues', rule: 'must not contain NULL' },
  site_blocks_until_after_at: { field: 'site_blocks.blocked_until', rule: 'must not be before blocked_at' },
  reservations_standing_occurrence_local: { field: 'standing_occurrence', rule: 'must be a venue-local date and time written YYYY-MM-DDTHH:MM' },
  reservations_standing_link_whole: { field: 'standing_id/standing_occurrence', rule: 'must be set together or not at all (the daemon sets them on rows it creates from a standing reservation)' },
  reservations_standing_once: { field: 'standing_occurrence', rule: 'this occurrence of the standing reservation already has a reservation' },
  reservations_standing_id_fkey: { field: 'standing_id', rule: 'must be the id of a standing_reservations row' },
  notification_sinks_known: { field: 'notification_sinks.name', rule: 'must be webhook or telegram' },
  notification_outbox_state_known: { field: 'notification_outbox.state', rule: 'must be pending, delivered, failed or skipped' },
  standing_reservations_courts_nonempty: { field: 'standing_reservations.courts', rule: 'must list at least one court number' },
  standing_reservations_courts_one_dimensional: { field: 'standing_reservations.courts', rule: 'must be a one-dimensional list of court numbers (e.g. {3,1})' },
  standing_reservations_courts_no_nulls: { field: 'standing_reservations.courts', rule: 'must not contain NULL' },
  standing_reservations_cron_nonempty: { field: 'standing_reservations.cron', rule: 'must be a cron pattern such as "0 19 * * 2"' },
  standing_reservations_status_known: { field: 'standing_reservations.status', rule: 'must be active, paused or removed' },
  standing_reservations_user_id_fkey: { field: 'standing_reservations.user_id', rule: 'must be the id of a booking_users row' },
};

/** Guards raised by the row-guard triggers: their message is already the sentence. */
const TRIGGER_GUARDS = new Set(['reservations_held_not_editable', 'booking_users_held_not_editable', 'reservations_booked_final', 'reservations_held_not_requeued', 'reservations_standing_link_fixed']);

/** SQLSTATEs of a refused row: not_null, foreign_key, unique, check violations. */
const CONSTRAINT_SQLSTATES = new Set(['23502', '23503', '23505', '23514']);

/**
 * The {@link DatabaseConstraintError} for pg's error when the schema refused a row, else null (any other
 * error, a lost connection included). A trigger's message (it names the column and the row) is kept as is;
 * a constraint's is `<column>: <rule>`; a NOT NULL is `<column>: must not be NULL`.
 */
export function describeConstraintViolation(err: unknown): DatabaseConstraintError | null {
  if (typeof err !== 'object' || err === null) return null;
  const { code, constraint, column, table, message } = err as { code?: unknown; constraint?: unknown; column?: unknown; table?: unknown; message?: unknown };
  if (typeof code !== 'string' || !CONSTRAINT_SQLSTATES.has(code)) return null;
  const named = typeof constraint === 'string' ? constraint : null;
  const where = typeof table === 'string' && table !== 'reservations' ? `${table}.` : '';
  const text = typeof message === 'string' ? message : String(message);
  if (named !== null && (TRIGGER_GUARDS.has(named) || (named === 'reservations_one_booking_per_user_slot' && text.startsWith('duplicate:')))) {
    return new DatabaseConstraintError(typeof column === 'string' ? `${where}${column}` : named, text, named, { cause: err });
  }
  const known = named === null ? undefined : CONSTRAINT_RULES[named];
  if (known) return new DatabaseConstraintError(known.field, `${known.field}: ${known.rule}`, named, { cause: err });
  if (code === '23502' && typeof column === 'string') return new DatabaseConstraintError(`${where}${column}`, `${where}${column}: must not be NULL`, null, { cause: err });
  const field = typeof column === 'string' ? `${where}${column}` : (named ?? 'row');
  return new DatabaseConstraintError(field, `${field}: refused by the database (${named ?? code}): ${text}`, named, { cause: err });
}
