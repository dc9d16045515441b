/**
 * The one backoff formula of reservd: the scheduler's loop (`scheduling/run-loop.ts`), retries of database
 * work (`db/retry.ts`) and LISTEN reconnects (`db/listen.ts`) all wait this long after repeated failures.
 *
 * Our own, not `exponential-backoff` or `p-retry`: those libraries own the retry loop and wait with their own
 * `setTimeout`, while every wait in reservd goes through the injected `Clock` (tests drive it by hand; only
 * `src/clock.ts` arms timers) and each caller keeps its own loop (what to log, when to stop). What the three
 * share is this formula, a few lines.
 */

/** Shape of a backoff (see {@link backoffDelayMs}). */
export interface BackoffOptions {
  /** Base delay after the first failure, ms; it doubles per further failure. */
  firstMs: number;
  /** Cap of the base delay, ms. */
  maxMs: number;
}

/**
 * Delay after `failures` consecutive failures (1-based), ms: a base of `firstMs · 2^(failures − 1)` capped at
 * `maxMs`, with "equal jitter": a uniformly random delay in [base / 2, base], rounded to whole ms. The jitter
 * keeps many waiters (pooled statements, daemons sharing one Postgres) from reconnecting in lock-step; the
 * lower half-bound keeps the backoff growing. `failures` below 1 count as 1.
 */
export function backoffDelayMs(failures: number, { firstMs, maxMs }: BackoffOptions): number {
  // The exponent is capped so a long outage cannot overflow to Infinity before the cap applies.
  const baseMs = Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
  return Math.round(baseMs / 2 + Math.random() * (baseMs / 2));
}
