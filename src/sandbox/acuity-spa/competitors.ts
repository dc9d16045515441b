import { setMaxListeners } from 'node:events';
import { SPA_COMPETITOR_CLIENT } from './fixed-clients.js';
import type { SpaSiteContext } from './site-context.js';
import type { SpaSlotRef } from './venue-catalog.js';
import { spaReleaseAtMs, type SpaSlot } from './venues.js';

/** The competing bookers of one site: each books its slot at the slot's release + a delay, on the site clock. */
export interface SpaCompetitors {
  /** Schedules a competitor for `ref`; returns the fire instant (epoch ms, site clock), undefined when `ref` is unknown. */
  schedule(ref: SpaSlotRef, delayAfterReleaseMs: number): number | undefined;
  /** Resolves when every competitor scheduled so far has fired or been cancelled. */
  settled(): Promise<void>;
  /** Cancels the waiting competitors; competitors scheduled afterwards run normally (reset). */
  cancelAll(): void;
  /** Cancels the waiting competitors and every later one until the next {@link cancelAll} (stop). */
  stop(): void;
}

type CompetitorContext = Pick<SpaSiteContext, 'clock' | 'logger' | 'state' | 'catalog'>;

/** Creates a site's competitor scheduler, with none waiting. */
export function createSpaCompetitors(ctx: CompetitorContext): SpaCompetitors {
  let controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const running = new Set<Promise<void>>();

  return {
    schedule(ref, delayAfterReleaseMs) {
      const target = ctx.catalog.slot(ref);
      if (!target) return undefined;
      const fireAtMs = spaReleaseAtMs(target) + delayAfterReleaseMs;
      const task = runCompetitor(ctx, target, fireAtMs, controller.signal).catch((err: unknown) =>
        ctx.logger.error({ err }, 'acuity-spa: competitor failed'),
      );
      running.add(task);
      void task.finally(() => running.delete(task));
      return fireAtMs;
    },
    async settled() {
      await Promise.all([...running]);
    },
    cancelAll() {
      controller.abort();
      controller = new AbortController();
      setMaxListeners(0, controller.signal);
    },
    stop() {
      controller.abort();
    },
  };
}

/** Waits until `fireAtMs` on the site clock, then books `target` as the competitor (unless aborted). */
async function runCompetitor(ctx: CompetitorContext, target: SpaSlot, fireAtMs: number, signal: AbortSignal): Promise<void> {
  const { clock, logger, state } = ctx;
  // Re-read the site clock after each wake: a skew change while asleep moves the fire instant.
  while (!signal.aborted) {
    const leftMs = fireAtMs - state.siteNow();
    if (leftMs <= 0) break;
    await clock.sleep(leftMs, signal);
  }
  if (signal.aborted) return;
  const arrivedAtMs = state.siteNow();
  const booking = state.book(target, SPA_COMPETITOR_CLIENT, target.venue.timeZone, 'competitor', arrivedAtMs);
  logger.info(
    { owner: target.venue.ownerKey, court: target.court.court, date: target.date, time: target.time, lateMs: arrivedAtMs - fireAtMs, booked: booking !== undefined },
    booking ? 'acuity-spa: competitor booked the slot' : 'acuity-spa: competitor found the slot taken',
  );
}
