import { createBookingRequest, type BookingRequest, type KnownVenues } from './booking-request.js';
import { ContractError } from './errors.js';
import { describeValue } from './parse-field.js';

/**
 * A `reservations` row as the repository reads it. `id` is `int8`, which `pg` returns as digit text;
 * `target_date` must be `YYYY-MM-DD` text (`reservdPgTypes` in `src/db/pg-types.ts` keeps DATE as text); `target_time` must be `HH:MM`
 * text (a pg `time` column's `07:00:00` is rejected); `courts` is `int[]`, possibly with nulls.
 */
export interface ReservationRowInput {
  id: number | string;
  venue: string;
  target_date: string;
  target_time: string;
  courts: (number | null)[] | null;
  queue_position?: number | null;
}

/** The `booking_users` row a reservation points at (nullable columns are reported by name, not crashed on). */
export interface BookingUserRowInput {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  phone: string | null;
}

/**
 * Input of `reservd book-now`. Errors name its fields by the column they are stored in, as for a queued row
 * (`booking_users.email`, `target_time`, `courts`, ...; `REQUEST_FIELDS`).
 */
export interface ImmediateRequestInput {
  user: { firstName: string; lastName: string; email: string; phone: string };
  venue: string;
  targetDate: string;
  targetTime: string;
  courts: number[];
}

/**
 * Converts a `reservations.id` (number, or `int8` digit text) to a positive safe integer.
 *
 * @throws ContractError (`field: "id"`) otherwise.
 */
function parseReservationId(id: unknown): number {
  const n = typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n > 0) return n;
  throw new ContractError('id', `${describeValue(id)} is not a reservation id (a positive whole number)`);
}

/**
 * Builds the request for a queued reservation (`source: 'queue'`).
 *
 * @param row - the `reservations` row; see {@link ReservationRowInput}.
 * @param user - its `booking_users` row.
 * @param knownVenues - the configured venue ids.
 * @throws ContractError whose `field` is the DB column (`courts`, `target_time`, `target_date`, `venue`, `id`,
 *   `queue_position`, `booking_users.email`, ...) and whose message quotes the bad value, e.g.
 *   `target_time: "25:00" is not a 24-hour HH:MM time`. Such a row is `rejected` (docs/architecture.md, life cycle).
 */
export function buildRequestFromReservation(row: ReservationRowInput, user: BookingUserRowInput, knownVenues: KnownVenues): BookingRequest {
  const reservationId = parseReservationId(row.id);
  return createBookingRequest(
    {
      user: { firstName: user.first_name, lastName: user.last_name, email: user.email, phone: user.phone },
      venue: row.venue,
      targetDate: row.target_date,
      targetTime: row.target_time,
      courts: row.courts,
      queuePosition: row.queue_position,
      source: 'queue',
      reservationId,
    },
    knownVenues,
  );
}

/**
 * Builds the request for `reservd book-now` (`source: 'immediate'`, `reservationId: null`,
 * `queuePosition: null`); attach a row id later with `withReservationId`. Same rules as
 * {@link buildRequestFromReservation}, and the same field names in errors.
 *
 * @throws ContractError whose `field` is the column the input is stored in (`booking_users.email`,
 *   `target_time`, `courts`, `venue`, ...), exactly as for a queued row.
 */
export function buildImmediateRequest(input: ImmediateRequestInput, knownVenues: KnownVenues): BookingRequest {
  return createBookingRequest(
    {
      user: { firstName: input.user.firstName, lastName: input.user.lastName, email: input.user.email, phone: input.user.phone },
      venue: input.venue,
      targetDate: input.targetDate,
      targetTime: input.targetTime,
      courts: input.courts,
      queuePosition: null,
      source: 'immediate',
      reservationId: null,
    },
    knownVenues,
  );
}
