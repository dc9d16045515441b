/**
 * How long each write of a booking session is retried through a database fault (`retryTransient`: the first
 * retry at once, then backoff), ms. The pool retries nothing itself: these are the writes whose loss would
 * hurt, each safe to repeat (see where each is used). The lease heartbeat's budget follows the lease
 * (`heartbeat.ts`: until the lease would run out).
 */

/**
 * Claiming due rows and admitting each (`claimDue`, then `admitClaimed`'s guarded writes; inside a scheduler
 * tick): long enough for a dropped connection or a quick Postgres restart, short enough that a longer outage
 * fails the tick, which the loop retries with its own backoff (logged once per outage) and which a stop
 * waits for.
 */
export const CLAIM_RETRY_MS = 5_000;

/**
 * The fire path at the release instant: begin fire (`claimed → booking`), an attempt's start, its intent, and
 * "still held" before a further court. A few seconds: a pooled connection killed under us is replaced at the
 * first (immediate) retry; past a few seconds the slot is likely gone, the flow's own timeout
 * (`daemon.attemptTimeoutMs`) is running, and giving up submits nothing — the safe side.
 */
export const FIRE_RETRY_MS = 3_000;

/**
 * What a booking learned: its result (`settle.ts`), an attempt's outcome, and the reconciliation of its own
 * unknown outcome (its reads and its one transaction, `reconcile-record.ts`). Long: losing it means a booking
 * the row does not know about, left to a lease take-over and a look-up on the site.
 */
export const OUTCOME_RETRY_MS = 120_000;

/**
 * Reconciling a dead daemon's row inside a scheduler tick (its reads and its one transaction): short, like the
 * claim; a failure leaves the row in `booking` under our lease, taken over and reconciled again once that
 * lease runs out.
 */
export const TAKE_OVER_RETRY_MS = 5_000;
