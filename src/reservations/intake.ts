import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { Database } from '../db/types.js';
import { changedRow, inVenues, leaseRunOut, RESERVATION_COLUMNS, USER_COLUMNS, withNumericIds, type PendingReservation } from './rows.js';

/**
 * Up to `limit` reservations in `pending`, oldest id first, each with its user's contact columns
 * (`first_name`, `last_name`, `email`, `phone`; `user_id` is a foreign key, so the user always exists).
 * With `firstVenues` (the daemon's own), rows of those venues come first: rows another daemon serves stay
 * `pending` until it validates them, and a crowd of them must not hide this daemon's own.
 */
export async function listPending(db: Kysely<Database>, limit: number, firstVenues?: readonly string[]): Promise<PendingReservation[]> {
  let query = db
    .selectFrom('reservations as r')
    .innerJoin('booking_users as u', 'u.id', 'r.user_id')
    .select([...RESERVATION_COLUMNS, ...USER_COLUMNS])
    .where('r.status', '=', 'pending');
  if (firstVenues) query = query.orderBy(inVenues('r.venue', firstVenues), 'desc');
  const rows = await query
    .orderBy('r.id')
    .limit(limit)
    .execute();
  return rows.map(withNumericIds);
}

/**
 * The columns a verdict on a `pending` row was computed from, as validation read them. A person may edit a
 * `pending` row at any time (README "Editing a row"); a verdict written over such an edit would give the new
 * slot the old one's `release_at`/`slot_at`, or reject the row for a value it no longer has.
 */
export interface PendingAsRead {
  user_id: number;
  venue: string;
  target_date: string;
  target_time: string;
  courts: readonly number[];
}

/** SQL: the row still has the columns of `asRead` (all when it is omitted: a caller that read nothing). */
function unchangedSince(asRead: PendingAsRead | undefined): Expression<SqlBool> {
  if (!asRead) return sql<SqlBool>`true`;
  return sql<SqlBool>`(user_id = ${String(asRead.user_id)} AND venue = ${asRead.venue} AND target_date = ${asRead.target_date}
    AND target_time = ${asRead.target_time} AND courts = ${sql.val([...asRead.courts])}::int[])`;
}

/**
 * `pending → scheduled`, storing the computed release instant, the slot's start instant and, when given, its
 * end (`slotEndAt`: the start + the venue's slot length; other daemons read it to compare slots across venues).
 *
 * @param args.asRead - the row as validation read it: an edit made since (a `pending` row may be edited) leaves
 *   the row `pending`, to be validated again as it now is.
 * @returns false when the row is no longer `pending` (another daemon validated it, or a user cancelled it), or
 *   no longer as read.
 */
export async function markScheduled(
  db: Kysely<Database>,
  args: { id: number; releaseAt: Date; slotAt: Date; slotEndAt?: Date | null; now: Date; asRead?: PendingAsRead },
): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set({ status: 'scheduled', release_at: args.releaseAt, slot_at: args.slotAt, slot_end_at: args.slotEndAt ?? null, reason: null, updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', '=', 'pending')
    .where(unchangedSince(args.asRead))
    .executeTakeFirst();
  return changedRow(result);
}

/**
 * `pending → rejected`: the row itself is invalid; `reason` names the column (e.g. `target_time: "25:00" is
 * not a 24-hour HH:MM time`).
 *
 * @param args.asRead - as for {@link markScheduled}: a row edited since it was read is not rejected for its old values.
 * @returns false when the row is no longer `pending`, or no longer as read.
 */
export async function markRejected(db: Kysely<Database>, args: { id: number; reason: string; now: Date; asRead?: PendingAsRead }): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set({ status: 'rejected', reason: args.reason, finished_at: args.now, updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', '=', 'pending')
    .where(unchangedSince(args.asRead))
    .executeTakeFirst();
  return changedRow(result);
}

/**
 * Expires every reservation whose slot started at or before `now` while still waiting: `scheduled`, or
 * `claimed` with a lease that ran out (a live holder decides for itself; `booking` rows are never touched here,
 * they need reconciliation). Sets `reason` to `slot start <ISO instant> passed before it could be booked`,
 * clears the lease and sets `finished_at`.
 *
 * @returns ids of the rows expired now, ascending.
 */
export async function expireOverdue(db: Kysely<Database>, now: Date): Promise<number[]> {
  const rows = await db
    .updateTable('reservations')
    .set({
      status: 'expired',
      reason: sql<string>`'slot start ' || to_char(slot_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || ' passed before it could be booked'`,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: now,
      updated_at: now,
    })
    .where('slot_at', '<=', now)
    .where((eb) => eb.or([eb('status', '=', 'scheduled'), eb.and([eb('status', '=', 'claimed'), leaseRunOut('lease_expires_at', now)])]))
    .returning('id')
    .execute();
  return rows.map((row) => Number(row.id)).sort((a, b) => a - b);
}

/**
 * The earliest `release_at` among `scheduled` reservations of `venues` (the daemon's own: it never wakes for
 * another daemon's venue), or null when none is scheduled.
 */
export async function nextReleaseAt(db: Kysely<Database>, venues: readonly string[]): Promise<Date | null> {
  const row = await db
    .selectFrom('reservations')
    .select((eb) => eb.fn.min('release_at').as('next_release_at'))
    .where('status', '=', 'scheduled')
    .where(inVenues('venue', venues))
    .executeTakeFirst();
  return row?.next_release_at ?? null;
}
