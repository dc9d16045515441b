import { Cron, CronPattern, type CronOptions } from 'croner';
import { Temporal } from 'temporal-polyfill';

/**
 * The cron release rule's clock-free half (pure: no clock, no I/O). croner does the cron arithmetic; this
 * module pins the options and the edges around it.
 *
 * - Patterns have 5 or 6 fields (optional seconds first, no year field) and are read in the venue's zone.
 * - The seconds, minute and hour fields must name fixed times (numbers, lists, ranges; no `*`, `?` or `/`).
 *   croner treats such a job as fixed-time (option `fixedTimeRule: "no-wildcard"`): a time inside a DST gap
 *   fires at the first instant after the gap, a time that occurs twice fires once, at the earlier occurrence —
 *   the policy of docs/release-rules.md (C02, C04, C05). Interval patterns (`*\/30`, `0 * * * *`) would
 *   instead skip gap times and fire twice in an overlap, so they are refused for releases.
 * - `new Cron(pattern, { paused: true })` with no callback arms no timer, and every `nextRun` call here gets
 *   an explicit start, so no answer depends on the clock (croner makes a default `new Date()` it then ignores).
 */

/** The croner options every release schedule uses (validation and computation must agree). */
const CRON_OPTIONS = { mode: '5-or-6-parts', fixedTimeRule: 'no-wildcard' } as const satisfies CronOptions;

/** A reference instant for "does this pattern ever fire?" (any date works: patterns have no year field). */
const PROBE_FROM = new Date(Date.UTC(2000, 0, 1));

/** How many runs past a wall-clock date that went backwards we look at before giving up (see {@link firstCronReleaseFrom}). */
const MAX_BACKWARD_RUNS = 8;

/** Parses `pattern` with the release options; returns the parsed pattern or why it is not one. */
function parsePattern(pattern: string): CronPattern | string {
  // croner reads any string with a ':' as a one-shot ISO date, not as a pattern.
  if (pattern.includes(':')) return `"${pattern}" looks like a date or time; a release schedule is a cron pattern such as "0 7 * * *"`;
  try {
    return new CronPattern(pattern, undefined, CRON_OPTIONS);
  } catch (err) {
    return `"${pattern}" is not a valid cron pattern (5 fields, or 6 with seconds first): ${(err as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

/**
 * Why `pattern` cannot be a release schedule, as a sentence fragment for a config error; null when it can.
 * Accepts what croner accepts in 5 or 6 fields (`@daily`-style nicknames too), provided the seconds, minute
 * and hour fields are fixed (see the module notes) and the pattern matches at least one real date.
 */
export function findReleaseCronProblem(pattern: string): string | null {
  const parsed = parsePattern(pattern);
  if (typeof parsed === 'string') return parsed;
  if (!parsed.isFixedTime) {
    return `"${pattern}" is an interval pattern: the seconds, minute and hour fields must name fixed times (e.g. "0 7 * * *" or "30 6,18 * * *"), because "*", "?" and "/" steps skip or repeat runs across daylight-saving changes`;
  }
  if (createCron(pattern, 'UTC').nextRun(PROBE_FROM) === null) return `"${pattern}" never matches a real date`;
  return null;
}

function createCron(pattern: string, timeZone: string): Cron {
  return new Cron(pattern, { ...CRON_OPTIONS, timezone: timeZone, paused: true });
}

/**
 * The next `count` instants of a cron schedule in `timeZone`, each STRICTLY after `after` (an instant exactly
 * at `after` is not included), earliest first. Fixed-time patterns follow the release policy (module notes).
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
  const parsed = parsePattern(pattern);
  if (typeof parsed === 'string') throw new RangeError(`cron: ${parsed}`);
  const cron = createCron(pattern, timeZone);
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
