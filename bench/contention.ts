import { bookAndWait, countStatuses, describeForLog, phaseSeries, progress, rateLimitedPosts, standBefore, type Wish, type WishOutcome } from './bookings.js';
import type { BenchHarness } from './harness.js';
import { latencyStats, seriesStats, type LatencyStats } from './stats.js';
import type { SlotSequence } from './venues.js';

/**
 * Contention (the `contention` part): per release instant, court i of the slot time (i = 1..4) is wanted by
 * one reservation of its own user AND by a competing booker built into the sandbox that books at
 * release + {@link COMPETITOR_DELAYS_MS}[i − 1] on the site's clock. A win = the site's booking of that
 * court-slot is reservd's. One round covers all four delays.
 */

/** Competitor delays after the release, ms, for courts 1..4. */
export const COMPETITOR_DELAYS_MS = [50, 100, 250, 500] as const;

/** Result of {@link measureContention}. */
export interface ContentionResult {
  /** Share of releases won (0–1) per competitor delay, keyed by the delay in ms. */
  winRate: Record<string, number>;
  wins: Record<string, number>;
  /** Releases per delay. */
  n: number;
  /** reservd's decisive submit arrival − release (site clock), all courts, won or lost. */
  lagMs: LatencyStats;
  breakdownMs: ReturnType<typeof seriesStats>;
  outcomes: Record<string, number>;
  /** Booking POSTs the site's limiter answered 429 (four pages fire at once from one address). */
  rateLimitedPosts: number;
}

/** Runs `rounds` contended releases on `harness` (users 0..3), the clock `leadMs` before each. */
export async function measureContention(
  harness: BenchHarness,
  slots: SlotSequence,
  options: { rounds: number; leadMs: number; keepWithinMs: number; roundTimeoutMs: number },
): Promise<ContentionResult> {
  const all: WishOutcome[] = [];
  const wins: Record<string, number> = Object.fromEntries(COMPETITOR_DELAYS_MS.map((d) => [String(d), 0]));
  const limitedBefore = rateLimitedPosts(harness);
  for (let round = 0; round < options.rounds; round++) {
    const slot = slots.next();
    standBefore(harness, slot.releaseMs, options.leadMs, options.keepWithinMs);
    const standMs = slot.releaseMs - harness.clock.now();
    const wishes: Wish[] = COMPETITOR_DELAYS_MS.map((_, i) => ({ slot, court: i + 1, userIndex: i }));
    // Scheduled after the clock move: a competitor sleeps toward its instant on the shared clock.
    COMPETITOR_DELAYS_MS.forEach((delayMs, i) => harness.sandbox.site.scheduleCompetitor({ venue: slot.venue, court: i + 1, date: slot.date, time: slot.time }, delayMs));
    const outcomes = await bookAndWait(harness, wishes, standMs + options.roundTimeoutMs);
    await harness.sandbox.site.competitorsSettled();
    const line = outcomes.map((o, i) => {
      const delay = String(COMPETITOR_DELAYS_MS[i]);
      if (o.won) wins[delay] = (wins[delay] ?? 0) + 1;
      return `+${delay}: ${o.won ? 'WIN' : 'loss'} ${describeForLog(o)}`;
    });
    all.push(...outcomes);
    progress('contention', `round ${round + 1}/${options.rounds} (${slot.date} ${slot.time}): ${line.join(' | ')}`);
  }
  const winRate = Object.fromEntries(Object.entries(wins).map(([d, w]) => [d, Math.round((w / options.rounds) * 100) / 100]));
  return {
    winRate,
    wins,
    n: options.rounds,
    lagMs: latencyStats(all.filter((o) => o.lagMs !== null).map((o) => o.lagMs!)),
    breakdownMs: seriesStats(phaseSeries(all)),
    outcomes: countStatuses(all),
    rateLimitedPosts: rateLimitedPosts(harness) - limitedBefore,
  };
}
