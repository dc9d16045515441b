import type { Clock } from '../clock.js';
import {
  intersectBounds,
  medianRttMs,
  nextBoundaryWindow,
  probesForWindow,
  summarizeSamples,
  type BoundaryWindow,
  type OffsetSummary,
  type SiteClockSample,
} from './site-clock-bounds.js';
import { probeSiteClock } from './site-clock-probe.js';

/**
 * The site-clock offset estimator. reservd fires at the release instant on the SITE's clock
 * (docs/timing.md), and a site shows its clock only as the whole second in
 * every HTTP `Date` header. That second changes exactly at a site second boundary, so requests that
 * straddle a boundary pin the offset down to the time between them.
 *
 * Sampling is adaptive. Two quick probes read the site's second (the second one times a round trip
 * without the connection setup). Then each following boundary gets up to 8 probes, evenly spaced (at least
 * 5 ms apart) across the local window it can still fall in, with sleeps on the clock in between. Each
 * boundary shrinks the window several times over: about 1000 → 125 → 15 → 5 ms. Every sample's
 * interval is intersected. Only one request is in flight at a time.
 */

/** Options of {@link estimateSiteClockOffset}. */
export interface SiteClockOptions {
  /** Any URL on the site, e.g. the venue's base URL; probed with `HEAD` (the status does not matter). */
  url: string;
  /** The local clock; all send/receive instants and sleeps go through it. */
  clock: Clock;
  /** Aborting rejects the estimate with `signal.reason`. */
  signal?: AbortSignal;
  /** Most requests one estimate sends (default 30, at least 1). */
  maxRequests?: number;
  /** Longest time one estimate takes on `clock`, ms (default 3500); a request still open then is dropped. */
  maxDurationMs?: number;
  /** The fetch to use (default: global `fetch`). */
  fetchImpl?: typeof fetch;
}

/** An estimate of `offsetMs = siteClock − localClock`. */
export interface SiteClockEstimate extends OffsetSummary {
  /** Requests answered and used. */
  samples: number;
  /** Requests sent (answered or dropped at the deadline); at most `maxRequests`. */
  requests: number;
  /** Time the estimate took on the local clock, ms. */
  durationMs: number;
  /** Local clock when the estimate was finished, epoch ms (an estimate ages as the clocks drift). */
  measuredAtMs: number;
}

/** Default request budget of one estimate. */
export const DEFAULT_SITE_CLOCK_MAX_REQUESTS = 30;
/** Default time budget of one estimate, ms (three site second boundaries fit). */
export const DEFAULT_SITE_CLOCK_MAX_DURATION_MS = 3_500;
/** Most probes aimed at one boundary. */
const PROBES_PER_BOUNDARY = 8;
/** Closest two probes may be sent, ms: a tight burst, not a flood. */
const MIN_PROBE_GAP_MS = 5;

/**
 * Estimates the site's clock offset from its `Date` headers.
 *
 * Result: `offsetMs` is the midpoint of the interval all samples allow, `uncertaintyMs` its half-width
 * (method `interval`). When the samples pin nothing narrower than about a second (no boundary bracketed:
 * budgets too small) or disagree with each other, the median of `S·1000 + 500 − (t0 + t1)/2` with
 * uncertainty `500 + rtt/2` (method `median`).
 * Stops early once the interval is as narrow as the round trip allows.
 *
 * @throws RangeError for a budget below 1; Error naming the URL when a request fails, a response has no
 *   (or an unparseable) `Date` header, or the first response does not come within `maxDurationMs`;
 *   `signal.reason` when aborted.
 */
export async function estimateSiteClockOffset(options: SiteClockOptions): Promise<SiteClockEstimate> {
  const { url, clock, signal } = options;
  const maxRequests = options.maxRequests ?? DEFAULT_SITE_CLOCK_MAX_REQUESTS;
  const maxDurationMs = options.maxDurationMs ?? DEFAULT_SITE_CLOCK_MAX_DURATION_MS;
  if (!(maxRequests >= 1) || !(maxDurationMs > 0)) {
    throw new RangeError(`site clock for ${url}: maxRequests (${maxRequests}) and maxDurationMs (${maxDurationMs}) must be positive`);
  }
  const startedAtMs = clock.now();
  const deadlineMs = startedAtMs + maxDurationMs;
  const samples: SiteClockSample[] = [];
  let requests = 0;
  const probe = async (): Promise<SiteClockSample | undefined> => {
    const timeoutMs = deadlineMs - clock.now();
    if (timeoutMs <= 0) return undefined;
    requests += 1;
    const sample = await probeSiteClock({ url, clock, signal, timeoutMs, fetchImpl: options.fetchImpl ?? fetch });
    if (sample) samples.push(sample);
    return sample;
  };
  const session: ProbeSession = { clock, signal, deadlineMs, samples, probe, requestsLeft: () => maxRequests - requests };

  if (!(await probe())) throw new Error(`site clock: no response from ${url} within ${maxDurationMs} ms`);
  // A second probe right away measures a round trip without the connection setup.
  if (session.requestsLeft() > 0) await probe();
  while (session.requestsLeft() > 0 && (await probeNextBoundary(session))) {
    // each pass aims at one more boundary
  }
  const measuredAtMs = clock.now();
  return { ...summarizeSamples(samples), samples: samples.length, requests, durationMs: measuredAtMs - startedAtMs, measuredAtMs };
}

/** The state one estimate's rounds share. */
interface ProbeSession {
  clock: Clock;
  signal: AbortSignal | undefined;
  deadlineMs: number;
  samples: SiteClockSample[];
  /** Sends one request; `undefined` when it got no answer before the deadline. */
  probe(): Promise<SiteClockSample | undefined>;
  requestsLeft(): number;
}

/**
 * One round: picks the next boundary window and probes it. Returns false when the estimate is done
 * (narrow enough, out of time, samples disagree, or a request timed out).
 */
async function probeNextBoundary(session: ProbeSession): Promise<boolean> {
  const { clock, samples } = session;
  const bounds = intersectBounds(samples);
  if (!bounds) return false;
  const rttMs = medianRttMs(samples);
  // Probes sent back to back cannot split the interval finer than about one round trip.
  if (bounds.hiMs - bounds.loMs <= rttMs + 4) return false;
  const window = nextBoundaryWindow(bounds, clock.now() + rttMs / 2);
  if (window.endMs + rttMs > session.deadlineMs) return false;
  const spacingMs = Math.max(MIN_PROBE_GAP_MS, rttMs);
  const count = probesForWindow(window.endMs - window.startMs, spacingMs, Math.min(PROBES_PER_BOUNDARY, session.requestsLeft()));
  return probeWindow(session, window, count, rttMs);
}

/**
 * Probes `count` times at evenly spaced stamp instants across `window`, re-spacing after each answer
 * that is still before the boundary; stops at the first answer past it.
 */
async function probeWindow(session: ProbeSession, window: BoundaryWindow, count: number, rttMs: number): Promise<boolean> {
  const { clock, signal } = session;
  let startMs = window.startMs;
  for (let left = count; left > 0; left -= 1) {
    const stampAtMs = startMs + (window.endMs - startMs) / (left + 1);
    // The server stamps about half a round trip after the send.
    await clock.sleep(stampAtMs - rttMs / 2 - clock.now(), signal);
    signal?.throwIfAborted();
    const nowMs = clock.now();
    if (nowMs + rttMs > session.deadlineMs) return false;
    // Woke too late (a busy machine): an answer stamped after the window tells nothing new.
    if (nowMs + rttMs / 2 > window.endMs) return true;
    const sample = await session.probe();
    if (!sample) return false;
    if (sample.siteSecond >= window.boundarySecond) return true;
    // Still before the boundary: it is at or after this send, so the rest of the window starts here.
    startMs = Math.max(startMs, sample.sentAtMs);
  }
  return true;
}

/**
 * A clock reading the site's time: `now()` is `clock.now() + offsetMs`; sleeps are the local clock's
 * (a duration is the same on both). `offsetMs` usually comes from {@link estimateSiteClockOffset}.
 */
export function createSiteClock(clock: Clock, offsetMs: number): Clock {
  return { now: () => clock.now() + offsetMs, sleep: (durationMs, sleepSignal) => clock.sleep(durationMs, sleepSignal) };
}

/** The local-clock instant (epoch ms) at which the site's clock reads `siteAtMs`, by `estimate`. */
export function localInstantFor(siteAtMs: number, estimate: Pick<SiteClockEstimate, 'offsetMs'>): number {
  return siteAtMs - estimate.offsetMs;
}
