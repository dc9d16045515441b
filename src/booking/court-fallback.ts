import { DEFINITIVE_NOT_BOOKED, type BookingOutcome } from '../contracts/index.js';

/**
 * The court-fallback rule (docs/architecture.md "Where each rule lives"): after one attempt on one court,
 * what the executor does next, and when the same court is submitted again. Pure: the table test in
 * test/court-fallback.test.ts pins every row.
 */

/**
 * - `booked`: done, the site confirmed the booking;
 * - `next_court`: the site did not book this court and nothing was sent that may have booked: try the next
 *   preferred court (or end `failed` after the last);
 * - `stop_failed`: a definitive answer that no other court changes (a block, a rejected form, a rate limit
 *   past its retry budget, an invalid request);
 * - `stop_interrupted`: stopped before anything that may have booked was sent (the row goes back);
 * - `stop_unknown`: the form was submitted and the answer does not say whether the site booked: the site may
 *   hold a booking, so no other court is submitted (never a second booking for one person).
 */
export type NextStep = 'booked' | 'next_court' | 'stop_failed' | 'stop_interrupted' | 'stop_unknown';

/** After a submit, only these answers prove the site took no booking (its "no"). */
const DEFINITIVE_NO: ReadonlySet<BookingOutcome> = new Set(DEFINITIVE_NOT_BOOKED);

/** Outcomes, with nothing submitted, after which the next preferred court is tried. */
const NEXT_COURT: ReadonlySet<BookingOutcome> = new Set(['slot_taken', 'not_open_yet', 'site_changed', 'timeout', 'error']);

/**
 * What follows an attempt that ended with `outcome` (`booked` only with a confirmation code: a `booked`
 * without one is `site_changed`), `submitted` telling whether its submit was sent. `rate_limited` and
 * `form_rejected` stop the booking `failed`: another court would get the same refusal (`rate_limited` reaches
 * here only once its same-court retries are spent, {@link sameCourtRetryMs}). `site_blocked` stops it too:
 * `failed` when nothing was submitted (an alert without a POST, the venue's cool-off), `unknown` after a
 * submit (the flagged POST may be the browser's re-send of one that booked: reconciliation looks).
 */
export function nextStep(outcome: BookingOutcome, submitted: boolean): NextStep {
  if (outcome === 'booked') return 'booked';
  if (submitted && !DEFINITIVE_NO.has(outcome)) return 'stop_unknown';
  if (outcome === 'unknown') return 'stop_unknown';
  if (outcome === 'interrupted') return 'stop_interrupted';
  return NEXT_COURT.has(outcome) ? 'next_court' : 'stop_failed';
}

/** Wait before the same court is submitted again after a 429 that gave no `Retry-After`, ms. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/** What {@link sameCourtRetryMs} decides from. */
export interface SameCourtRetryArgs {
  outcome: BookingOutcome;
  /** The site's `Retry-After` of a `rate_limited` answer, ms (absent: {@link DEFAULT_RETRY_AFTER_MS}). */
  retryAfterMs?: number | undefined;
  /** Now, epoch ms. */
  nowMs: number;
  /** End of the attempt's retry budget (fire instant + `notOpenRetryBudgetMs`), epoch ms. */
  deadlineMs: number;
  /** Pause between "not open yet" retries, ms; also the shortest wait after a 429. */
  retryIntervalMs: number;
}

/**
 * How long to wait before submitting the same court again, or null to stop there (then {@link nextStep}
 * decides). `not_open_yet`: every `retryIntervalMs` while `nowMs` is before `deadlineMs`. `rate_limited`: once
 * per 429, never sooner than its `Retry-After` (nor sooner than `retryIntervalMs`, should the site say 0),
 * and only when that retry still falls within the budget. Anything else: null.
 */
export function sameCourtRetryMs(args: SameCourtRetryArgs): number | null {
  const { outcome, nowMs, deadlineMs, retryIntervalMs } = args;
  if (outcome === 'not_open_yet') return nowMs < deadlineMs ? retryIntervalMs : null;
  if (outcome !== 'rate_limited') return null;
  const waitMs = Math.max(args.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS, retryIntervalMs);
  return nowMs + waitMs <= deadlineMs ? waitMs : null;
}
