import { bookAndWait, countStatuses, describeForLog, phaseSeries, progress, rateLimitedPosts, standBefore, type WishOutcome } from './bookings.js';
import type { BenchHarness } from './harness.js';
import { latencyStats, seriesStats, type LatencyStats } from './stats.js';
import type { SlotSequence } from './venues.js';

/**
 * Fire lag over sequential releases (the `fire_lag` and `baseline` parts): each round takes the next slot
 * time, puts the clock a lead before its release, inserts ONE reservation (court 1) and waits for it.
 * Fire lag = the site's arrival of the accepted booking POST (`submits()[i].arrivedAtMs`) − the slot's
 * release instant by the site's rule, both on the site's clock. The POST leaves the page only after the
 * flow has reloaded the calendar, clicked the time and filled the form: all of that is in the lag.
 */

/** Options of {@link measureSequentialLag}. */
export interface SequentialLagOptions {
  /** Label of the stderr lines. */
  part: string;
  rounds: number;
  /** How long before round `round`'s release the clock is put, ms. */
  leadMs: (round: number) => number;
  /** See `standBefore`: a clock standing between this and the lead before the release is left alone (first round). */
  keepWithinMs: number;
  /** Budget of one round from insert to final status, ms. */
  roundTimeoutMs: number;
}

/** Result of a sequential fire-lag measurement. */
export interface SequentialLagResult {
  /** Fire lag of the rounds whose submit was accepted. */
  lagMs: LatencyStats;
  /** p50/p99 of the fire instant on the site's clock (`fire_at_site`) and of each flow phase. */
  breakdownMs: ReturnType<typeof seriesStats>;
  /** Count of each final status. */
  outcomes: Record<string, number>;
  /** Rounds that fired before the site's release (a wrong or missing site-clock estimate). */
  firedEarly: number;
  /** The site-clock offsets (ms) the daemon fired with, distinct values in order of use. */
  offsetsUsedMs: number[];
  /** Booking POSTs the site's limiter answered 429 during the rounds. */
  rateLimitedPosts: number;
}

/** Runs the rounds on `harness` (see the module comment). */
export async function measureSequentialLag(harness: BenchHarness, slots: SlotSequence, options: SequentialLagOptions): Promise<SequentialLagResult> {
  const outcomes: WishOutcome[] = [];
  const limitedBefore = rateLimitedPosts(harness);
  for (let round = 0; round < options.rounds; round++) {
    const slot = slots.next();
    const leadMs = options.leadMs(round);
    standBefore(harness, slot.releaseMs, leadMs, options.keepWithinMs);
    const standMs = slot.releaseMs - harness.clock.now();
    const [outcome] = await bookAndWait(harness, [{ slot, court: 1, userIndex: 0 }], standMs + options.roundTimeoutMs);
    outcomes.push(outcome!);
    progress(options.part, `round ${round + 1}/${options.rounds} (${slot.date} ${slot.time}, inserted ${Math.round(standMs)} ms before the release): ${describeForLog(outcome!)}`);
  }
  return { ...summarizeLag(outcomes), rateLimitedPosts: rateLimitedPosts(harness) - limitedBefore };
}

/** Lag statistics, phase breakdown and status counts of finished single-court wishes. */
export function summarizeLag(outcomes: readonly WishOutcome[]): Omit<SequentialLagResult, 'rateLimitedPosts'> {
  const accepted = outcomes.filter((o) => o.won && o.lagMs !== null);
  const offsets: number[] = [];
  for (const o of outcomes) {
    const offset = o.attempt?.siteClockOffsetMs;
    if (offset != null && offsets[offsets.length - 1] !== offset) offsets.push(offset);
  }
  return {
    lagMs: latencyStats(accepted.map((o) => o.lagMs!)),
    breakdownMs: seriesStats(phaseSeries(outcomes)),
    outcomes: countStatuses(outcomes),
    firedEarly: outcomes.filter((o) => o.fireAtSiteMs !== null && o.fireAtSiteMs < 0).length,
    offsetsUsedMs: offsets,
  };
}
