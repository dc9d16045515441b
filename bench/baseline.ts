import { progress } from './bookings.js';
import type { BenchSettings } from './env.js';
import { measureSequentialLag, type SequentialLagResult } from './fire-lag.js';
import { withHarness } from './harness.js';
import { ROUND_TIMEOUT_MS } from './on-time.js';
import { createSlotSequence, SEQUENTIAL_VENUE, SEQUENTIAL_VENUE_ID } from './venues.js';

/**
 * The `baseline` part: reservd in `daemon.mode: "polling-baseline"` (how a generic job queue would run the
 * job: a fixed 2 s poll that picks up rows whose release has passed, no LISTEN wake-up, no site-clock
 * estimate, a fresh browser per booking), over sequential releases. The clock is put at a random point
 * 0–{@link BASELINE_POLL_MS} ms before each release so the poll phase differs from round to round.
 */

/** The baseline's poll interval, ms. */
export const BASELINE_POLL_MS = 2_000;

/** Runs the baseline rounds on their own daemon. */
export async function runBaseline(settings: BenchSettings): Promise<SequentialLagResult> {
  const slots = createSlotSequence(SEQUENTIAL_VENUE_ID, SEQUENTIAL_VENUE);
  progress('baseline', `${settings.baselineRounds} releases, polling-baseline (poll ${BASELINE_POLL_MS} ms), site skew ${settings.baselineSkewMs} ms, clock 0–${BASELINE_POLL_MS} ms before each release`);
  const result = await withHarness(
    {
      venues: { [SEQUENTIAL_VENUE_ID]: SEQUENTIAL_VENUE },
      skewMs: settings.baselineSkewMs,
      siteLimiter: settings.siteLimiter,
      daemon: { mode: 'polling-baseline', pollIntervalMs: BASELINE_POLL_MS },
      // Well before the first release: every round then moves the clock forward.
      startAtMs: slots.peek().releaseMs - 60_000,
      users: 1,
    },
    (harness) =>
      measureSequentialLag(harness, slots, {
        part: 'baseline',
        rounds: settings.baselineRounds,
        leadMs: () => Math.random() * BASELINE_POLL_MS,
        keepWithinMs: 0,
        roundTimeoutMs: ROUND_TIMEOUT_MS,
      }),
  );
  progress('baseline', `fire lag ${JSON.stringify(result.lagMs)}; outcomes ${JSON.stringify(result.outcomes)}`);
  return result;
}
