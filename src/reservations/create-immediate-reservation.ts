import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type { UserInput } from './inserts.js';
import { addMs } from './rows.js';

/** Arguments of {@link createImmediateReservation}. */
export interface ImmediateReservationArgs {
  /** Already validated by the contracts' builder (`buildImmediateRequest`). */
  user: UserInput;
  venue: string;
  targetDate: string;
  targetTime: string;
  courts: number[];
  releaseAt: Date;
  slotAt: Date;
  /** Lease owner that will run the booking. */
  owner: string;
  now: Date;
  leaseMs: number;
  /** Optional `reservations.idempotency_key` (UNIQUE). */
  idempotencyKey?: string | null;
}

/**
 * Records a `reservd book-now` booking as a `reservations` row with `source = 'immediate'`, created directly in
 * `booking` and held by `owner` until `now + leaseMs`, so the booking then goes through `startAttempt` /
 * `finishAttempt` / `recordBookingResult` exactly like a queued one (docs/architecture.md "Booking session"). The user row is reused when one
 * with the same email exists (names and phone refreshed to the given ones), else inserted. One transaction.
 *
 * @returns the new reservation's id.
 * @throws pg's unique violation when `idempotencyKey` was used before; check violations for rows the schema refuses.
 */
export async function createImmediateReservation(db: Kysely<Database>, args: ImmediateReservationArgs): Promise<number> {
  const { user, now } = args;
  return db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('booking_users')
      .select('id')
      .where('email', '=', user.email)
      .orderBy('id')
      .limit(1)
      .forUpdate()
      .executeTakeFirst();
    let userId: string;
    if (existing) {
      userId = existing.id;
      await trx
        .updateTable('booking_users')
        .set({ first_name: user.firstName, last_name: user.lastName, phone: user.phone, updated_at: now })
        .where('id', '=', userId)
        .execute();
    } else {
      const inserted = await trx
        .insertInto('booking_users')
        .values({ first_name: user.firstName, last_name: user.lastName, email: user.email, phone: user.phone, created_at: now, updated_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      userId = inserted.id;
    }
    const reservation = await trx
      .insertInto('reservations')
      .values({
        user_id: userId,
        venue: args.venue,
        target_date: args.targetDate,
        target_time: args.targetTime,
        courts: args.courts,
        status: 'booking',
        source: 'immediate',
        idempotency_key: args.idempotencyKey ?? null,
        release_at: args.releaseAt,
        slot_at: args.slotAt,
        lease_owner: args.owner,
        lease_expires_at: addMs(now, args.leaseMs),
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(reservation.id);
  });
}
