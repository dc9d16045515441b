import { Temporal } from 'temporal-polyfill';
import { createReleaseCron, findReleaseCronProblem, parseReleaseCronPattern } from '../config/release-cron.js';

/**
 * The cron release rule's clock-free half (pure: no clock, no I/O). croner does the cron arithmetic; the
 * options and which patterns qualify live in `src/config/release-cron.ts` (the config schema validates with
 * them), so a schedule runs exactly as it was validated. This module computes the runs and the edges around
 * them (module notes there: DST policy, fixed-time patterns, no timers armed).
 */

/** How many runs past a wall-clock date that went backwards we look at before giving up (see {@link firstCronReleaseFrom}). */
const MAX_BACKWARD_RUNS = 8;

/**
 * The next `count` instants of a cron schedule in `timeZone`, each STRICTLY after `after` (an instant exactly
 * at `after` is not included), earliest first. Fixed-time patterns follow the release policy (`src/config/release-cron.ts`).
 * Interval patterns are accepted here (C06 lists an hourly schedule in UTC) and behave as croner's interval
 * jobs across DST; a release rule refuses them ({@link findReleaseCronProblem}).
 *
 * @param pattern a cron pattern with 5 or 6 fields, read in `timeZone`.
 * @param timeZone IANA zone (validated by the config schema; croner throws on an unknown zone).
 * @param after exclusive start instant.
 * @param count how many instants; fewer come back only if the schedule ends.
 * @throws RangeError when `pattern` is not a cron pattern with 5 or 6 fields.
 */
export function nextCronReleases(pattern: string, timeZone: string, after: Date, count: number): Date[] {
  const parsed = parseReleaseCronPattern(pattern);
  if (typeof parsed === 'string') throw new RangeError(`cron: ${parsed}`);
  const cron = createReleaseCron(pattern, timeZone);
  const runs: Date[] = [];
  // croner drops the milliseconds of its start and returns the first run strictly after that whole second;
  // runs fall on whole seconds, so that is exactly "strictly after `after`".
  let from = after;
  while (runs.length < count) {
    const next = cron.nextRun(from);
    if (!next) break;
    runs.push(next);
    from = next;
  }
  return runs;
}

/**
 * The first release instant of the schedule whose venue-local calendar date is on or after `localDate`
 * (`YYYY-MM-DD`). A run at exactly the first instant of that day counts (local midnight, or the end of a
 * gap on days that start without a midnight, e.g. America/Santiago on 2027-09-05).
 *
 * @returns the instant, or null when the schedule has no such run (croner searches up to the year 3000).
 * @throws RangeError when `pattern` is not a release cron pattern ({@link findReleaseCronProblem}) or
 *   `localDate` is not a real `YYYY-MM-DD` date.
 */
export function firstCronReleaseFrom(pattern: string, timeZone: string, localDate: string): Date | null {
  const problem = findReleaseCronProblem(pattern);
  if (problem) throw new RangeError(`release cron: ${problem}`);
  const startOfDayMs = Temporal.PlainDate.from(localDate, { overflow: 'reject' }).toZonedDateTime(timeZone).epochMilliseconds;
  // "Strictly after" one millisecond earlier = "at or after" the start of the day.
  let from = new Date(startOfDayMs - 1);
  for (let i = 0; i < MAX_BACKWARD_RUNS; i++) {
    const [next] = nextCronReleases(pattern, timeZone, from, 1);
    if (!next) return null;
    // A zone whose clocks go back across midnight shows an earlier date after the start of the day; skip those.
    if (Temporal.Instant.fromEpochMilliseconds(next.getTime()).toZonedDateTimeISO(timeZone).toPlainDate().toString() >= localDate) return next;
    from = next;
  }
  return null;
}
