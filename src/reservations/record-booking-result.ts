import type { Kysely } from 'kysely';
import { persistencePath, toJsonResult, type BookingResult } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { changedRow } from './rows.js';

/** Arguments of {@link recordBookingResult}. */
export interface RecordBookingResultArgs {
  reservationId: number;
  /** The lease owner that holds the row in `booking`. */
  owner: string;
  result: BookingResult;
  now: Date;
}

/** `reason` of a failed reservation: the errors joined with `; `, else the message, else the outcome code. */
function failureReason(result: BookingResult): string {
  const errors = result.errors.filter((e) => e.trim() !== '');
  if (errors.length > 0) return errors.join('; ');
  return result.message?.trim() || result.outcome;
}

/**
 * THE persistence helper for a finished booking, used by queued bookings and `reservd book-now` alike
 * (docs/architecture.md, life cycle). Guarded `status = 'booking' AND lease_owner = owner`, it sets:
 * - `status`: `succeeded` or `failed`, decided by `result.status` (contracts' `persistencePath`);
 * - `booked_court` (success only), `confirmation_code`;
 * - `reason`: null on success, else {@link failureReason};
 * - `result`: `toJsonResult(result)` as jsonb; `finished_at = now`; clears the lease.
 * A single UPDATE, hence atomic on its own (no separate transaction needed).
 *
 * @returns false when the guard failed (the row was cancelled, or the lease taken over): nothing was written and
 *   the caller should log it.
 */
export async function recordBookingResult(db: Kysely<Database>, args: RecordBookingResultArgs): Promise<boolean> {
  const { result, now } = args;
  const succeeded = persistencePath(result) === 'succeeded';
  const update = await db
    .updateTable('reservations')
    .set({
      status: succeeded ? 'succeeded' : 'failed',
      booked_court: succeeded ? result.court : null,
      confirmation_code: succeeded ? result.confirmationCode : null,
      reason: succeeded ? null : failureReason(result),
      result: JSON.stringify(toJsonResult(result)),
      lease_owner: null,
      lease_expires_at: null,
      finished_at: now,
      updated_at: now,
    })
    .where('id', '=', String(args.reservationId))
    .where('status', '=', 'booking')
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return changedRow(update);
}
