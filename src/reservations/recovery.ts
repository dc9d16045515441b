import type { Kysely } from 'kysely';
import { toJsonResult, type BookingResult } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { changedRow } from './rows.js';

/**
 * Safety nets for rows a booking left behind. Reconciliation against the site (issue "Never twice, never
 * lost") will refine these; until then every rule is conservative: a row the site may have booked goes to
 * `needs_attention` (a person looks), never back to the queue (DESIGN.md "never a blind second submit").
 */

/**
 * A user cancelled while the booking was being submitted and the site accepted it: the row stays visible as
 * `needs_attention` with the booking's code and court, so a person cancels it on the site.
 * Guarded `status = 'cancelled'`.
 */
export async function flagBookedAfterCancel(db: Kysely<Database>, args: { id: number; result: BookingResult; now: Date }): Promise<boolean> {
  const { result } = args;
  const update = await db
    .updateTable('reservations')
    .set({
      status: 'needs_attention',
      booked_court: result.court,
      confirmation_code: result.confirmationCode,
      reason: `cancelled while the booking was being submitted; the site holds booking ${result.confirmationCode ?? '(no code)'} on court ${result.court ?? '?'}: cancel it on the site`,
      result: JSON.stringify(toJsonResult(result)),
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

/** What {@link recoverAbandonedBookings} did, by reservation id. */
export interface RecoveredBookings {
  requeued: number[];
  needsAttention: number[];
}

/**
 * Rows left in `booking` by a daemon that died (its lease expired): if none of their attempts pressed
 * submit, they go back to `scheduled` (their window may still be open); if one did, the site may hold a
 * booking, so they go to `needs_attention` with a reason naming the attempt (and the code, if it was
 * read). One transaction; rows are locked `FOR UPDATE SKIP LOCKED`, so several daemons may run it at once.
 */
export async function recoverAbandonedBookings(db: Kysely<Database>, now: Date): Promise<RecoveredBookings> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('reservations')
      .select(['id'])
      .where('status', '=', 'booking')
      .where('lease_expires_at', '<=', now)
      .forUpdate()
      .skipLocked()
      .limit(100)
      .execute();
    const recovered: RecoveredBookings = { requeued: [], needsAttention: [] };
    for (const { id } of rows) {
      const submitted = await trx
        .selectFrom('booking_attempts')
        .select(['attempt', 'court', 'outcome', 'confirmation_code'])
        .where('reservation_id', '=', id)
        .where('submitted_at', 'is not', null)
        .where((eb) => eb.or([eb('outcome', 'is', null), eb('outcome', 'not in', ['slot_taken', 'not_open_yet'])]))
        .orderBy('attempt', 'desc')
        .executeTakeFirst();
      const base = { lease_owner: null, lease_expires_at: null, updated_at: now };
      if (submitted) {
        const code = submitted.confirmation_code ? ` (the site answered with code ${submitted.confirmation_code})` : '';
        await trx
          .updateTable('reservations')
          .set({
            ...base,
            status: 'needs_attention',
            reason: `the daemon booking it stopped after attempt ${submitted.attempt} on court ${submitted.court} was submitted${code}; check the site before retrying`,
          })
          .where('id', '=', id)
          .execute();
        recovered.needsAttention.push(Number(id));
      } else {
        await trx.updateTable('reservations').set({ ...base, status: 'scheduled' }).where('id', '=', id).execute();
        recovered.requeued.push(Number(id));
      }
    }
    return recovered;
  });
}
