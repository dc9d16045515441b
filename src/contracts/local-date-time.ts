import { z } from 'zod';
import { badValue } from './parse-field.js';

const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_TEXT = /^([01]\d|2[0-3]):[0-5]\d$/;

/** True when `year-month-day` exists in the proleptic Gregorian calendar (leap years included). */
function isRealDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  return day <= days;
}

/** True when `text` is `YYYY-MM-DD` naming a real calendar date (`2027-02-30` is not). */
function isLocalDate(text: string): boolean {
  const m = DATE_TEXT.exec(text);
  return m !== null && isRealDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** True when `text` is strict 24-hour `HH:MM` (`07:00`; not `7:00`, `07:00:00` or `24:00`). */
function isLocalTime(text: string): boolean {
  return TIME_TEXT.test(text);
}

/**
 * A venue-local calendar date, `YYYY-MM-DD` text (`targetDate` is a calendar date in the venue's zone; no
 * zone, no instant). Rejects impossible dates such as `2027-02-30`. Postgres `date` columns only
 * arrive as this text because reservd's pg type parsers keep DATE (OID 1082) as text (`src/db/pg-types.ts`,
 * case C08 in docs/release-rules.md); a `Date` object is rejected.
 */
export const localDateSchema = z
  .string({ error: badValue('is not date text') })
  .refine(isLocalDate, { error: badValue('is not a real calendar date in YYYY-MM-DD form') });

/**
 * A venue-local wall-clock start time, strict 24-hour `HH:MM` text. Seconds are rejected on
 * purpose (zod's `z.iso.time()` would accept them): a Postgres `time` column arrives as
 * `07:00:00` and must be formatted to `HH:MM` before it reaches a builder.
 */
export const localTimeSchema = z
  .string({ error: badValue('is not time text') })
  .refine(isLocalTime, { error: badValue('is not a 24-hour HH:MM time') });
