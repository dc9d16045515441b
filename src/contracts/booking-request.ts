import { z } from 'zod';
import { bookingSourceSchema, type BookingSource } from './booking-source.js';
import { bookingUserSchema, emailSchema, personNameSchema, phoneSchema, type BookingUser } from './booking-user.js';
import { courtListSchema, createCourtPreference, type CourtPreference } from './court-preference.js';
import { ContractError } from './errors.js';
import { localDateSchema, localTimeSchema } from './local-date-time.js';
import { badValue, describeValue, parseField } from './parse-field.js';

/** A venue id as configured (`config.venues` key): trimmed, non-empty text. Whether it is KNOWN is checked by the builders. */
export const venueIdSchema = z
  .string({ error: badValue('is not a venue id') })
  .trim()
  .min(1, { error: () => 'is empty; a venue id is required' });

/** A `reservations.id`: a positive safe integer (pg `int8` arrives as digit text; the row builder converts it). */
const reservationIdSchema = z
  .number({ error: badValue('is not a reservation id (a positive whole number)') })
  .int({ error: badValue('is not a reservation id (a positive whole number)') })
  .positive({ error: badValue('is not a reservation id (a positive whole number)') })
  .max(Number.MAX_SAFE_INTEGER, { error: badValue('is too large for a reservation id') });

/** A queue position: a non-negative whole number, or absent. Informational only (logged into metadata). */
const queuePositionSchema = z
  .number({ error: badValue('is not a queue position (a whole number >= 0)') })
  .int({ error: badValue('is not a queue position (a whole number >= 0)') })
  .min(0, { error: badValue('is not a queue position (a whole number >= 0)') });

/** A value that is a {@link CourtPreference} made by `createCourtPreference` (frozen, non-empty). */
const courtPreferenceSchema = z.custom<CourtPreference>(
  (v) => typeof v === 'object' && v !== null && Object.isFrozen(v) && typeof (v as CourtPreference).asList === 'function' && (v as CourtPreference).courts.length > 0,
  { error: () => 'is not a CourtPreference from createCourtPreference' },
);

/**
 * One booking to perform. Only made by
 * `buildRequestFromReservation` / `buildImmediateRequest` (both run {@link createBookingRequest}); frozen.
 * - `targetDate`: venue-local `YYYY-MM-DD`, a real date; `targetTime`: venue-local 24 h `HH:MM`.
 * - `source: 'queue'` always has a `reservationId`; `'immediate'` has one only after {@link withReservationId}.
 */
const bookingRequestSchema = z.object({
  user: bookingUserSchema,
  venue: venueIdSchema,
  targetDate: localDateSchema,
  targetTime: localTimeSchema,
  courtPreference: courtPreferenceSchema,
  source: bookingSourceSchema,
  reservationId: reservationIdSchema.nullable(),
  queuePosition: queuePositionSchema.nullable(),
});

/** See {@link bookingRequestSchema}. */
export type BookingRequest = z.infer<typeof bookingRequestSchema>;

/** Which venue ids exist: a set of ids, or a predicate (e.g. `(id) => id in config.venues`). */
export type KnownVenues = ReadonlySet<string> | ((venueId: string) => boolean);

/** Raw, not yet validated request data, as both builders hand it to {@link createBookingRequest}. */
export interface RequestCandidate {
  user: { firstName: unknown; lastName: unknown; email: unknown; phone: unknown };
  venue: unknown;
  targetDate: unknown;
  targetTime: unknown;
  courts: unknown;
  queuePosition: unknown;
  source: BookingSource;
  reservationId: number | null;
}

/** The name of each input field in errors; see {@link REQUEST_FIELDS}. */
export interface RequestFieldNames {
  user: { firstName: string; lastName: string; email: string; phone: string };
  venue: string;
  targetDate: string;
  targetTime: string;
  courts: string;
  queuePosition: string;
}

/**
 * THE vocabulary of validation errors, for queued rows and `reservd book-now` alike: every field is named by
 * its database column (`target_time`, `courts`, `booking_users.email`, ...), whatever the input was called
 * where it came from (a CLI adds its flag beside the name, never instead of it).
 */
export const REQUEST_FIELDS: RequestFieldNames = Object.freeze({
  user: Object.freeze({ firstName: 'booking_users.first_name', lastName: 'booking_users.last_name', email: 'booking_users.email', phone: 'booking_users.phone' }),
  venue: 'venue',
  targetDate: 'target_date',
  targetTime: 'target_time',
  courts: 'courts',
  queuePosition: 'queue_position',
});

/**
 * The single validation path for every booking request: immediate (`book-now`) and queued bookings go
 * through the SAME builders and the same field names ({@link REQUEST_FIELDS}). Checks, in order: venue
 * (known), target date, target time, courts, queue position, then the user's names, email and phone.
 *
 * @throws ContractError whose `field` is the column (see {@link REQUEST_FIELDS}) and whose message says
 *   what is wrong (quoting the bad value, except for names and over-long e-mail addresses).
 */
export function createBookingRequest(candidate: RequestCandidate, knownVenues: KnownVenues): BookingRequest {
  const names = REQUEST_FIELDS;
  const venue = parseField(venueIdSchema, candidate.venue, names.venue);
  const known = typeof knownVenues === 'function' ? knownVenues(venue) : knownVenues.has(venue);
  if (!known) throw new ContractError(names.venue, `unknown venue ${describeValue(venue)}`);
  const targetDate = parseField(localDateSchema, candidate.targetDate, names.targetDate);
  const targetTime = parseField(localTimeSchema, candidate.targetTime, names.targetTime);
  const courts = parseField(courtListSchema, candidate.courts, names.courts);
  const queuePosition = candidate.queuePosition === null || candidate.queuePosition === undefined
    ? null
    : parseField(queuePositionSchema, candidate.queuePosition, names.queuePosition);
  const user: BookingUser = Object.freeze({
    firstName: parseField(personNameSchema, candidate.user.firstName, names.user.firstName),
    lastName: parseField(personNameSchema, candidate.user.lastName, names.user.lastName),
    email: parseField(emailSchema, candidate.user.email, names.user.email),
    phone: parseField(phoneSchema, candidate.user.phone, names.user.phone),
  });
  if (candidate.source === 'queue' && candidate.reservationId === null) {
    throw new ContractError('reservationId', 'a queued request needs the id of its reservation row');
  }
  return Object.freeze({
    user,
    venue,
    targetDate,
    targetTime,
    courtPreference: createCourtPreference(courts),
    source: candidate.source,
    reservationId: candidate.reservationId,
    queuePosition,
  });
}

/**
 * Attaches the id of the `reservations` row an immediate booking was recorded under (`reservd book-now`
 * inserts a row, then books). Returns a new frozen request; the input is unchanged.
 *
 * @throws ContractError (`field: "reservationId"`) when `reservationId` is not a positive safe integer, or
 *   the request already carries a different id.
 */
export function withReservationId(request: BookingRequest, reservationId: number): BookingRequest {
  const id = parseField(reservationIdSchema, reservationId, 'reservationId');
  if (request.reservationId !== null && request.reservationId !== id) {
    throw new ContractError('reservationId', `${id} cannot replace reservation ${request.reservationId} already attached to this request`);
  }
  return Object.freeze({ ...request, reservationId: id });
}
