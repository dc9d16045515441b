import { z } from 'zod';
import type { BookingRequest } from './booking-request.js';
import { BookingResult, type FailureOutcome } from './booking-result.js';
import { createBookingMetadata, type BookingMetadataArgs } from './metadata.js';
import { badValue, parseField } from './parse-field.js';

const optionalText = z.string({ error: badValue('is not text or null') }).nullable().default(null);

/**
 * The Python bot's `ExecutionResult`: `success: bool`, `court: int|None`,
 * `time: str|None`, `confirmation: str|None`, `error: str|None`, `message: str|None`,
 * `timings: dict[str, float]`. Python's `None` is `null`; a missing key counts as `null` (`{}` for timings).
 * `timings` values are taken to be milliseconds (they become metadata `timings_ms` unchanged).
 */
const legacyExecutionResultSchema = z.object({
  success: z.boolean({ error: badValue('is not true or false') }),
  court: z.number({ error: badValue('is not a court number or null') }).int({ error: badValue('is not a whole court number') }).nullable().default(null),
  time: optionalText,
  confirmation: optionalText,
  error: optionalText,
  message: optionalText,
  timings: z.record(z.string(), z.number({ error: badValue('is not a finite number of milliseconds') })).nullable().default(null),
});

/**
 * Guesses an outcome from a legacy error text (the Python bot only had free text):
 * `/no longer available|taken/i` → `slot_taken`, `/not (yet )?open/i` → `not_open_yet`,
 * `/captcha|blocked/i` → `site_blocked`, `/timeout|timed out/i` → `timeout`, else `error`. First match wins.
 */
function guessOutcomeFromText(text: string | null): FailureOutcome {
  if (text === null) return 'error';
  if (/no longer available|taken/i.test(text)) return 'slot_taken';
  if (/not (yet )?open/i.test(text)) return 'not_open_yet';
  if (/captcha|blocked/i.test(text)) return 'site_blocked';
  if (/timeout|timed out/i.test(text)) return 'timeout';
  return 'error';
}

/**
 * Maps a legacy `ExecutionResult` into a {@link BookingResult} for `request`.
 * - success with a court and a confirmation → `BookingResult.success` (legacy `message` kept);
 * - success WITHOUT a positive court or a confirmation → a failure with outcome `error` whose errors say
 *   the site may hold a booking (check before any retry: reservd never submits blindly a second time);
 * - failure → `BookingResult.failure`: outcome from {@link guessOutcomeFromText} on `error` (else `message`),
 *   `error` in `errors`, `message` kept, legacy `court` as the court tried.
 * `timings` become metadata `timings_ms` (merged over `metaArgs.extra.timings_ms`); legacy `time` is not
 * copied (the request's `targetTime` is authoritative).
 *
 * @param legacy - the legacy value (unknown JSON is fine; it is parsed with {@link legacyExecutionResultSchema}).
 * @throws ContractError (`legacy.<key>`) when `legacy` does not match the schema, or a metadata rule breaks.
 */
export function fromExecutionResult(legacy: unknown, request: BookingRequest, metaArgs: BookingMetadataArgs): BookingResult {
  const parsed = parseField(legacyExecutionResultSchema, legacy, 'legacy');
  const extraTimings = metaArgs.extra?.timings_ms;
  const baseTimings = typeof extraTimings === 'object' && extraTimings !== null ? extraTimings : {};
  const metadata = createBookingMetadata(request, {
    ...metaArgs,
    extra: { ...metaArgs.extra, timings_ms: { ...baseTimings, ...(parsed.timings ?? {}) } },
  });
  const court = parsed.court !== null && parsed.court > 0 ? parsed.court : null;
  const confirmation = parsed.confirmation?.trim() || null;
  if (parsed.success && court !== null && confirmation !== null) {
    return BookingResult.success({ request, court, confirmationCode: confirmation, metadata, message: parsed.message });
  }
  if (parsed.success) {
    const missing = [court === null ? 'a court' : null, confirmation === null ? 'a confirmation code' : null].filter(Boolean).join(' and ');
    return BookingResult.failure({
      request,
      outcome: 'error',
      court,
      errors: [`legacy result reported success without ${missing}; the site may hold a booking, check it before any retry`],
      message: parsed.message,
      metadata,
    });
  }
  return BookingResult.failure({
    request,
    outcome: guessOutcomeFromText(parsed.error ?? parsed.message),
    court,
    errors: parsed.error === null ? [] : [parsed.error],
    message: parsed.message ?? (parsed.error === null ? 'legacy result reported failure without an error or message' : null),
    metadata,
  });
}
