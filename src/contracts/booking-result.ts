import { z } from 'zod';
import type { BookingRequest } from './booking-request.js';
import { venueIdSchema } from './booking-request.js';
import { bookingSourceSchema, type BookingSource } from './booking-source.js';
import { bookingUserSchema, type BookingUser } from './booking-user.js';
import { deepFreeze, toJsonValue } from './json-value.js';
import { bookingMetadataSchema, checkBookingMetadata, metadataContextOf, type BookingMetadata } from './metadata.js';
import { badValue, parseField } from './parse-field.js';

/**
 * How a booking ended (expected results are values, not exceptions). Also the values of
 * `booking_attempts.outcome`. `booked` is the only success outcome; `unknown` is a submit whose answer was
 * lost (the site may hold the booking: it is looked up, never submitted again blindly). `rate_limited` (the
 * site answered 429) and `form_rejected` (the site refused a field of the form) are refusals made before any
 * booking, like `site_blocked` (the site flagged the bookings as irregular usage).
 */
const bookingOutcomeSchema = z.enum(
  ['booked', 'slot_taken', 'not_open_yet', 'site_blocked', 'site_changed', 'timeout', 'interrupted', 'invalid_request', 'error', 'unknown', 'rate_limited', 'form_rejected'],
  { error: badValue('is not a booking outcome') },
);

/** See {@link bookingOutcomeSchema}. */
export type BookingOutcome = z.infer<typeof bookingOutcomeSchema>;

/**
 * The site's definitive "no": after a submit, only these outcomes prove the site took no booking (it refused
 * the request before making one: the slot is taken or not open, the client is rate limited, or it rejected the
 * form). Every other outcome of a submitted attempt (`timeout`, `error`, `unknown`, none, ...) may hide one —
 * `site_blocked` too: Chromium re-sends a booking POST whose reused connection died without an answer, and
 * the re-sent POST (its captcha token spent) is the one flagged, while the first may have booked
 * (docs/acuity-site.md). The court fallback and crash reconciliation both decide from this one list.
 */
export const DEFINITIVE_NOT_BOOKED = ['slot_taken', 'not_open_yet', 'rate_limited', 'form_rejected'] as const satisfies readonly BookingOutcome[];

/** Every outcome except `booked`: what a failure may carry. */
export type FailureOutcome = Exclude<BookingOutcome, 'booked'>;

const courtNumber = z.number({ error: badValue('is not a court number') }).int({ error: badValue('is not a whole court number') }).positive({ error: badValue('is not a positive court number') });

/**
 * The outcome of one booking. Invariants: `status: 'success'` ⇔ `outcome: 'booked'`, and then `court` and
 * `confirmationCode` are set; a failure has no confirmation code and at least one `errors` entry or a
 * `message`; a queued result's metadata has `reservation_id`. Branded: only the factories
 * ({@link BookingResult}.success/failure) and `parseJsonResult` produce one.
 */
export const bookingResultSchema = z
  .object({
    status: z.enum(['success', 'failure'], { error: badValue('is not "success" or "failure"') }),
    outcome: bookingOutcomeSchema,
    user: bookingUserSchema,
    source: bookingSourceSchema,
    venue: venueIdSchema,
    /** The booked court (success) or the court of the last attempt (failure), if any. */
    court: courtNumber.nullable(),
    confirmationCode: z.string({ error: badValue('is not text') }).trim().min(1, { error: () => 'is empty' }).nullable(),
    message: z.string({ error: badValue('is not text') }).nullable(),
    errors: z.array(z.string({ error: badValue('is not text') })),
    metadata: bookingMetadataSchema,
  })
  .superRefine((r, ctx) => {
    const fail = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message, input: r });
    if ((r.status === 'success') !== (r.outcome === 'booked')) fail('outcome', `"${r.outcome}" contradicts status "${r.status}"; only "booked" is a success`);
    if (r.status === 'success') {
      if (r.court === null) fail('court', 'is missing; a success must name the booked court');
      if (r.confirmationCode === null) fail('confirmationCode', 'is missing; a success must carry the confirmation code');
    } else {
      if (r.confirmationCode !== null) fail('confirmationCode', 'must be null on a failure');
      if (r.errors.length === 0 && (r.message === null || r.message.trim() === '')) fail('errors', 'a failure needs at least one error or a message');
    }
    if (r.source === 'queue' && r.metadata.reservation_id === undefined) fail('metadata', 'a queued booking must carry reservation_id');
  })
  .brand<'BookingResult'>();

/** A checked, deep-frozen booking result; see {@link bookingResultSchema}. Make one with {@link BookingResult}. */
export type BookingResult = z.infer<typeof bookingResultSchema>;

/** Arguments of {@link BookingResult}.success. */
export interface BookingSuccessArgs {
  request: BookingRequest;
  /** The court actually booked (positive integer). */
  court: number;
  /** The site's confirmation code (trimmed, non-empty). */
  confirmationCode: string;
  metadata: BookingMetadata;
  message?: string | null;
}

/** Who a failure is for: the request, or (when no request could be built) its user, venue and source. */
export type BookingFailureSubject = { request: BookingRequest } | { user: BookingUser; venue: string; source: BookingSource };

/** Arguments of {@link BookingResult}.failure. */
export type BookingFailureArgs = BookingFailureSubject & {
  outcome: FailureOutcome;
  /** Blank entries are dropped; at least one entry or a `message` must remain. */
  errors?: readonly string[];
  message?: string | null;
  metadata: BookingMetadata;
  /** Court of the last attempt, if any. */
  court?: number | null;
};

/** Blank text → null; other text trimmed. */
function cleanText(text: string | null | undefined): string | null {
  const trimmed = text?.trim() ?? '';
  return trimmed === '' ? null : trimmed;
}

/** Validates a candidate and returns it branded and deep-frozen (field names are the argument names). */
function finish(candidate: Record<string, unknown>): BookingResult {
  return deepFreeze(parseField(bookingResultSchema, toJsonValue(candidate, 'result'), ''));
}

/**
 * The only ways to make a {@link BookingResult}.
 * Both echo the request's user, check metadata (JSON-serialisable, required keys, agrees with the request;
 * see `checkBookingMetadata`) and return a deep-frozen value.
 */
export const BookingResult = Object.freeze({
  /**
   * A booked slot: `status: 'success'`, `outcome: 'booked'`, `errors: []`.
   *
   * @throws ContractError (`court`, `confirmationCode`, `metadata.<key>`) when a rule is broken.
   */
  success(args: BookingSuccessArgs): BookingResult {
    const metadata = checkBookingMetadata(args.metadata, metadataContextOf(args.request));
    return finish({
      status: 'success',
      outcome: 'booked',
      user: args.request.user,
      source: args.request.source,
      venue: args.request.venue,
      court: args.court,
      confirmationCode: args.confirmationCode,
      message: cleanText(args.message),
      errors: [],
      metadata,
    });
  },

  /**
   * A booking that did not happen: `status: 'failure'`, `confirmationCode: null`.
   *
   * @throws ContractError (`errors` when there is neither an error nor a message; `outcome` for `"booked"`;
   *   `metadata.<key>`; `user.<key>`) when a rule is broken.
   */
  failure(args: BookingFailureArgs): BookingResult {
    const subject = 'request' in args
      ? { user: args.request.user, venue: args.request.venue, source: args.request.source }
      : { user: args.user, venue: args.venue, source: args.source };
    const context = 'request' in args ? metadataContextOf(args.request) : { source: args.source, venue: args.venue };
    const metadata = checkBookingMetadata(args.metadata, context);
    return finish({
      status: 'failure',
      outcome: args.outcome,
      ...subject,
      court: args.court ?? null,
      confirmationCode: null,
      message: cleanText(args.message),
      errors: (args.errors ?? []).map((e) => e.trim()).filter((e) => e !== ''),
      metadata,
    });
  },
});

/**
 * Notification tone, decided by status: success → `celebrate`; a failure that is part of the
 * game (`slot_taken`, `not_open_yet`) → `warn`; every other failure → `alert` (a person should look).
 */
export function notificationTone(result: BookingResult): 'celebrate' | 'warn' | 'alert' {
  if (result.status === 'success') return 'celebrate';
  return result.outcome === 'slot_taken' || result.outcome === 'not_open_yet' ? 'warn' : 'alert';
}

/** Persistence path, decided by status: the reservation's next state, `succeeded` or `failed` (`recordBookingResult`). */
export function persistencePath(result: BookingResult): 'succeeded' | 'failed' {
  return result.status === 'success' ? 'succeeded' : 'failed';
}
