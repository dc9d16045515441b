/**
 * The booking contracts (`BookingUser`, `CourtPreference`, `BookingRequest`, `BookingResult`, `BookingSource`;
 * docs/architecture.md): pure values, zod schemas as the single source of
 * truth, no I/O, no clock, no environment. Import from here, not from the files. This lists what other
 * folders use (the schemas and helpers stay in their files for the builders); add a name here when a
 * caller needs it.
 */
export { ContractError } from './errors.js';
export type { BookingSource } from './booking-source.js';
export type { BookingUser } from './booking-user.js';
export { createCourtPreference, type CourtPreference } from './court-preference.js';
export {
  REQUEST_FIELDS,
  withReservationId,
  type BookingRequest,
  type KnownVenues,
  type RequestCandidate,
  type RequestFieldNames,
} from './booking-request.js';
export {
  buildImmediateRequest,
  buildRequestFromReservation,
  type BookingUserRowInput,
  type ImmediateRequestInput,
  type ReservationRowInput,
} from './request-builders.js';
export type { JsonObject, JsonValue } from './json-value.js';
export {
  METADATA_KEYS,
  REQUIRED_METADATA_KEYS,
  createBookingMetadata,
  type BookingMetadata,
  type BookingMetadataArgs,
  type MetadataContext,
  type MetadataKey,
} from './metadata.js';
export {
  BookingResult,
  DEFINITIVE_NOT_BOOKED,
  notificationTone,
  persistencePath,
  type BookingFailureArgs,
  type BookingFailureSubject,
  type BookingOutcome,
  type BookingSuccessArgs,
  type FailureOutcome,
} from './booking-result.js';
export { parseJsonResult, parseStoredResult, STORED_RESULT_OMITS, toJsonResult, toStoredResult, withoutContact, type BookingResultJson } from './result-json.js';
export { fromExecutionResult } from './legacy-execution-result.js';
