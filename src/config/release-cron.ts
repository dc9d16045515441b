import { Cron, CronPattern, type CronOptions } from 'croner';

/**
 * Which cron patterns may be release schedules (pure: no clock, no I/O). The config schema checks a
 * venue's `releaseRule.cron` with {@link findReleaseCronProblem}; `src/scheduling/cron-release.ts` computes
 * the runs with the same croner options ({@link RELEASE_CRON_OPTIONS}), so what validates is what runs.
 *
 * - Patterns have 5 or 6 fields (optional seconds first, no year field) and are read in the venue's zone.
 * - The seconds, minute and hour fields must name fixed times (numbers, lists, ranges; no `*`, `?` or `/`).
 *   croner treats such a job as fixed-time (option `fixedTimeRule: "no-wildcard"`): a time inside a DST gap
 *   fires at the first instant after the gap, a time that occurs twice fires once, at the earlier occurrence —
 *   the policy of docs/release-rules.md (C02, C04, C05). Interval patterns (`*\/30`, `0 * * * *`) would instead
 *   skip gap times and fire twice in an overlap, so they are refused for releases (docs/release-rules.md).
 * - `new Cron(pattern, { paused: true })` with no callback arms no timer, and every `nextRun` call gets an
 *   explicit start, so no answer depends on the clock (croner makes a default `new Date()` it then ignores).
 */

/** The croner options every release schedule uses (validation and computation must agree). */
const RELEASE_CRON_OPTIONS = { mode: '5-or-6-parts', fixedTimeRule: 'no-wildcard' } as const satisfies CronOptions;

/** A reference instant for "does this pattern ever fire?" (any date works: patterns have no year field). */
const PROBE_FROM = new Date(Date.UTC(2000, 0, 1));

/**
 * Parses `pattern` with {@link RELEASE_CRON_OPTIONS}.
 *
 * @returns the parsed pattern, or why it is not one (a sentence fragment naming the pattern).
 */
export function parseReleaseCronPattern(pattern: string): CronPattern | string {
  // croner reads any string with a ':' as a one-shot ISO date, not as a pattern.
  if (pattern.includes(':')) return `"${pattern}" looks like a date or time; a release schedule is a cron pattern such as "0 7 * * *"`;
  try {
    return new CronPattern(pattern, undefined, RELEASE_CRON_OPTIONS);
  } catch (err) {
    return `"${pattern}" is not a valid cron pattern (5 fields, or 6 with seconds first): ${(err as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

/**
 * A paused croner job for `pattern` in `timeZone` with {@link RELEASE_CRON_OPTIONS}: it arms no timer and
 * only answers `nextRun(from)`.
 *
 * @throws whatever croner throws for an invalid pattern or an unknown zone (the latter only at `nextRun`).
 */
export function createReleaseCron(pattern: string, timeZone: string): Cron {
  return new Cron(pattern, { ...RELEASE_CRON_OPTIONS, timezone: timeZone, paused: true });
}

/**
 * Why `pattern` cannot be a release schedule, as a sentence fragment for a config error; null when it can.
 * Accepts what croner accepts in 5 or 6 fields (`@daily`-style nicknames too), provided the seconds, minute
 * and hour fields are fixed (see the module notes) and the pattern matches at least one real date.
 */
export function findReleaseCronProblem(pattern: string): string | null {
  const parsed = parseReleaseCronPattern(pattern);
  if (typeof parsed === 'string') return parsed;
  if (!parsed.isFixedTime) {
    return `"${pattern}" is an interval pattern: the seconds, minute and hour fields must name fixed times (e.g. "0 7 * * *" or "30 6,18 * * *"), because "*", "?" and "/" steps skip or repeat runs across daylight-saving changes`;
  }
  if (createReleaseCron(pattern, 'UTC').nextRun(PROBE_FROM) === null) return `"${pattern}" never matches a real date`;
  return null;
}
