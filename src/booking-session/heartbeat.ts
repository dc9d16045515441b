import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { retryTransient } from '../db/retry.js';
import type { Database } from '../db/types.js';
import { heartbeat } from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';

/** A running heartbeat of one held reservation (see {@link startHeartbeat}). */
export interface Heartbeat {
  /** Aborted once the heartbeat finds the row no longer held by this owner (cancelled, finished, taken over). */
  readonly lost: AbortSignal;
  /**
   * The holder is about to end the hold (settle, hand back): a beat that finds the row no longer held after
   * this is expected, not a lost lease. The heartbeat keeps renewing until {@link Heartbeat.stop}.
   */
  ending(): void;
  /**
   * The user cancelled the row and it was closed (lease cleared): aborts {@link Heartbeat.lost} now, without
   * the "lease lost" warning, and ends the heartbeat.
   */
  cancelled(): void;
  /** Stops the heartbeat and waits for a beat in flight; safe to call twice. */
  stop(): Promise<void>;
}

/** Shortest heartbeat interval, ms. */
const MIN_INTERVAL_MS = 1_000;

/**
 * Renews the lease of reservation `id` (held by `owner`) every `leaseMs / 3` (at least 1 s), on the injected
 * clock — one timer, for exactly as long as the session holds the row (docs/architecture.md "Booking
 * session"). Through a database outage each beat is retried until the lease would run out: a late beat still
 * holds the row, while giving up early would let another daemon take it over while this one books it. A beat
 * that finds the row no longer held aborts {@link Heartbeat.lost} and ends the heartbeat.
 */
export function startHeartbeat(deps: { db: Kysely<Database>; clock: Clock; logger: Logger }, args: { id: number; owner: string; leaseMs: number }): Heartbeat {
  const { db, clock, logger } = deps;
  const { id, owner, leaseMs } = args;
  const intervalMs = Math.max(MIN_INTERVAL_MS, Math.floor(leaseMs / 3));
  const stopped = new AbortController();
  const lost = new AbortController();
  let ending = false;
  const retry = { what: `reservation ${id}: lease heartbeat`, logger, budgetMs: Math.max(0, leaseMs - intervalMs), signal: stopped.signal };
  const beat = async (): Promise<boolean> => {
    try {
      return await retryTransient(() => heartbeat(db, { id, owner, now: new Date(clock.now()), leaseMs }), retry);
    } catch (err) {
      if (!stopped.signal.aborted) logger.warn({ err, reservation_id: id }, `reservation ${id}: lease heartbeat failed; trying again at the next beat`);
      return true;
    }
  };
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      await clock.sleep(intervalMs, stopped.signal);
      if (stopped.signal.aborted) return;
      if (!(await beat())) {
        if (ending || stopped.signal.aborted) return;
        logger.warn({ reservation_id: id }, `reservation ${id}: lease lost (the row was cancelled, finished or taken over); not submitting anything more for it`);
        lost.abort();
        return;
      }
    }
  })();
  return {
    lost: lost.signal,
    ending() {
      ending = true;
    },
    cancelled() {
      ending = true;
      stopped.abort();
      lost.abort();
    },
    async stop() {
      stopped.abort();
      await loop;
    },
  };
}
