import { progress } from './bookings.js';
import { measureContention, type ContentionResult } from './contention.js';
import type { BenchSettings } from './env.js';
import { measureSequentialLag, type SequentialLagResult } from './fire-lag.js';
import { withHarness, type BenchHarness } from './harness.js';
import { createSlotSequence, SEQUENTIAL_VENUE, SEQUENTIAL_VENUE_ID } from './venues.js';

/**
 * The parts that run on ONE default-mode (`on-time`) daemon against a skewed site: `fire_lag`, then
 * `contention`. The daemon starts with the clock `firstLeadMs` before the first release, so its start-up
 * site-clock estimate finishes before anything fires; later releases get `leadMs` (the daemon reuses its
 * estimate and needs only `prepareLeadMs` to warm a page).
 */

/** A site-clock estimate the daemon logged. */
export interface EstimateEvent {
  /** Bench-clock time of the log line relative to the daemon's start, ms. */
  sinceStartMs: number;
  offsetMs: number;
  uncertaintyMs: number;
}

/** Results of {@link runOnTimeParts}; a part not selected is null. */
export interface OnTimeResults {
  fireLag: SequentialLagResult | null;
  contention: ContentionResult | null;
  /** Every site-clock estimate the daemon logged (true offset = the site skew). */
  estimates: EstimateEvent[];
}

/** Budget of one round after its release (not-open retries, submit, confirmation), ms. */
export const ROUND_TIMEOUT_MS = 45_000;

/** Reads the daemon's "site clock is ahead/behind by" log lines. */
function estimatesOf(harness: BenchHarness, startedAtMs: number): EstimateEvent[] {
  return (harness.logs?.matching(/site clock is (ahead|behind)/) ?? []).map((e) => ({
    sinceStartMs: Math.round(e.atMs - startedAtMs),
    offsetMs: Number(e.site_clock_offset_ms),
    uncertaintyMs: Number(e.uncertainty_ms),
  }));
}

/** Runs the selected on-time parts (see the module comment). */
export async function runOnTimeParts(settings: BenchSettings): Promise<OnTimeResults> {
  const wantLag = settings.parts.has('fire_lag');
  const wantContention = settings.parts.has('contention');
  if (!wantLag && !wantContention) return { fireLag: null, contention: null, estimates: [] };
  const slots = createSlotSequence(SEQUENTIAL_VENUE_ID, SEQUENTIAL_VENUE);
  const startAtMs = slots.peek().releaseMs - settings.firstLeadMs;
  return withHarness(
    {
      venues: { [SEQUENTIAL_VENUE_ID]: SEQUENTIAL_VENUE },
      skewMs: settings.skewMs,
      siteLimiter: settings.siteLimiter,
      daemon: { mode: 'on-time', prepareLeadMs: settings.prepareLeadMs, pollIntervalMs: 1_000 },
      startAtMs,
      users: 4,
      captureLogs: true,
    },
    async (harness) => {
      const common = { keepWithinMs: settings.firstLeadMs, roundTimeoutMs: ROUND_TIMEOUT_MS };
      let fireLag: SequentialLagResult | null = null;
      let contention: ContentionResult | null = null;
      if (wantLag) {
        progress('fire_lag', `${settings.rounds} releases, site skew ${settings.skewMs} ms, prepareLeadMs ${settings.prepareLeadMs}, clock ${settings.leadMs} ms before each release (first: ${settings.firstLeadMs} ms)`);
        fireLag = await measureSequentialLag(harness, slots, { ...common, part: 'fire_lag', rounds: settings.rounds, leadMs: () => settings.leadMs });
        progress('fire_lag', `fire lag ${JSON.stringify(fireLag.lagMs)}; outcomes ${JSON.stringify(fireLag.outcomes)}`);
      }
      if (wantContention) {
        progress('contention', `${settings.contentionRounds} releases × 4 courts, competitors at +50/+100/+250/+500 ms`);
        contention = await measureContention(harness, slots, { ...common, rounds: settings.contentionRounds, leadMs: settings.leadMs });
        progress('contention', `win rate ${JSON.stringify(contention.winRate)}; lag ${JSON.stringify(contention.lagMs)}`);
      }
      const estimates = estimatesOf(harness, startAtMs);
      progress('on-time', `site-clock estimates logged by the daemon: ${estimates.length} (${estimates.map((e) => `${e.offsetMs.toFixed(1)}±${e.uncertaintyMs.toFixed(1)} ms at +${e.sinceStartMs} ms`).slice(0, 5).join(', ')}${estimates.length > 5 ? ', ...' : ''})`);
      return { fireLag, contention, estimates };
    },
  );
}
