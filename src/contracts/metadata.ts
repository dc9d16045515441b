import { z } from 'zod';
import type { BookingRequest } from './booking-request.js';
import type { BookingSource } from './booking-source.js';
import { ContractError } from './errors.js';
import { deepFreeze, jsonValueSchema, toJsonValue } from './json-value.js';
import { localDateSchema, localTimeSchema } from './local-date-time.js';
import { badValue, describeValue, parseField } from './parse-field.js';

/**
 * Every metadata key reservd writes, in the order of `docs/metadata.md` (the single place that documents
 * them: type, writer, readers). A test checks that each key appears in that document's table.
 * Unknown keys are still accepted by the schema (any JSON value), but must be added here and in the doc first.
 */
export const METADATA_KEYS = [
  'target_date',
  'target_time',
  'executor',
  'flow',
  'browser_id',
  'attempt',
  'queue_position',
  'reservation_id',
  'venue',
  'court',
  'courts_tried',
  'submitted',
  'fire_lag_ms',
  'release_at',
  'fired_at',
  'site_clock_offset_ms',
  'timings_ms',
  'recovered',
  'reconciled_at',
  'idempotency_key',
  'confirmation_url',
] as const;

/** One of {@link METADATA_KEYS}. */
export type MetadataKey = (typeof METADATA_KEYS)[number];

/** Keys every result's metadata carries (docs/metadata.md, column "required"). */
export const REQUIRED_METADATA_KEYS = ['target_date', 'target_time', 'executor', 'flow', 'browser_id', 'attempt'] as const satisfies readonly MetadataKey[];

const nonEmptyText = z.string({ error: badValue('is not text') }).min(1, { error: () => 'is empty' });
const wholeNumber = (min: number) =>
  z.number({ error: badValue('is not a number') }).int({ error: badValue('is not a whole number') }).min(min, { error: badValue(`is below ${min}`) });
const finiteNumber = z.number({ error: badValue('is not a finite number') });
const isoInstant = z.iso.datetime({ offset: true, error: badValue('is not an ISO-8601 instant such as "2027-01-01T07:00:00.000Z"') });

/**
 * Metadata attached to every {@link BookingResult}: a JSON object (snake_case keys, stored in the
 * `reservations.result` jsonb column and logged). Known keys are typed; other keys may hold any JSON value.
 * See `docs/metadata.md` for units, writers and readers.
 */
export const bookingMetadataSchema = z
  .object({
    target_date: localDateSchema,
    target_time: localTimeSchema,
    executor: nonEmptyText,
    flow: nonEmptyText,
    browser_id: nonEmptyText,
    /** 1-based number of this attempt for the reservation; 0 when the booking stopped before its first attempt. */
    attempt: wholeNumber(0),
    queue_position: wholeNumber(0).optional(),
    reservation_id: wholeNumber(1).optional(),
    venue: nonEmptyText.optional(),
    court: wholeNumber(1).optional(),
    courts_tried: z.array(wholeNumber(1)).optional(),
    fire_lag_ms: finiteNumber.optional(),
    release_at: isoInstant.optional(),
    fired_at: isoInstant.optional(),
    site_clock_offset_ms: finiteNumber.optional(),
    timings_ms: z.record(z.string(), finiteNumber).optional(),
    recovered: z.boolean({ error: badValue('is not true or false') }).optional(),
    reconciled_at: isoInstant.optional(),
    idempotency_key: nonEmptyText.optional(),
    /** The booking's change/cancel link on the site (the Acuity answer's `confirmationPage`). */
    confirmation_url: z.url({ protocol: /^https?$/, error: badValue('is not an http(s) URL') }).optional(),
  })
  .catchall(jsonValueSchema);

/** See {@link bookingMetadataSchema}. */
export type BookingMetadata = z.infer<typeof bookingMetadataSchema>;

/** What the executor knows about an attempt; {@link createBookingMetadata} adds the rest from the request. */
export interface BookingMetadataArgs {
  /** Executor instance name, e.g. `"executor-1"` (logged, grouped on dashboards). */
  executor: string;
  /** Flow name, e.g. `"acuity"`. */
  flow: string;
  /** Id of the pooled browser that ran the attempt. */
  browserId: string;
  /** 1-based attempt number for this reservation; 0 when stopped before the first attempt started. */
  attempt: number;
  /** More keys (see `docs/metadata.md`); a key also set from the request must carry the same value. */
  extra?: Record<string, unknown>;
}

/** The request facts metadata must agree with. */
export interface MetadataContext {
  source: BookingSource;
  targetDate?: string;
  targetTime?: string;
  venue?: string;
  reservationId?: number | null;
  queuePosition?: number | null;
}

/** Compares a key the caller set with the value the request implies. */
function expectSame(metadata: Record<string, unknown>, key: string, expected: unknown, what: string): void {
  if (expected === undefined || expected === null) return;
  if (!(key in metadata)) throw new ContractError(`metadata.${key}`, `is missing; ${what} is ${describeValue(expected)}`);
  if (metadata[key] !== expected) {
    throw new ContractError(`metadata.${key}`, `${describeValue(metadata[key])} differs from ${what} ${describeValue(expected)}`);
  }
}

/**
 * Checks metadata (JSON-serialisable, checked not hoped; required keys; typed known keys; agreement with the
 * request) and returns a deep-frozen copy.
 *
 * @throws ContractError naming the key path (`metadata.attempt`, `metadata.timings_ms.submit`, ...); a queued
 *   booking (`source: 'queue'`) without `reservation_id` is refused.
 */
export function checkBookingMetadata(metadata: unknown, context: MetadataContext): BookingMetadata {
  const copy = toJsonValue(metadata, 'metadata');
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) {
    throw new ContractError('metadata', `${describeValue(copy)} is not a JSON object`);
  }
  const parsed = parseField(bookingMetadataSchema, copy, 'metadata');
  expectSame(parsed, 'target_date', context.targetDate, "the request's target date");
  expectSame(parsed, 'target_time', context.targetTime, "the request's target time");
  expectSame(parsed, 'reservation_id', context.reservationId, "the request's reservation id");
  expectSame(parsed, 'queue_position', context.queuePosition, "the request's queue position");
  if (context.venue !== undefined && parsed.venue !== undefined) expectSame(parsed, 'venue', context.venue, "the request's venue");
  if (context.source === 'queue' && parsed.reservation_id === undefined) {
    throw new ContractError('metadata.reservation_id', 'is missing; a queued booking must name its reservation');
  }
  return deepFreeze(parsed);
}

/**
 * Builds checked, frozen metadata for one attempt of `request`: `target_date`, `target_time`, `venue`,
 * `reservation_id`/`queue_position` (when the request has them) come from the request; `executor`, `flow`,
 * `browser_id`, `attempt` from `args`; then `args.extra`.
 *
 * @throws ContractError when an `extra` key contradicts the request, or anything fails {@link checkBookingMetadata}.
 */
export function createBookingMetadata(request: BookingRequest, args: BookingMetadataArgs): BookingMetadata {
  const fromRequest: Record<string, unknown> = {
    target_date: request.targetDate,
    target_time: request.targetTime,
    venue: request.venue,
    executor: args.executor,
    flow: args.flow,
    browser_id: args.browserId,
    attempt: args.attempt,
  };
  if (request.reservationId !== null) fromRequest.reservation_id = request.reservationId;
  if (request.queuePosition !== null) fromRequest.queue_position = request.queuePosition;
  const extra = args.extra ?? {};
  for (const [key, value] of Object.entries(extra)) {
    if (key in fromRequest && fromRequest[key] !== value) {
      throw new ContractError(`metadata.${key}`, `${describeValue(value)} in extra contradicts ${describeValue(fromRequest[key])} set from the request and args`);
    }
  }
  return checkBookingMetadata({ ...extra, ...fromRequest }, metadataContextOf(request));
}

/** The facts of `request` that metadata must agree with. */
export function metadataContextOf(request: BookingRequest): MetadataContext {
  return {
    source: request.source,
    targetDate: request.targetDate,
    targetTime: request.targetTime,
    venue: request.venue,
    reservationId: request.reservationId,
    queuePosition: request.queuePosition,
  };
}
