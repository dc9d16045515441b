import type { Logger } from '../telemetry/logger.js';
import type { BrowserPool, PageLease, SlotFlow } from './flow.js';
import type { BookingSessionPort } from './session-port.js';

/**
 * How many preferred courts get a page prepared before the release instant (the first plus fallbacks), so a
 * fallback court fires within milliseconds of the first one failing instead of loading its page first.
 * Courts further down the list are prepared when their turn comes.
 */
export const COURTS_PREPARED_AHEAD = 3;

/** A court's page, prepared ahead or on its turn. */
export interface PreparedCourt {
  court: number;
  lease: PageLease;
  handle: unknown;
}

/** The pages of one booking, by position in its court list (see {@link createPreparedPages}). */
export interface PreparedPages {
  /** The page of position `index`, prepared again when its browser is gone. @throws what preparing it threw. */
  live(index: number): Promise<PreparedCourt>;
  /** How many positions have been prepared (or are being prepared). */
  prepared(): number;
  /** Revives and warms every page prepared so far (never throws). */
  warmAll(): Promise<void>;
  /** Releases the page of `index` (once; never throws). */
  release(index: number): Promise<void>;
  /** Releases every page (never throws). */
  releaseAll(): Promise<void>;
}

/** Acquires a page and prepares `court` on it; the lease is released when preparing throws. */
async function prepareCourt(pool: BrowserPool, flow: SlotFlow, session: BookingSessionPort, court: number): Promise<PreparedCourt> {
  const lease = await pool.acquire();
  try {
    const { request } = session;
    const handle = await flow.prepare(lease, { venue: session.venue, court, targetDate: request.targetDate, targetTime: request.targetTime, user: request.user });
    return { court, lease, handle };
  } catch (err) {
    await lease.release().catch(() => undefined);
    throw err;
  }
}

/**
 * Starts preparing the pages of `session`'s courts: the first {@link COURTS_PREPARED_AHEAD} at once, later
 * ones on their turn. A page whose browser died (crash, killed) is prepared again on a new browser before it
 * is used. A preparing failure is reported when its court's turn comes.
 */
export function createPreparedPages(deps: { pool: BrowserPool; flow: SlotFlow; logger: Logger }, session: BookingSessionPort): PreparedPages {
  const courts = session.request.courtPreference.asList();
  const slots: Array<Promise<PreparedCourt>> = [];
  const released = new Set<number>();
  const start = (index: number): Promise<PreparedCourt> => {
    const preparing = prepareCourt(deps.pool, deps.flow, session, courts[index]!);
    // Reported when its court's turn comes; until then it must not be unhandled.
    preparing.catch(() => undefined);
    slots[index] = preparing;
    released.delete(index);
    return preparing;
  };
  for (let index = 0; index < Math.min(courts.length, COURTS_PREPARED_AHEAD); index++) start(index);
  const release = (index: number): Promise<void> => {
    const slot = slots[index];
    if (!slot || released.has(index)) return Promise.resolve();
    released.add(index);
    return slot.then(
      (c) => c.lease.release().catch((err: unknown) => deps.logger.warn({ err }, 'closing page failed')),
      () => undefined, // its failure was reported with its court (or the court was never tried)
    );
  };
  const live = async (index: number): Promise<PreparedCourt> => {
    const current = await (slots[index] ?? start(index));
    if (!current.lease.isClosed()) return current;
    deps.logger.warn({ court: courts[index] }, 'the prepared page is gone (browser crashed?); preparing it again');
    await release(index);
    return start(index);
  };
  return {
    live,
    prepared: () => slots.length,
    async warmAll() {
      await Promise.all(
        slots.map(async (_, index) => {
          const c = await live(index).catch(() => null);
          if (c && deps.flow.warm) await deps.flow.warm(c.handle).catch(() => undefined);
        }),
      );
    },
    release,
    async releaseAll() {
      await Promise.all(slots.map((_, index) => release(index)));
    },
  };
}
