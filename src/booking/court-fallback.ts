import { DEFINITIVE_NOT_BOOKED, type BookingOutcome } from '../contracts/index.js';

/**
 * The court-fallback rule (docs/architecture.md "Where each rule lives"): after one attempt on one court,
 * what the executor does next. Pure: the table test in test/court-fallback.test.ts pins every row.
 */

/**
 * - `booked`: done, the site confirmed the booking;
 * - `next_court`: the site did not book this court and nothing was sent that may have booked: try the next
 *   preferred court (or end `failed` after the last);
 * - `stop_failed`: a definitive answer that no other court changes (a block page, an invalid request);
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
 * without one is `site_changed`), `submitted` telling whether its submit was sent.
 */
export function nextStep(outcome: BookingOutcome, submitted: boolean): NextStep {
  if (outcome === 'booked') return 'booked';
  if (submitted && !DEFINITIVE_NO.has(outcome)) return 'stop_unknown';
  if (outcome === 'unknown') return 'stop_unknown';
  if (outcome === 'interrupted') return 'stop_interrupted';
  return NEXT_COURT.has(outcome) ? 'next_court' : 'stop_failed';
}
