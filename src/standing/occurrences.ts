import type { CronPattern } from 'croner';
import { createReleaseCron, parseReleaseCronPattern } from '../config/release-cron.js';
import type { VenueConfig } from '../config/schema.js';
import { computeReleaseAt, localDateTime, SlotTimeError, slotStartAt } from '../scheduling/release-time.js';

/**
 * The occurrences of a standing reservation (pure: no clock, no I/O; `now` is an argument). croner computes
 * the runs of the cron pattern in the venue's zone, with the release schedules' options
 * (`src/config/release-cron.ts`: fixed-time patterns, 5 or 6 fields), so what `validateStanding` accepted is
 * what runs. Across DST (docs/release-rules.md):
 *
 * - an occurrence whose wall-clock time does not exist that day (02:30 on a spring-forward night) is SKIPPED:
 *   the venue has no such slot that day. croner would fire it at the end of the gap (03:00); that run's local
 *   time is not one of the pattern's times, which is how it is recognised;
 * - an occurrence whose wall-clock time happens twice (fall-back night) happens once, at the earlier instant
 *   (croner fires a fixed-time job once; the key is the local date and time anyway, so a second run could not
 *   create a second row).
 */

/** One occurrence of a standing reservation: the slot it wishes for and when that slot is released. */
export interface StandingOccurrence {
  /** Venue-local `YYYY-MM-DDTHH:MM`: the exactly-once key (`reservations.standing_occurrence`). */
  occurrence: string;
  /** Venue-local `YYYY-MM-DD`. */
  targetDate: string;
  /** Venue-local `HH:MM`. */
  targetTime: string;
  /** The slot's start instant. */
  slotAt: Date;
  /** The slot's release under the venue's rule. */
  releaseAt: Date;
}

/** Most cron runs one call looks at (a 5-min grid for 31 days is 8 928 runs; a cap keeps a tick bounded). */
const MAX_RUNS = 10_000;

/** Whether the pattern names local time `HH:MM` (its hour and minute fields; seconds are 0 by validation). */
export function patternHasTime(pattern: CronPattern, time: string): boolean {
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  return pattern.hour[hour] === 1 && pattern.minute[minute] === 1;
}

/** Options of {@link listOccurrences}. */
export interface ListOccurrencesArgs {
  cron: string;
  venue: VenueConfig;
  /** Occurrences start strictly after this instant. */
  after: Date;
  /** Stop once an occurrence's slot starts after this instant (inclusive bound). */
  slotsUntil?: Date;
  /** Stop once an occurrence's release is after this instant. */
  releasedBy?: Date;
  /** Leave out occurrences released at or before this instant (too late to queue). */
  releasedAfter?: Date;
  /** Last venue-local date (inclusive); null = no end. */
  untilDate?: string | null;
  /** Stop after this many occurrences. */
  limit?: number;
}

/**
 * The occurrences of `cron` at `venue` after `after`, earliest first, until the first bound is reached
 * (`releasedBy`, `slotsUntil`, `untilDate`, `limit`, or {@link MAX_RUNS} cron runs), leaving out those
 * released by `releasedAfter`. Occurrences in a DST
 * gap are skipped (module notes). Releases grow with slot starts under every rule kind, so stopping at the
 * first release after `releasedBy` misses none.
 *
 * @throws RangeError when `cron` is not a cron pattern (validate with `validateStanding` first).
 */
export function listOccurrences(args: ListOccurrencesArgs): StandingOccurrence[] {
  const { venue } = args;
  const pattern = parseReleaseCronPattern(args.cron);
  if (typeof pattern === 'string') throw new RangeError(`cron: ${pattern}`);
  const cron = createReleaseCron(args.cron, venue.timeZone);
  const found: StandingOccurrence[] = [];
  const seen = new Set<string>();
  let from = args.after;
  for (let run = 0; run < MAX_RUNS && found.length < (args.limit ?? Infinity); run++) {
    const next = cron.nextRun(from);
    if (!next) break;
    from = next;
    const { date, time } = localDateTime(next, venue.timeZone);
    if (args.untilDate && date > args.untilDate) break;
    if (args.slotsUntil && next.getTime() > args.slotsUntil.getTime()) break;
    const occurrence = `${date}T${time}`;
    // A run moved to the end of a DST gap, or a second run of an hour that happens twice.
    if (!patternHasTime(pattern, time) || seen.has(occurrence)) continue;
    seen.add(occurrence);
    let slotAt: Date;
    let releaseAt: Date;
    try {
      slotAt = slotStartAt(date, time, venue.timeZone);
      releaseAt = computeReleaseAt(venue.releaseRule, date, time, venue.timeZone);
    } catch (err) {
      if (err instanceof SlotTimeError) continue;
      throw err;
    }
    if (args.releasedBy && releaseAt.getTime() > args.releasedBy.getTime()) break;
    if (args.releasedAfter && releaseAt.getTime() <= args.releasedAfter.getTime()) continue;
    found.push({ occurrence, targetDate: date, targetTime: time, slotAt, releaseAt });
  }
  return found;
}

/**
 * The occurrences to materialise at `now`: release not passed (`releaseAt > now`) and within `lookaheadMs`
 * (`releaseAt ≤ now + lookaheadMs`), slot after `createdAt`, date on or before `untilDate`.
 */
export function dueOccurrences(args: { cron: string; venue: VenueConfig; now: Date; lookaheadMs: number; createdAt: Date; untilDate: string | null }): StandingOccurrence[] {
  const after = new Date(Math.max(args.now.getTime(), args.createdAt.getTime()));
  return listOccurrences({ cron: args.cron, venue: args.venue, after, releasedAfter: args.now, releasedBy: new Date(args.now.getTime() + args.lookaheadMs), untilDate: args.untilDate });
}
