import { describe, expect, it } from 'vitest';
import { nextStep, sameCourtRetryMs, type NextStep, type SameCourtRetryArgs } from '../src/booking/court-fallback.js';
import type { BookingOutcome } from '../src/contracts/index.js';

/**
 * The court-fallback rule as a table: every outcome, submitted or not. A submit whose answer is not the
 * site's "no" ends the booking as unknown (the site may hold it: never a second court for one person). The
 * site's refusals (rate limit past its retries, a rejected form, irregular usage) stop the booking failed:
 * another court would get the same refusal.
 */
const TABLE: Array<[BookingOutcome, boolean, NextStep]> = [
  ['booked', true, 'booked'],
  ['slot_taken', false, 'next_court'],
  ['slot_taken', true, 'next_court'],
  ['not_open_yet', false, 'next_court'],
  ['not_open_yet', true, 'next_court'],
  ['site_changed', false, 'next_court'],
  ['site_changed', true, 'stop_unknown'],
  ['timeout', false, 'next_court'],
  ['timeout', true, 'stop_unknown'],
  ['error', false, 'next_court'],
  ['error', true, 'stop_unknown'],
  ['site_blocked', false, 'stop_failed'],
  // After a submit the flagged POST may be Chromium's re-send of one that booked: not the site's "no".
  ['site_blocked', true, 'stop_unknown'],
  ['rate_limited', false, 'stop_failed'],
  ['rate_limited', true, 'stop_failed'],
  ['form_rejected', false, 'stop_failed'],
  ['form_rejected', true, 'stop_failed'],
  ['invalid_request', false, 'stop_failed'],
  ['interrupted', false, 'stop_interrupted'],
  ['interrupted', true, 'stop_unknown'],
  ['unknown', true, 'stop_unknown'],
  ['unknown', false, 'stop_unknown'],
];

describe('nextStep (court fallback)', () => {
  it.each(TABLE)('%s, submitted %s → %s', (outcome, submitted, step) => {
    expect(nextStep(outcome, submitted)).toBe(step);
  });

  it('covers every outcome', () => {
    const outcomes = new Set(TABLE.map(([outcome]) => outcome));
    expect([...outcomes].sort()).toEqual([
      'booked', 'error', 'form_rejected', 'interrupted', 'invalid_request', 'not_open_yet', 'rate_limited', 'site_blocked', 'site_changed', 'slot_taken', 'timeout', 'unknown',
    ]);
  });
});

/** Fire at 0, budget 10 s (deadline 10_000), retry interval 250 ms. */
const base = { deadlineMs: 10_000, retryIntervalMs: 250 };
/** [outcome, Retry-After ms (undefined: none), now ms, wait ms or null (stop)]. */
const RETRIES: Array<[BookingOutcome, number | undefined, number, number | null]> = [
  ['not_open_yet', undefined, 0, 250],
  ['not_open_yet', undefined, 9_999, 250],
  ['not_open_yet', undefined, 10_000, null],
  ['rate_limited', 2_000, 0, 2_000],
  ['rate_limited', 2_000, 8_000, 2_000],
  ['rate_limited', 2_000, 8_001, null],
  ['rate_limited', undefined, 0, 1_000],
  ['rate_limited', undefined, 9_001, null],
  ['rate_limited', 0, 0, 250],
  ['rate_limited', 30_000, 0, null],
  ['slot_taken', undefined, 0, null],
  ['form_rejected', undefined, 0, null],
  ['site_blocked', undefined, 0, null],
  ['timeout', undefined, 0, null],
];

describe('sameCourtRetryMs (retries of the same court)', () => {
  it.each(RETRIES)('%s, Retry-After %s ms, at %s ms → %s', (outcome, retryAfterMs, nowMs, waitMs) => {
    const args: SameCourtRetryArgs = { ...base, outcome, nowMs, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    expect(sameCourtRetryMs(args)).toBe(waitMs);
  });
});
