import { Temporal } from 'temporal-polyfill';
import { directSlotSegment } from '../booking/flows/acuity-urls.js';
import type { ReleaseRule } from '../config/schema.js';
import { ReservdError } from '../errors.js';
import { firstCronReleaseFrom } from './cron-release.js';

/**
 * Release-time rules (pure: no clock, no I/O). The policy, and the cases C01–C10 that pin it, are in
 * docs/release-rules.md:
 *
 * - `hoursBefore: N` — N ELAPSED hours before the slot's start instant (C01, C03).
 * - `daysBefore: N, at: "HH:MM"` — that wall-clock time in the venue's zone, N CALENDAR days before the
 *   slot date (C03).
 * - `cron: "0 7 * * *", horizonDays: N` — at each run of the cron schedule (venue's zone, croner) the slots up
 *   to N venue-local calendar days ahead open: the release is the first run whose local date is on or after
 *   the slot date minus N days; a run at exactly the first instant of that day counts (C02, C04, C05, C06;
 *   `./cron-release.ts`). A rule that releases a slot at or after its start makes the reservation rejected.
 * - A release wall-clock time inside a DST gap → the first instant after the gap (what croner does too);
 *   one that occurs twice (DST overlap) → the earlier occurrence (C04, C05).
 * - A slot start time that does not exist in the venue's zone → {@link SlotTimeError}; the reservation is
 *   rejected with a reason naming the gap. One that occurs twice → the earlier occurrence (C05).
 *
 * All arithmetic goes through Temporal (IANA zones, DST); the host's zone never leaks in (C01, C08), and
 * "next day" is calendar arithmetic, never `+24h`.
 */

/** Thrown when a slot's wall-clock start does not exist (or cannot be read) in the venue's zone. */
export class SlotTimeError extends ReservdError {
  /** Always `slot_time_invalid`. */
  declare readonly code: 'slot_time_invalid';
  /** Never retryable: the same slot fails the same way. */
  declare readonly retryable: false;
  /** The column/field at fault: `target_date` or `target_time`. */
  readonly field: 'target_date' | 'target_time';

  /**
   * @param field - the column at fault (see {@link SlotTimeError.field}).
   * @param message - names the date or time and why it is not a slot start.
   * @param options - `cause`: the underlying (Temporal) error, if any.
   */
  constructor(field: 'target_date' | 'target_time', message: string, options?: ErrorOptions) {
    super('slot_time_invalid', message, { ...options, retryable: false });
    this.field = field;
  }
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Parses a `YYYY-MM-DD` calendar date strictly. @throws SlotTimeError (field `target_date`). */
export function parseLocalDate(date: string): Temporal.PlainDate {
  if (!DATE_RE.test(date)) throw new SlotTimeError('target_date', `"${date}" is not a YYYY-MM-DD date`);
  try {
    return Temporal.PlainDate.from(date, { overflow: 'reject' });
  } catch (err) {
    throw new SlotTimeError('target_date', `"${date}" is not a real calendar date`, { cause: err });
  }
}

function parseLocalDateTime(date: string, time: string): Temporal.PlainDateTime {
  const plainDate = parseLocalDate(date);
  if (!TIME_RE.test(time)) throw new SlotTimeError('target_time', `"${time}" is not a 24-hour HH:MM time`);
  return plainDate.toPlainDateTime(Temporal.PlainTime.from(time));
}

/** Earlier occurrence of a wall-clock time, or null when it falls in a DST gap. */
function resolveWallClock(local: Temporal.PlainDateTime, timeZone: string): Temporal.ZonedDateTime | null {
  const earlier = local.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
  return earlier.toPlainDateTime().equals(local) ? earlier : null;
}

/**
 * The slot's start instant: `targetDate` + `targetTime` read as wall-clock time in `timeZone`.
 * A time that occurs twice resolves to the earlier occurrence.
 *
 * @throws SlotTimeError when the date/time text is invalid or the time falls in a DST gap (C05:
 *   2027-03-14 02:30 America/New_York does not exist).
 */
export function slotStartAt(targetDate: string, targetTime: string, timeZone: string): Date {
  const local = parseLocalDateTime(targetDate, targetTime);
  const zoned = resolveWallClock(local, timeZone);
  if (!zoned) {
    throw new SlotTimeError(
      'target_time',
      `${targetDate} ${targetTime} does not exist in ${timeZone} (the clocks skip it: daylight-saving gap)`,
    );
  }
  return new Date(zoned.epochMilliseconds);
}

/**
 * The instant a wall-clock release time happens: inside a DST gap → the first instant after the gap;
 * in an overlap → the earlier occurrence (docs/release-rules.md, same as croner).
 */
export function wallClockReleaseAt(localDate: string, localTime: string, timeZone: string): Date {
  const local = parseLocalDateTime(localDate, localTime);
  const zoned = resolveWallClock(local, timeZone);
  if (zoned) return new Date(zoned.epochMilliseconds);
  const beforeGap = local.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
  const gapEnd = beforeGap.getTimeZoneTransition('next');
  if (!gapEnd) throw new Error(`no time-zone transition after ${beforeGap.toString()} in ${timeZone}`);
  return new Date(gapEnd.epochMilliseconds);
}

/**
 * The release instant of a slot under a venue's release rule.
 *
 * @param rule `{ hoursBefore }` (elapsed hours), `{ daysBefore, at }` (calendar days + wall-clock time) or
 *   `{ cron, horizonDays }` (first cron run on or after the slot date minus `horizonDays`, venue-local).
 * @throws SlotTimeError when the slot itself is invalid (see {@link slotStartAt}), or (field `target_date`)
 *   when a cron schedule has no run on or after the slot date minus `horizonDays`.
 */
export function computeReleaseAt(rule: ReleaseRule, targetDate: string, targetTime: string, timeZone: string): Date {
  const slotAt = slotStartAt(targetDate, targetTime, timeZone);
  if ('hoursBefore' in rule) return new Date(slotAt.getTime() - rule.hoursBefore * 3_600_000);
  if ('cron' in rule) {
    const opensFromDate = addDays(targetDate, -rule.horizonDays);
    const releaseAt = firstCronReleaseFrom(rule.cron, timeZone, opensFromDate);
    if (!releaseAt) {
      throw new SlotTimeError('target_date', `the release cron "${rule.cron}" (${timeZone}) has no run on or after ${opensFromDate}`);
    }
    return releaseAt;
  }
  return wallClockReleaseAt(addDays(targetDate, -rule.daysBefore), rule.at, timeZone);
}

/** A release rule as config text, for messages: `{ "cron": "0 7 * * *", "horizonDays": 0 }`. */
export function describeReleaseRule(rule: ReleaseRule): string {
  return `{ ${Object.entries(rule).map(([key, value]) => `"${key}": ${JSON.stringify(value)}`).join(', ')} }`;
}

/** Venue-local calendar date (`YYYY-MM-DD`) and time (`HH:MM`) of an instant. */
export function localDateTime(at: Date | number, timeZone: string): { date: string; time: string } {
  const ms = typeof at === 'number' ? at : at.getTime();
  const zoned = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(timeZone);
  return { date: zoned.toPlainDate().toString(), time: zoned.toPlainTime().toString({ smallestUnit: 'minute' }) };
}

/**
 * The Acuity direct-slot link's datetime segment, built from the SLOT (never from "now") and carrying the
 * venue's offset on that date (C10): `2027-07-23T09:00:00-06:00`. Not percent-encoded.
 *
 * @throws SlotTimeError like {@link slotStartAt}.
 */
export function slotDatetimeSegment(targetDate: string, targetTime: string, timeZone: string): string {
  // The SlotTimeError names the field; the segment itself is the Acuity module's, so both sides agree.
  slotStartAt(targetDate, targetTime, timeZone);
  return directSlotSegment(targetDate, targetTime, timeZone);
}

/** Calendar arithmetic on a `YYYY-MM-DD` date (never `+24h`). @throws SlotTimeError on a bad date. */
export function addDays(date: string, days: number): string {
  return parseLocalDate(date).add({ days }).toString();
}
