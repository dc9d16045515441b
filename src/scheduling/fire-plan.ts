import type { Clock } from '../clock.js';
import type { Config, VenueConfig } from '../config/schema.js';
import type { SiteClockCache } from './site-clock-cache.js';

/**
 * When a held reservation fires, and how far ahead rows are claimed (docs/timing.md "Fire instant"). The
 * release instant is measured on the SITE's clock: fire = release − offset + uncertainty, so the submit never
 * reaches the site before its release.
 */

/** A site-clock estimate takes up to ~3.5 s: only worth it with at least this much time before the release, ms. */
const SITE_CLOCK_MIN_LEAD_MS = 8_000;

/** The fire instant of one booking, and the offset behind it. */
export interface FirePlan {
  /** Local instant to fire at. */
  at: Date;
  /** Site clock − local clock used, ms (rounded); null when the site was never measured (fired on the local clock). */
  offsetMs: number | null;
}

/**
 * The local instant to fire a booking released at `releaseAt`: a fresh estimate (measured at start, or by an
 * earlier booking) is used as is; without one the venue is measured now when there is time before the
 * release; a claim too late for that uses the latest (older) estimate; a site never measured is measured
 * now whatever the lead, and only a site whose measurement failed is fired on the local clock. Without a
 * cache (the polling baseline) the local clock is used.
 */
export async function planFire(
  deps: { clock: Clock; siteClocks: SiteClockCache | undefined; signal: AbortSignal },
  venueId: string,
  venue: VenueConfig,
  releaseAt: Date,
): Promise<FirePlan> {
  const { siteClocks } = deps;
  if (!siteClocks) return { at: releaseAt, offsetMs: null };
  let estimate = siteClocks.known(venue);
  const latest = siteClocks.latest(venue);
  // An old estimate with no time left to measure again still beats the local clock (clocks drift by ms per
  // hour). A site never measured is measured now, whatever the lead (a measurement already on its way, e.g.
  // the one of the daemon's start, is shared): firing on the local clock at a site running far behind would
  // spend the not-open retry budget before the site opens and lose the reservation.
  if (!estimate && (!latest || releaseAt.getTime() - deps.clock.now() >= SITE_CLOCK_MIN_LEAD_MS)) estimate = await siteClocks.offsetFor(venueId, venue, deps.signal);
  estimate ??= latest;
  if (!estimate) return { at: releaseAt, offsetMs: null };
  return { at: new Date(Math.ceil(releaseAt.getTime() - estimate.offsetMs + estimate.uncertaintyMs)), offsetMs: Math.round(estimate.offsetMs) };
}

/**
 * How far ahead rows are claimed, ms: the prepare lead, plus how far the furthest-ahead site clock we know
 * runs ahead of ours (its release comes that much earlier on our clock). The polling baseline (no cache)
 * claims only rows already due.
 */
export function claimHorizonMs(config: Config, siteClocks: SiteClockCache | undefined, baseline: boolean): number {
  if (baseline) return 0;
  let aheadMs = 0;
  for (const venue of Object.values(config.venues)) aheadMs = Math.max(aheadMs, siteClocks?.latest(venue)?.offsetMs ?? 0);
  return config.daemon.prepareLeadMs + Math.ceil(aheadMs);
}
