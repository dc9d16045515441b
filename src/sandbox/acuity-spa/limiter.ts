import type { Clock } from '../../clock.js';
import type { SpaSwitches } from './switches.js';

/**
 * The per-client-address limiter of the public routes: at most `perSecond` arrivals in any sliding second
 * and `concurrent` answers in flight. Counted on the injected clock (not the skewed site clock), so a skew
 * switch never opens or closes the window.
 */

/** What the limiter says about a new request. */
export type LimitDecision = { ok: true; release: () => void } | { ok: false; retryAfterS: number };

/** The limiter of one site. */
export interface SpaLimiter {
  /** Admission for `clientAddress`; call `release()` when the answer is done. */
  admit(clientAddress: string): LimitDecision;
  /** Forgets every address's counts. */
  reset(): void;
}

interface AddressCount {
  /** Arrivals within the last second, epoch ms on the injected clock. */
  arrivalsMs: number[];
  inFlight: number;
}

/** Creates a limiter that reads the `limiter` switch at every admission. */
export function createSpaLimiter(clock: Clock, settings: () => SpaSwitches['limiter']): SpaLimiter {
  let counts = new Map<string, AddressCount>();

  return {
    admit(clientAddress) {
      const { enabled, perSecond, concurrent } = settings();
      if (!enabled) return { ok: true, release: () => {} };
      const nowMs = clock.now();
      const entry = counts.get(clientAddress) ?? { arrivalsMs: [], inFlight: 0 };
      counts.set(clientAddress, entry);
      entry.arrivalsMs = entry.arrivalsMs.filter((t) => t > nowMs - 1000);
      if (entry.arrivalsMs.length >= perSecond || entry.inFlight >= concurrent) {
        return { ok: false, retryAfterS: retryAfterS(entry, perSecond, nowMs) };
      }
      entry.arrivalsMs.push(nowMs);
      entry.inFlight += 1;
      return { ok: true, release: releaseOnce(entry) };
    },
    reset() {
      counts = new Map();
    },
  };
}

/** Seconds until the oldest arrival leaves the window (at least 1; 1 when only concurrency is full). */
function retryAfterS(entry: AddressCount, perSecond: number, nowMs: number): number {
  const oldest = entry.arrivalsMs[0];
  return entry.arrivalsMs.length >= perSecond && oldest !== undefined ? Math.max(1, Math.ceil((oldest + 1000 - nowMs) / 1000)) : 1;
}

/** A release that frees its in-flight place once, however often the socket reports closing. */
function releaseOnce(entry: AddressCount): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    entry.inFlight -= 1;
  };
}
