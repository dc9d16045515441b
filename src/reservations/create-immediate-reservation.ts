import type { Kysely } from 'kysely';
import { ContractError } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { duplicateReason, findOverlappingBooking, lockPerson, slotEndOf } from './duplicates.js';
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
  /**
   * The slot length of each venue, s (`venues.<id>.slotLengthS`), for the one-booking-per-person check; a
   * venue not listed counts 1 s (only the same start overlaps).
   */
  slotLengthsS?: Readonly<Record<string, number>>;
}

/**
 * Records a `reservd book-now` booking as a `reservations` row with `source = 'immediate'`, created directly in
 * `booking` and held by `owner` until `now + leaseMs`, so the booking then goes through `startAttempt` /
 * `finishAttempt` / `recordBookingResult` exactly like a queued one (docs/architecture.md "Booking session"). The user row is reused when one
 * with the same email exists (names and phone refreshed to the given ones, unless one of the person's rows is
 * being booked: the stored ones are then kept, as the `booking_users` edit guard requires), else inserted.
 * One transaction, under the person's lock: a person who already has an active reservation overlapping the
 * slot (`duplicates.ts`) is refused, and nothing is written.
 *
 * @returns the new reservation's id.
 * @throws ContractError (field `duplicate`) naming the person's overlapping reservation; pg's unique violation
 *   when `idempotencyKey` was used before; check violations for rows the schema refuses.
 */
export async function createImmediateReservation(db: Kysely<Database>, args: ImmediateReservationArgs): Promise<number> {
  const { user, now } = args;
  return db.transaction().execute(async (trx) => {
    await lockPerson(trx, user.email);
    const lengthsS = args.slotLengthsS ?? {};
    const first = await findOverlappingBooking(trx, {
      reservationId: null,
      userId: null,
      email: user.email,
      slotAt: args.slotAt,
      slotLengthS: lengthsS[args.venue] ?? 1,
      slotLengthsS: lengthsS,
    });
    if (first) throw new ContractError('duplicate', duplicateReason(first));
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
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('reservations').select('id').where('user_id', '=', userId).where('status', 'in', ['claimed', 'booking']))),
        )
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
        slot_end_at: slotEndOf({ slotAt: args.slotAt, slotLengthS: lengthsS[args.venue] ?? 0 }),
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
