import { sql, type Kysely } from 'kysely';
import type { Database, ReservationStatus } from '../db/types.js';
import type { UserInput } from './inserts.js';
import { RESERVATION_COLUMNS, USER_COLUMNS, withNumericIds, type PendingReservation } from './rows.js';

/**
 * Queries of the `reservd` CLI commands (`add`, `list`, `show`, `cancel`; src/commands/). Cancelling goes through
 * the same guards as a hand edit: the triggers of migrations 0004/0007 refuse what a person may not change.
 */

/**
 * The `booking_users` row of this person: one with the same e-mail (compared trimmed, case-insensitive, as
 * validation compares people) and the same names and phone; otherwise a new row. A person whose phone changed
 * gets a new row rather than an edit of the old one (a held row's person cannot be edited, 0004).
 * @returns its id.
 */
export async function findOrCreateUser(db: Kysely<Database>, user: UserInput): Promise<{ id: number; created: boolean }> {
  const found = await db
    .selectFrom('booking_users')
    .select('id')
    .where(sql<boolean>`lower(btrim(email)) = lower(btrim(${user.email}))`)
    .where('first_name', '=', user.firstName)
    .where('last_name', '=', user.lastName)
    .where('phone', '=', user.phone)
    .orderBy('id')
    .executeTakeFirst();
  if (found) return { id: Number(found.id), created: false };
  const row = await db
    .insertInto('booking_users')
    .values({ first_name: user.firstName, last_name: user.lastName, email: user.email, phone: user.phone })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: Number(row.id), created: true };
}

/** Filters of {@link listReservations}; each omitted one matches every row. */
export interface ReservationFilter {
  status?: ReservationStatus[];
  venue?: string;
  /** Venue-local `YYYY-MM-DD`, inclusive. */
  from?: string;
  /** Venue-local `YYYY-MM-DD`, inclusive. */
  to?: string;
  /** The person's e-mail, compared trimmed and case-insensitive. */
  email?: string;
  /** At most this many rows (default 500). */
  limit?: number;
}

/** Reservations with their person, by slot date and time then id, filtered. */
export async function listReservations(db: Kysely<Database>, filter: ReservationFilter): Promise<PendingReservation[]> {
  let query = db.selectFrom('reservations as r').innerJoin('booking_users as u', 'u.id', 'r.user_id').select([...RESERVATION_COLUMNS, ...USER_COLUMNS]);
  if (filter.status && filter.status.length > 0) query = query.where('r.status', 'in', filter.status);
  if (filter.venue !== undefined) query = query.where('r.venue', '=', filter.venue);
  if (filter.from !== undefined) query = query.where('r.target_date', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('r.target_date', '<=', filter.to);
  if (filter.email !== undefined) query = query.where(sql<boolean>`lower(btrim(u.email)) = lower(btrim(${filter.email}))`);
  const rows = await query.orderBy('r.target_date').orderBy('r.target_time').orderBy('r.id').limit(filter.limit ?? 500).execute();
  return rows.map(withNumericIds);
}

/** One status change of a reservation (`reservation_events`, migration 0009). */
export interface ReservationEvent {
  id: number;
  at: Date;
  from_status: ReservationStatus | null;
  to_status: ReservationStatus;
  reason: string | null;
  actor: string | null;
}

/** The reservation with its person, or null when no row has this id. */
export async function getReservationWithUser(db: Kysely<Database>, id: number): Promise<PendingReservation | null> {
  const row = await db
    .selectFrom('reservations as r')
    .innerJoin('booking_users as u', 'u.id', 'r.user_id')
    .select([...RESERVATION_COLUMNS, ...USER_COLUMNS])
    .where('r.id', '=', String(id))
    .executeTakeFirst();
  return row ? withNumericIds(row) : null;
}

/** The status history of a reservation, oldest first. */
export async function listReservationEvents(db: Kysely<Database>, reservationId: number): Promise<ReservationEvent[]> {
  const rows = await db
    .selectFrom('reservation_events')
    .select(['id', 'at', 'from_status', 'to_status', 'reason', 'actor'])
    .where('reservation_id', '=', String(reservationId))
    .orderBy('id')
    .execute();
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

/** Statuses a cancel leaves alone: already final (`succeeded` is not here: its guard, 0007, says why in its words). */
const NOT_CANCELLABLE: readonly ReservationStatus[] = ['cancelled', 'failed', 'rejected', 'expired'];

/**
 * Cancels reservation `id` as a hand edit would (`UPDATE ... SET status = 'cancelled'`; the 0004 trigger stamps
 * `updated_at`; `finished_at` is the transaction's time), with the session's
 * `reservd.actor` set to `actor` so its `reservation_events` row names who cancelled.
 *
 * @returns `cancelled` with the previous status; `unchanged` with the status of a row already final; `missing`.
 * @throws pg's check violation from the guards (a booked row, 0007): `describeConstraintViolation` makes it a sentence.
 */
export async function cancelReservation(
  db: Kysely<Database>,
  args: { id: number; actor: string },
): Promise<{ outcome: 'cancelled' | 'unchanged'; previous: ReservationStatus } | { outcome: 'missing' }> {
  return db.transaction().execute(async (tx) => {
    await sql`SELECT set_config('reservd.actor', ${args.actor}, true)`.execute(tx);
    const before = await tx.selectFrom('reservations').select('status').where('id', '=', String(args.id)).forUpdate().executeTakeFirst();
    if (!before) return { outcome: 'missing' as const };
    if (NOT_CANCELLABLE.includes(before.status)) return { outcome: 'unchanged' as const, previous: before.status };
    await tx.updateTable('reservations').set({ status: 'cancelled', finished_at: sql<Date>`coalesce(finished_at, now())` }).where('id', '=', String(args.id)).execute();
    return { outcome: 'cancelled' as const, previous: before.status };
  });
}
