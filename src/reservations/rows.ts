import { sql, type Expression, type Selectable, type SqlBool, type UpdateResult } from 'kysely';
import type { BookingAttemptsTable, BookingUsersTable, ReservationsTable } from '../db/types.js';

/**
 * Row shapes the repository returns: the columns as named in SQL (snake_case, so `buildRequestFromReservation`
 * and error messages name real columns), except that int8 ids are `number` (`Number()` of pg's text; ids stay
 * far below 2^53). Dates are `YYYY-MM-DD` text, instants are `Date`.
 */

/** A `reservations` row (the standing-reservation link columns are read by `./standing.ts` only). */
export type ReservationRow = Omit<Selectable<ReservationsTable>, 'id' | 'user_id' | 'standing_id' | 'standing_occurrence'> & { id: number; user_id: number };

/** The contact columns of the `booking_users` row a reservation points at. */
export type ReservationUserColumns = Pick<Selectable<BookingUsersTable>, 'first_name' | 'last_name' | 'email' | 'phone'>;

/** A `pending` reservation with its user's contact columns (what validation needs). */
export type PendingReservation = ReservationRow & ReservationUserColumns;

/**
 * A reservation this daemon now holds in `claimed`, with its user's contact columns. The life-cycle CHECKs
 * guarantee the instants and the lease are set in this state.
 */
export type ClaimedReservation = ReservationRow &
  ReservationUserColumns & { release_at: Date; slot_at: Date; lease_owner: string; lease_expires_at: Date };

/** A `booking_attempts` row. */
export type AttemptRow = Omit<Selectable<BookingAttemptsTable>, 'id' | 'reservation_id'> & { id: number; reservation_id: number };

/**
 * The longest lease a holder can take: `daemon.leaseMs` is at most 1 hour (`src/config/schema.ts`), and a
 * held row's lease ends at most 1 hour after its `updated_at` (`migrations/0004_row_guards.ts`).
 */
export const MAX_LEASE_MS = 3_600_000;

/** How far ahead of this daemon's clock another holder's clock may run before its leases count as made up. */
export const LEASE_CLOCK_TOLERANCE_MS = 600_000;

/**
 * SQL: the lease in `column` no longer holds its row at `now`: it has run out, or it ends further ahead than
 * any holder can have taken (more than {@link MAX_LEASE_MS} plus {@link LEASE_CLOCK_TOLERANCE_MS} after `now`).
 * The database bounds a lease by the row's `updated_at` only (a CHECK cannot use the time), so a row inserted
 * by hand as `claimed`/`booking` with `updated_at` and the lease in the far future would otherwise be held for
 * ever by a made-up owner.
 */
export function leaseRunOut(column: string, now: Date): Expression<SqlBool> {
  const latest = new Date(now.getTime() + MAX_LEASE_MS + LEASE_CLOCK_TOLERANCE_MS);
  return sql<SqlBool>`(${sql.ref(column)} <= ${now} OR ${sql.ref(column)} > ${latest})`;
}

/** The reservation columns every query returns, qualified by the alias `r`. */
export const RESERVATION_COLUMNS = [
  'r.id',
  'r.user_id',
  'r.venue',
  'r.target_date',
  'r.target_time',
  'r.courts',
  'r.status',
  'r.source',
  'r.idempotency_key',
  'r.release_at',
  'r.slot_at',
  'r.slot_end_at',
  'r.reason',
  'r.lease_owner',
  'r.lease_expires_at',
  'r.attempt_count',
  'r.booked_court',
  'r.confirmation_code',
  'r.result',
  'r.created_at',
  'r.updated_at',
  'r.finished_at',
] as const;

/** The user contact columns joined onto reservations, qualified by the alias `u`. */
export const USER_COLUMNS = ['u.first_name', 'u.last_name', 'u.email', 'u.phone'] as const;

/** Converts the int8 id columns of a selected row to numbers. */
export function withNumericIds<T extends { id: string; user_id: string }>(row: T): Omit<T, 'id' | 'user_id'> & { id: number; user_id: number } {
  return { ...row, id: Number(row.id), user_id: Number(row.user_id) };
}

/** True when a guarded UPDATE changed a row (false: the row was not in the expected state, or held by another). */
export function changedRow(result: UpdateResult): boolean {
  return result.numUpdatedRows > 0n;
}

/** `now + durationMs` as a new Date (SQL gets instants as bound parameters, never `now()` in logic). */
export function addMs(now: Date, durationMs: number): Date {
  return new Date(now.getTime() + durationMs);
}

/**
 * SQL: `column` is one of `venues` (`= ANY($1::text[])`, which an empty list makes false, where `IN ()` would be
 * a syntax error).
 */
export function inVenues(column: string, venues: readonly string[]): Expression<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} = ANY(${sql.val([...venues])}::text[])`;
}
