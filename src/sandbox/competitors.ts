import type { Clock } from '../clock.js';
import type { SandboxLogger } from './sandbox-logger.js';
import { slotInstants, type SandboxClient, type SiteState } from './site-state.js';
import type { SiteSlot } from './site-venues.js';

/** The client every competing booker books as, unless told otherwise. */
export const COMPETITOR_CLIENT: SandboxClient = {
  firstName: 'Competing',
  lastName: 'Booker',
  email: 'competitor@example.test',
  phone: '+1 555 010 0100',
};

/** Competing bookers that book a slot at its release + a delay (for "who gets the court" benchmarks). */
export interface Competitors {
  /**
   * Schedules a booker for `slot` at release + `delayAfterReleaseMs` on the SITE's clock; sleeps on the
   * injected clock and re-reads the site clock after every wake (so skew changes are honoured).
   * Returns the fire instant (epoch ms, site clock).
   */
  schedule(slot: SiteSlot, delayAfterReleaseMs: number): number;
  /** Number of bookers still waiting. */
  pending(): number;
  /** Resolves when every booker scheduled so far has fired or been cancelled. */
  settled(): Promise<void>;
  /** Cancels every waiting booker (reset, stop). */
  cancelAll(): void;
}

/** Creates the competitor scheduler of one site. */
export function createCompetitors(clock: Clock, state: SiteState, logger: SandboxLogger): Competitors {
  let controller = new AbortController();
  const running = new Set<Promise<void>>();

  const run = async (slot: SiteSlot, fireAtMs: number, signal: AbortSignal): Promise<void> => {
    while (!signal.aborted) {
      const leftMs = fireAtMs - state.siteNow();
      if (leftMs <= 0) break;
      await clock.sleep(leftMs, signal);
    }
    if (signal.aborted) return;
    const arrivedAtMs = state.siteNow();
    const booking = state.book(slot, COMPETITOR_CLIENT, 'competitor', arrivedAtMs);
    const fields = { venue: slot.venueId, court: slot.court, date: slot.date, time: slot.time, lateMs: arrivedAtMs - fireAtMs };
    logger.info({ ...fields, booked: booking !== null }, booking ? 'sandbox: competitor booked the slot' : 'sandbox: competitor found the slot taken');
  };

  return {
    schedule(slot, delayAfterReleaseMs) {
      const fireAtMs = slotInstants(slot).releaseAtMs + delayAfterReleaseMs;
      const task = run(slot, fireAtMs, controller.signal).catch((err: unknown) => {
        logger.error({ err, venue: slot.venueId, court: slot.court }, 'sandbox: competitor failed');
      });
      running.add(task);
      void task.finally(() => running.delete(task));
      return fireAtMs;
    },
    pending: () => running.size,
    settled: async () => {
      await Promise.all([...running]);
    },
    cancelAll() {
      controller.abort();
      controller = new AbortController();
    },
  };
}
