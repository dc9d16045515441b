import { bookAndWait, countStatuses, FINAL_STATUSES, phaseSeries, progress, rateLimitedPosts, type Wish } from './bookings.js';
import type { BenchSettings } from './env.js';
import { withHarness } from './harness.js';
import { latencyStats, round1, seriesStats, type LatencyStats } from './stats.js';
import { BENCH_DATE, BURST_VENUE, BURST_VENUE_ID, releaseMsOf, slotTimesOf } from './venues.js';

/**
 * The `burst` part: {@link BURST_SIZE} reservations (10 courts × 10 slot times of one date) that release at
 * the same instant (`daysBefore`+`at` rule), with `daemon.maxConcurrentBookings` = the number of pages.
 * The daemon claims them `burstLeadMs` before the release and warms one page each; the part measures how
 * long that took and when the LAST submit reached the site.
 */

/** Reservations in the burst. */
export const BURST_SIZE = 100;

/** How long after the release the part waits for outcomes before it reports what it has, ms. */
export const AFTER_RELEASE_WAIT_MS = 30_000;

/** Result of {@link runBurst}. */
export interface BurstResult {
  n: number;
  pages: number;
  /** Site arrival of the last booking POST (accepted or not) − the site's release, ms (site clock). */
  last_submit_ms: number | null;
  /** Site arrival of the first submit − the release, ms. */
  first_submit_ms: number | null;
  /** Court-slots the site booked for reservd. */
  booked: number;
  /** Booking POSTs that reached the site. */
  submits: number;
  /** Lag of each reservation's decisive submit (booked or slot taken). */
  lag_ms: LatencyStats;
  /**
   * Daemon: first claim → last "page ready" (how long warming all pages took), ms; null when some page was
   * not ready before its fire instant (the executor only logs "page ready" when it still has to wait).
   */
  prepare_ms: number | null;
  /** Last "page ready" − the local fire instant (release − skew), ms (negative: ready in time); among the pages ready in time. */
  last_page_ready_ms: number | null;
  /** Pages that were ready before the release. */
  pages_ready_before_release: number;
  /** Booking POSTs the site's limiter answered 429 (10 req/s, 20 concurrent per client address). */
  rate_limited_posts: number;
  /** Reservations not final when the part stopped waiting ({@link AFTER_RELEASE_WAIT_MS} after the release). */
  unfinished: number;
  prepare_lead_ms: number;
  db_pool_max: number;
  breakdown_ms: ReturnType<typeof seriesStats>;
  outcomes: Record<string, number>;
}

/** Runs the burst on its own daemon. */
export async function runBurst(settings: BenchSettings): Promise<BurstResult> {
  const times = slotTimesOf(BURST_VENUE, BENCH_DATE);
  const courts = Object.keys(BURST_VENUE.courts as Record<string, unknown>).map(Number);
  const releaseMs = releaseMsOf(BURST_VENUE, BENCH_DATE, times[0]!);
  const wishes: Wish[] = [];
  for (const time of times) {
    for (const court of courts) wishes.push({ slot: { venue: BURST_VENUE_ID, date: BENCH_DATE, time, releaseMs }, court, userIndex: court - 1 });
  }
  if (wishes.length !== BURST_SIZE || times.some((t) => releaseMsOf(BURST_VENUE, BENCH_DATE, t) !== releaseMs)) {
    throw new Error(`burst venue must give ${BURST_SIZE} court-slots releasing together (got ${wishes.length})`);
  }
  progress('burst', `${BURST_SIZE} reservations releasing at one instant, ${settings.burstPages} pages, prepareLeadMs ${settings.burstLeadMs}, db pool ${settings.burstDbPool}, site skew ${settings.skewMs} ms`);
  return withHarness(
    {
      venues: { [BURST_VENUE_ID]: BURST_VENUE },
      skewMs: settings.skewMs,
      siteLimiter: settings.siteLimiter,
      daemon: { mode: 'on-time', prepareLeadMs: settings.burstLeadMs, maxConcurrentBookings: settings.burstPages, pollIntervalMs: 1_000 },
      dbPoolMax: settings.burstDbPool,
      // The rows are inserted a little before the claim horizon: the daemon sleeps to it exactly.
      startAtMs: releaseMs - settings.burstLeadMs - 3_000,
      users: courts.length,
      captureLogs: true,
    },
    async (harness) => {
      const outcomes = await bookAndWait(harness, wishes, settings.burstLeadMs + 3_000 + AFTER_RELEASE_WAIT_MS, { allowUnfinished: true });
      const logs = harness.logs!;
      const claims = logs.matching(/ claimed; /).map((e) => e.atMs);
      const ready = logs.matching(/^page ready; waiting for the release instant/).map((e) => e.atMs);
      const arrivals = harness.sandbox.site.submits()
        .filter((s) => s.venue === BURST_VENUE_ID && s.date === BENCH_DATE)
        .map((s) => s.arrivedAtMs - releaseMs);
      const result: BurstResult = {
        n: BURST_SIZE,
        pages: settings.burstPages,
        last_submit_ms: arrivals.length ? round1(Math.max(...arrivals)) : null,
        first_submit_ms: arrivals.length ? round1(Math.min(...arrivals)) : null,
        booked: outcomes.filter((o) => o.won).length,
        submits: arrivals.length,
        lag_ms: latencyStats(outcomes.filter((o) => o.lagMs !== null).map((o) => o.lagMs!)),
        prepare_ms: claims.length && ready.length === BURST_SIZE ? Math.round(Math.max(...ready) - Math.min(...claims)) : null,
        // The daemon fires on the site's clock: compare page readiness with the release in bench-clock terms.
        last_page_ready_ms: ready.length ? Math.round(Math.max(...ready) - (releaseMs - harness.skewMs)) : null,
        pages_ready_before_release: ready.filter((at) => at < releaseMs - harness.skewMs).length,
        rate_limited_posts: rateLimitedPosts(harness),
        unfinished: outcomes.filter((o) => !FINAL_STATUSES.includes(o.status)).length,
        prepare_lead_ms: settings.burstLeadMs,
        db_pool_max: settings.burstDbPool,
        breakdown_ms: seriesStats(phaseSeries(outcomes)),
        outcomes: countStatuses(outcomes),
      };
      progress('burst', `claims ${claims.length}, pages ready ${ready.length} (prepare ${result.prepare_ms} ms, last ready ${result.last_page_ready_ms} ms vs release), ${result.rate_limited_posts} POSTs answered 429, unfinished ${result.unfinished}, submits ${result.submits}, first ${result.first_submit_ms} ms, last ${result.last_submit_ms} ms, booked ${result.booked}, outcomes ${JSON.stringify(result.outcomes)}`);
      progress('burst', `phases ${JSON.stringify(result.breakdown_ms)}`);
      return result;
    },
  );
}
