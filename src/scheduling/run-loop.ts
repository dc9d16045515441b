import { backoffDelayMs } from '../backoff.js';
import type { Clock } from '../clock.js';
import { isTransientDbError } from '../db/errors.js';
import type { Logger } from '../telemetry/logger.js';

/** Options of {@link runLoop}. */
export interface RunLoopOptions {
  /** Loop name for logs (`loop` field). */
  name: string;
  /** One tick of work. A thrown error is logged and retried with backoff; it never ends the loop. */
  tickOnce: () => Promise<void>;
  /** Delay before the next tick after a successful one, in ms (re-evaluated every tick). */
  nextDelayMs: () => Promise<number> | number;
  clock: Clock;
  logger: Logger;
  /** Aborting ends the loop after the current tick. */
  signal: AbortSignal;
  /** Wakes the loop early (e.g. on NOTIFY); called with a listener the loop registers once. */
  onWake?: (wake: () => void) => void;
  /** Longest backoff after repeated failures, ms (default 30 s). */
  maxBackoffMs?: number;
  /**
   * Whether a tick's error is an outage (default: the database is unreachable or its connection was lost,
   * `isTransientDbError`) rather than a bug. An outage is logged once (warn) until a tick succeeds again (info,
   * with its length), and its backoff is capped at {@link OUTAGE_MAX_BACKOFF_MS} so the loop resumes soon after.
   */
  isOutage?: (err: unknown) => boolean;
}

/** First backoff after a failed tick, ms; doubles per further failure (`backoffDelayMs`). */
const FIRST_BACKOFF_MS = 500;
/**
 * Longest backoff while the database is unavailable, ms: the tick's own guarded writes already retried
 * (`retryTransient`), and the loop should resume within a few seconds of the database coming back.
 */
const OUTAGE_MAX_BACKOFF_MS = 5_000;

/**
 * The one loop primitive (every background loop is a `runLoop`): tick, catch per tick, capped exponential
 * backoff with jitter on repeated failure, abortable sleep that can be woken early. Resolves when `signal` aborts.
 * Sleeps go through the clock, which chunks long waits and re-reads the time after each wake.
 * A database outage is logged once per outage, not once per tick.
 */
export async function runLoop(options: RunLoopOptions): Promise<void> {
  const { name, clock, logger, signal } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const isOutage = options.isOutage ?? isTransientDbError;
  let failures = 0;
  /** Set while ticks fail with an outage: when it began (clock ms). */
  let outageSinceMs: number | null = null;
  let wakeController = new AbortController();
  options.onWake?.(() => wakeController.abort());
  while (!signal.aborted) {
    let delayMs: number;
    try {
      await options.tickOnce();
      delayMs = await options.nextDelayMs();
      if (outageSinceMs !== null) {
        const outageMs = clock.now() - outageSinceMs;
        logger.info({ loop: name, failures, outage_ms: outageMs }, `loop ${name}: the database is reachable again after ${outageMs} ms; ticking normally`);
        outageSinceMs = null;
      }
      failures = 0;
    } catch (err) {
      failures += 1;
      const outage = isOutage(err);
      delayMs = backoffDelayMs(failures, { firstMs: FIRST_BACKOFF_MS, maxMs: outage ? Math.min(maxBackoffMs, OUTAGE_MAX_BACKOFF_MS) : maxBackoffMs });
      const fields = { err, loop: name, failures, retry_in_ms: delayMs };
      if (!outage) {
        logger.error(fields, `loop ${name}: tick failed`);
      } else if (outageSinceMs === null) {
        outageSinceMs = clock.now();
        logger.warn(fields, `loop ${name}: tick failed, the database is unavailable; retrying with backoff (logged once until it is back)`);
      } else {
        logger.debug(fields, `loop ${name}: tick failed, the database is still unavailable`);
      }
    }
    if (signal.aborted) break;
    if (wakeController.signal.aborted) {
      wakeController = new AbortController();
      continue;
    }
    const both = AbortSignal.any([signal, wakeController.signal]);
    await clock.sleep(Math.max(0, delayMs), both);
    if (wakeController.signal.aborted) wakeController = new AbortController();
  }
}
