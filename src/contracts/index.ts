/**
 * The booking contracts (`BookingUser`, `CourtPreference`, `BookingRequest`, `BookingResult`, `BookingSource`;
 * docs/architecture.md): pure values, zod schemas as the single source of
 * truth, no I/O, no clock, no environment. Import from here, not from the files.
 */
export { ContractError, isContractError } from './errors.js';
export { describeValue, parseField } from './parse-field.js';
export { bookingSourceSchema, type BookingSource } from './booking-source.js';
export { isLocalDate, isLocalTime, localDateSchema, localTimeSchema } from './local-date-time.js';
export { BOOKING_USER_FIELDS, bookingUserSchema, emailSchema, personNameSchema, phoneSchema, type BookingUser } from './booking-user.js';
export { courtListSchema, createCourtPreference, findCourtListProblem, type CourtPreference } from './court-preference.js';
export {
  bookingRequestSchema,
  createBookingRequest,
  queuePositionSchema,
  reservationIdSchema,
  venueIdSchema,
  withReservationId,
  type BookingRequest,
  type KnownVenues,
  type RequestCandidate,
  type RequestFieldNames,
} from './booking-request.js';
export {
  buildImmediateRequest,
  buildRequestFromReservation,
  parseReservationId,
  type BookingUserRowInput,
  type ImmediateRequestInput,
  type ReservationRowInput,
} from './request-builders.js';
export { deepFreeze, findJsonProblem, jsonValueSchema, toJsonValue, type JsonObject, type JsonValue } from './json-value.js';
export {
  METADATA_KEYS,
  REQUIRED_METADATA_KEYS,
  bookingMetadataSchema,
  checkBookingMetadata,
  createBookingMetadata,
  metadataContextOf,
  type BookingMetadata,
  type BookingMetadataArgs,
  type MetadataContext,
  type MetadataKey,
} from './metadata.js';
export {
  BookingResult,
  bookingOutcomeSchema,
  bookingResultSchema,
  notificationTone,
  persistencePath,
  type BookingFailureArgs,
  type BookingFailureSubject,
  type BookingOutcome,
  type BookingSuccessArgs,
  type FailureOutcome,
} from './booking-result.js';
export { parseJsonResult, toJsonResult, type BookingResultJson } from './result-json.js';
export {
  fromExecutionResult,
  guessOutcomeFromText,
  legacyExecutionResultSchema,
  type LegacyExecutionResult,
} from './legacy-execution-result.js';
