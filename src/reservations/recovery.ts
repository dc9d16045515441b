import { sql, type Kysely } from 'kysely';
import { isLiveDaemon } from './daemons.js';
import { DEFINITIVE_NOT_BOOKED, toStoredResult, type BookingResult } from '../contracts/index.js';
import type { Database, ReservationStatus } from '../db/types.js';
import { addMs, changedRow, inVenues, leaseRunOut, RESERVATION_COLUMNS, USER_COLUMNS, withNumericIds, type ClaimedReservation } from './rows.js';

/**
 * Safety nets for rows a booking left behind, and the queries of crash reconciliation (docs/architecture.md
 * "Reconciliation"): take over a dead daemon's `booking` rows, settle attempts whose outcome the site told us.
 * The decisions themselves live in `src/booking-session/reconcile.ts`; every rule here is a guarded write.
 */

/** Row states a late booking answer may find its reservation in (not held by anyone, not `succeeded`). */
const LATE_BOOKING_STATES = ['cancelled', 'needs_attention', 'failed', 'expired'] as const;

/**
 * The site took a booking whose answer came after the row stopped being ours: a user cancelled during the
 * submit, or another daemon took the row over and settled it (`needs_attention`, `failed`, `expired`). The row
 * becomes `needs_attention` with the booking's court and code, so a person sees it and cancels what is
 * extra on the site. Guarded by the status read just before (a row that changed again is left alone) and by
 * the lease (none, or `owner`'s: a row another daemon holds is left to it); `succeeded` rows are never
 * overwritten (the caller reports two bookings).
 *
 * @returns the status the row had when flagged, or null when nothing was written.
 */
export async function flagLateBooking(db: Kysely<Database>, args: { id: number; owner: string; result: BookingResult; now: Date }): Promise<ReservationStatus | null> {
  const { result } = args;
  const current = await db.selectFrom('reservations').select('status').where('id', '=', String(args.id)).executeTakeFirst();
  const status = current?.status;
  if (!status || !(LATE_BOOKING_STATES as readonly string[]).includes(status)) return null;
  const code = result.confirmationCode ?? '(no code)';
  const court = result.court ?? '?';
  const reason =
    status === 'cancelled'
      ? `cancelled while the booking was being submitted; the site holds booking ${code} on court ${court}: cancel it on the site`
      : `the site holds booking ${code} on court ${court}, made by a submit whose answer came after the row had become ${status}: check the row, and cancel any second booking of this reservation on the site`;
  const update = await db
    .updateTable('reservations')
    .set({
      status: 'needs_attention',
      booked_court: result.court,
      confirmation_code: result.confirmationCode,
      reason,
      result: JSON.stringify(toStoredResult(result)),
      lease_owner: null,
      lease_expires_at: null,
      finished_at: args.now,
      updated_at: args.now,
    })
    .where('id', '=', String(args.id))
    .where('status', '=', status)
    // A person's cancel leaves our lease on the row; a daemon that settled it cleared its own. A row another
    // daemon still holds is left to it.
    .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_owner', '=', args.owner)]))
    .executeTakeFirst();
  return changedRow(update) ? status : null;
}

/**
 * A user cancelled while a submit was on its way, and its answer was lost: the site may hold a booking nobody
 * will see. `cancelled → needs_attention` with a reason saying what to check. Guarded `status = 'cancelled'`.
 */
export async function flagUnknownAfterCancel(db: Kysely<Database>, args: { id: number; now: Date }): Promise<boolean> {
  const update = await db
    .updateTable('reservations')
    .set({
      status: 'needs_attention',
      reason: sql<string>`'cancelled while a booking submit was on its way, and the site''s answer was lost: the site may hold a booking on ' || target_date::text || ' at ' || target_time || '; check it and cancel it on the site'`,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: args.now,
      updated_at: args.now,
    })
    .where('id', '=', String(args.id))
    .where('status', '=', 'cancelled')
    .executeTakeFirst();
  return changedRow(update);
}

/** A held row that cannot be booked as it stands (e.g. inserted directly as `scheduled` with a bad value). Guarded by the lease. */
export async function rejectHeld(db: Kysely<Database>, args: { id: number; owner: string; reason: string; now: Date }): Promise<boolean> {
  const update = await db
    .updateTable('reservations')
    .set({ status: 'rejected', reason: args.reason, lease_owner: null, lease_expires_at: null, finished_at: args.now, updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', 'in', ['claimed', 'booking'])
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return changedRow(update);
}

/** A reservation this daemon holds in `booking` (its lease), with its user's contact columns. */
export type HeldBooking = ClaimedReservation & {
  /** The lease owner before a take-over ({@link takeOverAbandonedBookings}); null for a row we already held. */
  previous_owner: string | null;
};

/**
 * Takes over rows left in `booking` by a daemon that died (lease expired): they become held by `owner` with a
 * lease until `now + leaseMs`, status unchanged, so the caller can reconcile them against the site and then
 * finish them through the usual owner-guarded writes. Only rows of `venues` (the daemon's own: only a daemon
 * that serves a venue can look its bookings up on the site; see {@link flagUnservedBookings} for the rest).
 * One statement: a CTE `SELECT ... FOR UPDATE SKIP
 * LOCKED` feeding the UPDATE (like `claimDue`), so several daemons running it at once never take the same
 * row, and a row just taken (fresh lease) is not taken again.
 *
 * @returns the taken rows with their user's contact columns and `previous_owner`, oldest lease first.
 */
export async function takeOverAbandonedBookings(
  db: Kysely<Database>,
  args: { owner: string; now: Date; leaseMs: number; limit: number; venues: readonly string[] },
): Promise<HeldBooking[]> {
  const { now } = args;
  const rows = await db
    .with('abandoned', (qb) =>
      qb
        .selectFrom('reservations')
        .select(['id', 'lease_owner as previous_owner', 'lease_expires_at as previous_expiry'])
        .where('status', '=', 'booking')
        .where(leaseRunOut('lease_expires_at', now))
        .where(inVenues('venue', args.venues))
        .orderBy('lease_expires_at')
        .orderBy('id')
        .limit(args.limit)
        .forUpdate()
        .skipLocked(),
    )
    .updateTable('reservations as r')
    .from(['abandoned', 'booking_users as u'])
    .set({ lease_owner: args.owner, lease_expires_at: addMs(now, args.leaseMs), updated_at: now })
    .whereRef('r.id', '=', 'abandoned.id')
    .whereRef('u.id', '=', 'r.user_id')
    .returning([...RESERVATION_COLUMNS, ...USER_COLUMNS, 'abandoned.previous_owner', 'abandoned.previous_expiry'])
    .execute();
  return rows
    .sort((a, b) => (a.previous_expiry?.getTime() ?? 0) - (b.previous_expiry?.getTime() ?? 0) || Number(a.id) - Number(b.id))
    .map(({ previous_expiry: _, ...row }) => withNumericIds(row) as HeldBooking);
}

/** Reservation `id` when `owner` holds it in `booking`, with its user's contact columns; else undefined. */
export async function getHeldBooking(db: Kysely<Database>, args: { id: number; owner: string }): Promise<HeldBooking | undefined> {
  const row = await db
    .selectFrom('reservations as r')
    .innerJoin('booking_users as u', 'u.id', 'r.user_id')
    .select([...RESERVATION_COLUMNS, ...USER_COLUMNS])
    .where('r.id', '=', String(args.id))
    .where('r.status', '=', 'booking')
    .where('r.lease_owner', '=', args.owner)
    .executeTakeFirst();
  return row ? ({ ...withNumericIds(row), previous_owner: null } as HeldBooking) : undefined;
}

/** Arguments of {@link markAttemptReconciled}. */
export interface ReconciledAttemptArgs {
  attemptId: number;
  /** True: the site lists the booking (outcome `booked` + `confirmationCode`); false: it does not. */
  booked: boolean;
  /** The site's code of the booking (required when `booked`). */
  confirmationCode: string | null;
  /** Appended to `error` when not booked (why the attempt is now known not to have booked). */
  note: string;
  now: Date;
}

/**
 * Settles a submitted attempt whose outcome was unknown, from what the site lists:
 * - booked → `outcome = 'booked'`, `confirmation_code` = the site's code;
 * - not booked → a missing outcome becomes `interrupted` (a booking cut off by a crash), a `booked`
 *   without a code becomes `site_changed`, any other outcome stays; `note` is appended to `error`.
 * Both set `finished_at` if it was unset and merge `{ recovered: true, reconciled_at }` into `metadata`
 * (docs/metadata.md); `reconciled_at` marks the attempt as settled, so it is reconciled once.
 * Guarded: submitted, not reconciled yet, and not a definitive refusal ({@link DEFINITIVE_NOT_BOOKED}).
 *
 * @returns false when the guard failed (nothing written).
 */
export async function markAttemptReconciled(db: Kysely<Database>, args: ReconciledAttemptArgs): Promise<boolean> {
  const stamp = JSON.stringify({ recovered: true, reconciled_at: args.now.toISOString() });
  const update = await db
    .updateTable('booking_attempts')
    .set({
      outcome: args.booked
        ? 'booked'
        : sql`CASE WHEN outcome IS NULL THEN 'interrupted' WHEN outcome = 'booked' THEN 'site_changed' ELSE outcome END`,
      confirmation_code: args.booked ? args.confirmationCode : sql`confirmation_code`,
      error: args.booked ? sql`error` : sql`concat_ws('; ', error, ${args.note}::text)`,
      finished_at: sql`coalesce(finished_at, ${args.now}::timestamptz)`,
      metadata: sql`metadata || ${stamp}::jsonb`,
    })
    .where('id', '=', String(args.attemptId))
    .where('submitted_at', 'is not', null)
    .where(sql<boolean>`NOT (metadata ? 'reconciled_at')`)
    .where((eb) => eb.or([eb('outcome', 'is', null), eb('outcome', 'not in', [...DEFINITIVE_NOT_BOOKED])]))
    .executeTakeFirst();
  return changedRow(update);
}

/**
 * Closes the attempts of a reservation that never pressed submit and never finished (their daemon stopped):
 * `outcome = 'interrupted'`, `finished_at = now`. They cannot have booked anything.
 *
 * @returns how many attempts were closed.
 */
export async function closeUnsubmittedAttempts(db: Kysely<Database>, args: { reservationId: number; now: Date }): Promise<number> {
  const update = await db
    .updateTable('booking_attempts')
    .set({ outcome: 'interrupted', finished_at: args.now, error: 'the daemon making it stopped before submitting' })
    .where('reservation_id', '=', String(args.reservationId))
    .where('submitted_at', 'is', null)
    .where('finished_at', 'is', null)
    .executeTakeFirst();
  return Number(update.numUpdatedRows);
}

/**
 * Rows left in `booking` (lease expired) for a venue that neither `venues` (this daemon's) nor any live daemon
 * serves (`daemons`, {@link isLiveDaemon}): nobody can look their booking up on the site, so rather than rot in
 * `booking` they become `needs_attention`, lease cleared, with a reason naming the venue, the daemon that was
 * booking it, and what to check. A row of a venue some live daemon serves is left to it. Same `FOR UPDATE SKIP
 * LOCKED` CTE as {@link takeOverAbandonedBookings}, so daemons running it at once never write the same row.
 *
 * @returns the rows flagged, by id, with their venue, the reason written and the lease owner they had.
 */
export async function flagUnservedBookings(
  db: Kysely<Database>,
  args: { now: Date; venues: readonly string[]; limit: number },
): Promise<Array<{ id: number; venue: string; reason: string; previousOwner: string | null }>> {
  const { now } = args;
  const served = args.venues.length > 0 ? args.venues.join(', ') : '(none)';
  const rows = await db
    .with('unserved', (qb) =>
      qb
        .selectFrom('reservations as r')
        .select(['r.id', 'r.lease_owner as previous_owner'])
        .where('r.status', '=', 'booking')
        .where(leaseRunOut('r.lease_expires_at', now))
        .where((eb) => eb.not(inVenues('r.venue', args.venues)))
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('daemons as d').select('d.id').where(isLiveDaemon(now)).where(sql<boolean>`r.venue = ANY(d.venues)`))),
        )
        .orderBy('r.id')
        .limit(args.limit)
        .forUpdate('r')
        .skipLocked(),
    )
    .updateTable('reservations as t')
    .from('unserved')
    .set({
      status: 'needs_attention',
      reason: sql<string>`'venue "' || t.venue || '": no running daemon serves it (this daemon serves: ' || ${served}::text || '), so nobody can look up on the site the booking that daemon ' || coalesce(unserved.previous_owner, '?') || ' was making when it stopped: check the site for a booking on ' || t.target_date::text || ' at ' || t.target_time || ' and set the row''s status yourself'`,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: now,
      updated_at: now,
    })
    .whereRef('t.id', '=', 'unserved.id')
    .returning(['t.id', 't.venue', 't.reason', 'unserved.previous_owner'])
    .execute();
  return rows.map((r) => ({ id: Number(r.id), venue: r.venue, reason: r.reason ?? '', previousOwner: r.previous_owner })).sort((a, b) => a.id - b.id);
}
