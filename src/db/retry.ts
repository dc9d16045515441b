import { backoffDelayMs } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import { isTransientDbError } from './errors.js';
import type { DbLogger } from './logger.js';

/**
 * Retrying database work through an outage (README "Reliability: never twice, never lost").
 *
 * The pool (Kysely's stock `PostgresDialect` over pg's pool, `create-database.ts`) retries nothing: a
 * statement that loses its connection, or cannot get one, fails at once with a transient error
 * (`isTransientDbError`). The few writes whose loss would hurt retry explicitly with {@link retryTransient},
 * each with a budget its caller chooses: the claim and the lease heartbeat, the fire path (begin fire,
 * attempt start, the intent), an attempt's outcome, the booking's result, reconciliation
 * (`booking-session/retry-budgets.ts`), and opening the database (`database.retryMs`). Everything else runs
 * inside a loop tick that fails as a whole and is retried by the loop (`runLoop`).
 *
 * Waits are real time (`systemClock` by default): an outage happens in real time even when a test drives the
 * scheduler with a manual clock, and a retry parked on a manual clock would never wake.
 */

/** Backoff between retries after the first (`backoffDelayMs`): 100 ms doubling to at most 2 s. */
const BACKOFF = { firstMs: 100, maxMs: 2_000 };

/** Options of {@link retryTransient}. */
export interface RetryTransientOptions {
  /** What is being done, for logs: a sentence fragment naming the entity ("reservation 42: recording the result"). */
  what: string;
  logger: DbLogger;
  /** How long to keep retrying after the first failure, ms. 0: try once. */
  budgetMs: number;
  /** Aborting stops further retries (never the first try): the last error is then thrown. */
  signal?: AbortSignal;
  /** Which errors are worth another try (default {@link isTransientDbError}). */
  isRetryable?: (err: unknown) => boolean;
  /** Timer source for the backoff (default the system clock: outages happen in real time). */
  clock?: Clock;
}

/**
 * Runs `work`, and while it fails with a transient database error (a lost or refused connection) runs it
 * again until it succeeds, the budget is spent, or `signal` aborts: the first retry at once (a dead pooled
 * connection is usually replaced by a working one at once: the pool drops a connection that failed), then with
 * `backoffDelayMs` (100 ms doubling to 2 s, jittered). Logs the first failure (warn) and a success after
 * failures (info); never logs each retry.
 *
 * Only for work that is safe to repeat: a guarded UPDATE (`WHERE status = expected AND lease_owner = me`)
 * or a read. A try whose reply was lost may have been applied: a guarded UPDATE then matches nothing on the
 * next try and reports "not changed", so a caller that needs to know must check the row afterwards.
 *
 * @throws the last error when it is not retryable, the budget is spent or `signal` aborted.
 */
export async function retryTransient<T>(work: () => Promise<T>, options: RetryTransientOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  const isRetryable = options.isRetryable ?? isTransientDbError;
  let failures = 0;
  let deadlineMs = 0;
  for (;;) {
    try {
      const value = await work();
      if (failures > 0) options.logger.info({ failures }, `${options.what}: succeeded after ${failures} failed ${failures === 1 ? 'try' : 'tries'}.`);
      return value;
    } catch (err) {
      if (!isRetryable(err) || options.signal?.aborted || options.budgetMs <= 0) throw err;
      failures += 1;
      if (failures === 1) {
        deadlineMs = clock.now() + options.budgetMs;
        options.logger.warn({ err }, `${options.what}: the database is unavailable; retrying for up to ${options.budgetMs} ms.`);
      }
      const delayMs = failures === 1 ? 0 : backoffDelayMs(failures - 1, BACKOFF);
      if (clock.now() + delayMs > deadlineMs) throw err;
      await clock.sleep(delayMs, options.signal);
      if (options.signal?.aborted) throw err;
    }
  }
}
