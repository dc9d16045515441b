import { describe, expect, it } from 'vitest';
import { nextStep, type NextStep } from '../src/booking/court-fallback.js';
import type { BookingOutcome } from '../src/contracts/index.js';

/**
 * The court-fallback rule as a table: every outcome, submitted or not. A submit whose answer is not the
 * site's "no" ends the booking as unknown (the site may hold it: never a second court for one person).
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
  ['site_blocked', true, 'stop_unknown'],
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
    expect([...outcomes].sort()).toEqual(['booked', 'error', 'interrupted', 'invalid_request', 'not_open_yet', 'site_blocked', 'site_changed', 'slot_taken', 'timeout', 'unknown']);
  });
});
