/**
 * The pure arithmetic of the site-clock estimate (docs/timing.md, "The site's clock"): what one
 * HTTP `Date` sample says about `offsetMs = siteClock − localClock`, how samples combine, and where the
 * next probe should go. No I/O and no clock: every instant is an argument.
 *
 * A response stamped with site second `S` was stamped at some site instant in `[S·1000, S·1000 + 1000)`
 * and at some local instant between the request's send (`t0`) and receive (`t1`), so
 * `S·1000 − t1 ≤ offset ≤ S·1000 + 1000 − t0`. Two consecutive samples straddling a second boundary make
 * that interval as narrow as the time between them; intersecting every sample keeps all of it.
 */

/** One probe of the site: local send/receive instants (epoch ms on the local clock) and the site second. */
export interface SiteClockSample {
  /** Local clock just before the request was sent, epoch ms. */
  sentAtMs: number;
  /** Local clock just after the response headers arrived, epoch ms. */
  receivedAtMs: number;
  /** The response's `Date` header as whole epoch seconds (site clock, truncated to the second). */
  siteSecond: number;
}

/** A closed interval of possible offsets (site − local), ms. */
export interface OffsetBounds {
  loMs: number;
  hiMs: number;
}

/**
 * Resolution of an epoch-ms clock reading: a reading `r` means a true instant in `[r, r + 1)`, so the
 * receive instant may be up to 1 ms later than read (`Date.now()` truncates).
 */
const CLOCK_RESOLUTION_MS = 1;

/** The offsets one sample allows. */
function sampleBounds(sample: SiteClockSample): OffsetBounds {
  return {
    loMs: sample.siteSecond * 1000 - (sample.receivedAtMs + CLOCK_RESOLUTION_MS),
    hiMs: (sample.siteSecond + 1) * 1000 - sample.sentAtMs,
  };
}

/** The offsets every sample allows, or `undefined` when none is (samples disagree: clock jump, several servers). */
export function intersectBounds(samples: readonly SiteClockSample[]): OffsetBounds | undefined {
  let loMs = -Infinity;
  let hiMs = Infinity;
  for (const sample of samples) {
    const bounds = sampleBounds(sample);
    loMs = Math.max(loMs, bounds.loMs);
    hiMs = Math.min(hiMs, bounds.hiMs);
  }
  return samples.length > 0 && loMs <= hiMs ? { loMs, hiMs } : undefined;
}

/** How many consecutive sample pairs show the site second stepping from `s` to `s + 1`. */
function countBoundaries(samples: readonly SiteClockSample[]): number {
  let count = 0;
  for (let i = 1; i < samples.length; i += 1) {
    if (samples[i]!.siteSecond === samples[i - 1]!.siteSecond + 1) count += 1;
  }
  return count;
}

/** Median of `values` (0 for none). */
function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Median round trip of the samples, ms. The first sample is left out once there are others, because it
 * also paid for opening the connection.
 */
export function medianRttMs(samples: readonly SiteClockSample[]): number {
  const measured = samples.length > 1 ? samples.slice(1) : samples;
  return median(measured.map((s) => s.receivedAtMs - s.sentAtMs));
}

/** The offset estimate the samples support, before timing and counts are added. */
export interface OffsetSummary {
  /** Estimated site − local offset, ms. */
  offsetMs: number;
  /** Half-width of the interval the true offset lies in, ms. */
  uncertaintyMs: number;
  /** Site second boundaries bracketed by consecutive samples. */
  boundaries: number;
  /** Median round trip, ms (see {@link medianRttMs}). */
  rttMs: number;
  /**
   * `interval`: midpoint of the intersection of every sample's interval; chosen whenever it is narrower
   * than the median's (a bracketed boundary, or a first sample just after one and a later one just before
   * the next, both pin it). `median`: the median of `S·1000 + 500 − (t0 + t1)/2` with uncertainty
   * `500 + rtt/2`, used when the samples leave almost a full second open or disagree with each other.
   */
  method: 'interval' | 'median';
}

/** Combines samples into one estimate (at least one sample). */
export function summarizeSamples(samples: readonly SiteClockSample[]): OffsetSummary {
  const rttMs = medianRttMs(samples);
  const boundaries = countBoundaries(samples);
  const bounds = intersectBounds(samples);
  const medianUncertaintyMs = 500 + rttMs / 2;
  if (bounds && (bounds.hiMs - bounds.loMs) / 2 < medianUncertaintyMs) {
    return { offsetMs: (bounds.loMs + bounds.hiMs) / 2, uncertaintyMs: (bounds.hiMs - bounds.loMs) / 2, boundaries, rttMs, method: 'interval' };
  }
  const offsets = samples.map((s) => s.siteSecond * 1000 + 500 - (s.sentAtMs + s.receivedAtMs) / 2);
  return { offsetMs: median(offsets), uncertaintyMs: medianUncertaintyMs, boundaries, rttMs, method: 'median' };
}

/** Where, in local time, the response stamped first with `boundarySecond` can be stamped. */
export interface BoundaryWindow {
  /** The site second that starts at the boundary (epoch s). */
  boundarySecond: number;
  /** Earliest local instant still worth probing, epoch ms. */
  startMs: number;
  /** Latest local instant at which the boundary can happen, epoch ms. */
  endMs: number;
}

/**
 * The next site second boundary whose local window (`B − hiMs … B − loMs`) still lies mostly ahead of
 * `earliestMs` (the first instant a probe sent now could be stamped). A window more than half gone is
 * skipped for the next one: probing its tail would only test the few offsets left there.
 */
export function nextBoundaryWindow(bounds: OffsetBounds, earliestMs: number): BoundaryWindow {
  let boundarySecond = Math.floor((earliestMs + bounds.loMs) / 1000) + 1;
  for (;;) {
    const fullStartMs = boundarySecond * 1000 - bounds.hiMs;
    const endMs = boundarySecond * 1000 - bounds.loMs;
    const startMs = Math.max(fullStartMs, earliestMs);
    if ((endMs - startMs) * 2 >= endMs - fullStartMs) return { boundarySecond, startMs, endMs };
    boundarySecond += 1;
  }
}

/**
 * How many probes to spend on a window `widthMs` wide: enough to cut it into parts of `spacingMs`
 * (the closest two probes may be), at least 1 (a bisection), at most `maxProbes`.
 */
export function probesForWindow(widthMs: number, spacingMs: number, maxProbes: number): number {
  if (maxProbes <= 0) return 0;
  return Math.min(maxProbes, Math.max(1, Math.floor(widthMs / spacingMs) - 1));
}
