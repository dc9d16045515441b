import type { Kysely } from 'kysely';
import type { Database, ReservationSource, ReservationStatus } from '../db/types.js';

/** A person's contact details (`booking_users`; not validated here, validation is the daemon's job). */
export interface UserInput {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}

/** Inserts a `booking_users` row (tests, demo). @returns its id. */
export async function insertUser(db: Kysely<Database>, user: UserInput): Promise<number> {
  const row = await db
    .insertInto('booking_users')
    .values({ first_name: user.firstName, last_name: user.lastName, email: user.email, phone: user.phone })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** Arguments of {@link insertReservation}; omitted optional columns take their defaults (NULL, `pending`, `queue`). */
export interface ReservationInput {
  userId: number;
  venue: string;
  /** Venue-local `YYYY-MM-DD`. */
  targetDate: string;
  /** Venue-local `HH:MM`. */
  targetTime: string;
  courts: number[];
  status?: ReservationStatus;
  source?: ReservationSource;
  releaseAt?: Date | null;
  slotAt?: Date | null;
  leaseOwner?: string | null;
  leaseExpiresAt?: Date | null;
  idempotencyKey?: string | null;
  /**
   * `created_at` and `updated_at` (default: the database's `now()`). A held row's lease may end at most 1 hour
   * after its `updated_at` (`reservations_lease_bounded`), so a fixture on a manual clock passes its "now".
   */
  now?: Date;
}

/**
 * Inserts a `reservations` row as a person or tool would (tests, demo). The AFTER INSERT trigger NOTIFYs
 * `reservd_reservations`.
 *
 * @returns its id.
 * @throws pg's check violation naming the constraint (e.g. `reservations_courts_nonempty`) for rows the schema
 *   refuses (`describeConstraintViolation` in `src/db/errors.ts` turns it into a sentence naming the column).
 */
export async function insertReservation(db: Kysely<Database>, input: ReservationInput): Promise<number> {
  const row = await db
    .insertInto('reservations')
    .values({
      user_id: input.userId,
      venue: input.venue,
      target_date: input.targetDate,
      target_time: input.targetTime,
      courts: input.courts,
      ...(input.status ? { status: input.status } : {}),
      ...(input.source ? { source: input.source } : {}),
      release_at: input.releaseAt ?? null,
      slot_at: input.slotAt ?? null,
      lease_owner: input.leaseOwner ?? null,
      lease_expires_at: input.leaseExpiresAt ?? null,
      idempotency_key: input.idempotencyKey ?? null,
      ...(input.now ? { created_at: input.now, updated_at: input.now } : {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}
