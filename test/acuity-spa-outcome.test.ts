import { describe, expect, it } from 'vitest';
import { outcomeOfAnswer, parseRetryAfterMs, type SpaAnswer, type SpaOutcome } from '../src/booking/flows/acuity-spa-outcome.js';
import type { AcuitySpaTarget } from '../src/booking/flows/acuity-spa-target.js';

/** How the booking XHR's refusals map onto outcomes (pure; the Chromium path is in flow-acuity-spa.test.ts). */

const TARGET: AcuitySpaTarget = {
  baseUrl: 'http://127.0.0.1:1', ownerKey: 'a3f09c1e', court: 1, appointmentTypeId: 70000101, calendarId: 9000201,
  date: '2027-07-23', time: '09:00', utcOffset: '-06:00',
};
/** When the answer came: 2027-07-21T15:00:00Z. */
const NOW_MS = Date.parse('2027-07-21T15:00:00Z');
const response = (status: number, body: unknown, headers?: Record<string, string>): SpaAnswer => ({ kind: 'response', status, body, ...(headers ? { headers } : {}) });
const limitBody = { status_code: 429, error: 'too_many_requests', message: 'Rate limit reached.' };

const ROWS: Array<[string, SpaAnswer, SpaOutcome]> = [
  ['429 with Retry-After in seconds', response(429, limitBody, { 'retry-after': '3' }),
    { outcome: 'rate_limited', confirmationCode: null, retryAfterMs: 3000, message: 'rate limited (HTTP 429, Retry-After 3000 ms): Rate limit reached.' }],
  ['429 with an HTTP-date, measured from the answer\'s Date header', response(429, limitBody, { 'retry-after': 'Wed, 21 Jul 2027 15:00:07 GMT', date: 'Wed, 21 Jul 2027 15:00:02 GMT' }),
    { outcome: 'rate_limited', confirmationCode: null, retryAfterMs: 5000, message: 'rate limited (HTTP 429, Retry-After 5000 ms): Rate limit reached.' }],
  ['429 with an HTTP-date and no Date header, measured from the receipt', response(429, limitBody, { 'retry-after': 'Wed, 21 Jul 2027 15:00:02 GMT' }),
    { outcome: 'rate_limited', confirmationCode: null, retryAfterMs: 2000, message: 'rate limited (HTTP 429, Retry-After 2000 ms): Rate limit reached.' }],
  ['429 without Retry-After', response(429, limitBody, {}),
    { outcome: 'rate_limited', confirmationCode: null, message: 'rate limited (HTTP 429, no Retry-After): Rate limit reached.' }],
  ['429 with an unreadable Retry-After', response(429, limitBody, { 'retry-after': 'soon' }),
    { outcome: 'rate_limited', confirmationCode: null, message: 'rate limited (HTTP 429, no Retry-After): Rate limit reached.' }],
  ['400 bad_request with the field message', response(400, { status_code: 400, error: 'bad_request', message: 'email is invalid.' }),
    { outcome: 'form_rejected', confirmationCode: null, message: 'the site refused the form (HTTP 400): email is invalid.' }],
  ['403 with a message', response(403, { status_code: 403, error: 'forbidden', message: 'phone is not allowed.' }),
    { outcome: 'form_rejected', confirmationCode: null, message: 'the site refused the form (HTTP 403): phone is not allowed.' }],
  ['404 without a body', response(404, null), { outcome: 'error', confirmationCode: null, message: 'HTTP 404: HTTP 404' }],
  ['409', response(409, { error: 'conflict', message: 'The time you have selected is already booked.' }),
    { outcome: 'slot_taken', confirmationCode: null, message: 'The time you have selected is already booked.' }],
  ['422 irregular usage', response(422, { error: 'irregular_usage', message: 'Se detectó un uso irregular del sitio.' }),
    { outcome: 'site_blocked', confirmationCode: null, message: 'Se detectó un uso irregular del sitio.' }],
  ['422 time_unavailable', response(422, { error: 'time_unavailable', message: 'gone' }),
    { outcome: 'slot_taken', confirmationCode: null, message: 'not available after the release: gone' }],
  ['422 other', response(422, { error: 'unprocessable', message: 'odd' }), { outcome: 'error', confirmationCode: null, message: 'HTTP 422: odd' }],
  ['500', response(500, { error: 'internal_error', message: 'Internal error' }), { outcome: 'error', confirmationCode: null, message: 'HTTP 500: Internal error' }],
];

describe('outcomeOfAnswer: the site\'s refusals', () => {
  it.each(ROWS)('%s', (_name, answer, expected) => {
    expect(outcomeOfAnswer(answer, TARGET, NOW_MS)).toEqual(expected);
  });
});

describe('parseRetryAfterMs', () => {
  const ROWS_MS: Array<[string | undefined, string | undefined, number | undefined, number | undefined]> = [
    ['0', undefined, NOW_MS, 0],
    ['120', undefined, undefined, 120_000],
    [' 2 ', undefined, NOW_MS, 2000],
    ['Wed, 21 Jul 2027 15:00:10 GMT', undefined, NOW_MS, 10_000],
    ['Wed, 21 Jul 2027 14:59:00 GMT', undefined, NOW_MS, 0],
    ['Wed, 21 Jul 2027 15:00:10 GMT', 'Wed, 21 Jul 2027 15:00:09 GMT', NOW_MS, 1000],
    ['Wed, 21 Jul 2027 15:00:10 GMT', undefined, undefined, undefined],
    ['-1', undefined, NOW_MS, undefined],
    ['', undefined, NOW_MS, undefined],
    [undefined, undefined, NOW_MS, undefined],
  ];
  it.each(ROWS_MS)('Retry-After %j, Date %j, now %j → %j ms', (value, date, nowMs, expected) => {
    expect(parseRetryAfterMs(value, date, nowMs)).toBe(expected);
  });
});
