import type { Clock } from '../clock.js';
import type { VenueConfig } from '../config/schema.js';
import type { Logger } from '../telemetry/logger.js';
import { estimateSiteClockOffset, type SiteClockEstimate, type SiteClockOptions } from './site-clock.js';

/**
 * Per-site clock offsets for the fire instant (reservd fires at the release instant measured on the SITE's
 * clock; docs/timing.md). The scheduler measures every venue's site at start; a booking claimed with no
 * fresh estimate and time to spare measures again. An estimate is reused for `maxAgeMs` and shared by
 * concurrent bookings of every venue on the same site (one careful client, not one probe burst per booking).
 * A failed estimate is logged and not kept: the latest good one stays available through `latest` (the
 * scheduler fires on it, however old), and only a site never measured is fired on the local clock (offset
 * 0), where "not open yet" is then retried within the budget.
 */

/** Venues on one site share its clock: estimates are kept per origin (`https://host:port`). */
function siteKey(venue: VenueConfig): string {
  return new URL(venue.site.baseUrl).origin;
}

/** Options of {@link createSiteClockCache}. */
export interface SiteClockCacheOptions {
  clock: Clock;
  logger: Logger;
  /** How long an estimate is reused, ms (default 10 min). */
  maxAgeMs?: number;
  /** The estimator (tests may pass their own). */
  estimate?: (options: SiteClockOptions) => Promise<SiteClockEstimate>;
}

/** Site clock offsets of the venues' sites. */
export interface SiteClockCache {
  /**
   * The venue's offset estimate (site − local, ms), measured now or reused; null when it could not be
   * measured (logged). Never throws.
   */
  offsetFor(venueId: string, venue: VenueConfig, signal?: AbortSignal): Promise<SiteClockEstimate | null>;
  /**
   * The venue's estimate when one has been measured and is still fresh (younger than `maxAgeMs`), else
   * null. Synchronous: for the claim horizon and for bookings claimed too close to their release to measure.
   */
  known(venue: VenueConfig): SiteClockEstimate | null;
  /**
   * The venue's latest estimate whatever its age, else null. Clocks drift by milliseconds per hour, so an
   * old estimate still beats none when there is no time left to measure (seconds before a release).
   */
  latest(venue: VenueConfig): SiteClockEstimate | null;
  /** The latest estimate of every site measured so far, keyed by origin (`https://host:port`), for metrics. */
  entries?(): Array<{ site: string; estimate: SiteClockEstimate }>;
}

/** Creates a {@link SiteClockCache}. */
export function createSiteClockCache(options: SiteClockCacheOptions): SiteClockCache {
  const { clock, logger } = options;
  const maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
  const estimate = options.estimate ?? estimateSiteClockOffset;
  const cache = new Map<string, Promise<SiteClockEstimate | null>>();
  const measuredAt = new Map<string, number>();
  /** Resolved estimates with the instant their measurement started. */
  const settled = new Map<string, { estimate: SiteClockEstimate; atMs: number }>();

  async function measure(venueId: string, venue: VenueConfig, signal?: AbortSignal): Promise<SiteClockEstimate | null> {
    // The site's public origin: every response carries its Date header.
    const url = `${venue.site.baseUrl}/`;
    try {
      const result = await estimate({ url, clock, ...(signal ? { signal } : {}) });
      logger.info(
        { venue: venueId, site_clock_offset_ms: result.offsetMs, uncertainty_ms: result.uncertaintyMs, requests: result.requests, rtt_ms: result.rttMs, method: result.method },
        `venue ${venueId}: site clock is ${result.offsetMs >= 0 ? 'ahead' : 'behind'} by ${Math.abs(result.offsetMs).toFixed(1)} ms (±${result.uncertaintyMs.toFixed(1)} ms)`,
      );
      return result;
    } catch (err) {
      if (signal?.aborted) return null; // stopping: not a site problem
      logger.warn({ err, venue: venueId }, `venue ${venueId}: site clock offset unknown; firing on the local clock`);
      return null;
    }
  }

  return {
    offsetFor(venueId, venue, signal) {
      const key = siteKey(venue);
      const at = measuredAt.get(key);
      const cached = cache.get(key);
      if (cached && at !== undefined && clock.now() - at < maxAgeMs) return cached;
      const startedMs = clock.now();
      const fresh = measure(venueId, venue, signal).then((result) => {
        // Failures are not cached for long: the next booking tries again (the last good estimate stays
        // usable through `known` until it is too old).
        if (!result) cache.delete(key);
        else settled.set(key, { estimate: result, atMs: startedMs });
        return result;
      });
      cache.set(key, fresh);
      measuredAt.set(key, startedMs);
      return fresh;
    },
    latest: (venue) => settled.get(siteKey(venue))?.estimate ?? null,
    entries: () => [...settled].map(([site, { estimate }]) => ({ site, estimate })),
    known(venue) {
      const entry = settled.get(siteKey(venue));
      return entry && clock.now() - entry.atMs < maxAgeMs ? entry.estimate : null;
    },
  };
}
