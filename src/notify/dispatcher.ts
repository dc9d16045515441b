import type { Kysely } from 'kysely';
import { backoffDelayMs } from '../backoff.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../telemetry/logger.js';
import { factsFromRow, formatNotification } from './message.js';
import { claimDue, nextDueAt, recordAttempt, type AttemptRecord, type ClaimedNotification } from './outbox.js';
import type { Sink } from './sinks.js';

/**
 * The notification dispatcher (README "Notifications"): claims due outbox rows, sends each to its sink and
 * records the attempt. A sink that is down only delays its own messages: bookings never wait on it (the
 * outbox row was committed with the status; sending happens here, later, on its own loop).
 * Exactly once per reservation, status and sink as far as this side can tell: a row is marked delivered
 * right after its sink said 2xx; a crash between the two sends it again after the claim lease, with the same
 * `Idempotency-Key`, which a receiver uses to drop the repeat.
 */

/** Settings of {@link createNotifyDispatcher} (the `notify` config section's numbers). */
export interface DispatcherSettings {
  maxAttempts: number;
  retryFirstMs: number;
  retryMaxMs: number;
  pollIntervalMs: number;
  requestTimeoutMs: number;
}

/** A running dispatcher. */
export interface NotifyDispatcher {
  /** Starts the loop (safe to call twice). */
  start(): void;
  /** Runs a pass soon (a NOTIFY on `reservd_notifications` arrived). */
  wake(): void;
  /** Ends the loop after the message in flight; resolves when it has ended. */
  stop(): Promise<void>;
  /** One pass now: claims and sends what is due; resolves with the number of rows handled (tests, drains). */
  runOnce(): Promise<number>;
}

/** Rows claimed per pass. */
const BATCH = 20;

/** What to record for an attempt that ended with `outcome`. */
function recordFor(args: { claimed: ClaimedNotification; outcome: Awaited<ReturnType<Sink['send']>>; now: number; settings: DispatcherSettings }): AttemptRecord {
  const { claimed, outcome, now, settings } = args;
  if (outcome.kind === 'delivered') return { kind: 'delivered', at: new Date(now) };
  if (outcome.kind === 'skip') return { kind: 'skipped', at: new Date(now), why: outcome.why };
  const attempt = claimed.attempts + 1;
  if (outcome.kind === 'reject') return { kind: 'failed', error: `attempt ${attempt}: ${outcome.error} (not retried)` };
  if (attempt >= settings.maxAttempts) return { kind: 'failed', error: `attempt ${attempt} of ${settings.maxAttempts}: ${outcome.error} (gave up)` };
  const delayMs = backoffDelayMs(attempt, { firstMs: settings.retryFirstMs, maxMs: settings.retryMaxMs });
  return { kind: 'retry', error: `attempt ${attempt}: ${outcome.error}`, nextAttemptAt: new Date(now + delayMs) };
}

/** Creates the dispatcher over `sinks` (none: it does nothing). */
export function createNotifyDispatcher(args: { db: Kysely<Database>; sinks: readonly Sink[]; settings: DispatcherSettings; clock: Clock; logger: Logger }): NotifyDispatcher {
  const { db, sinks, settings, clock, logger } = args;
  const byName = new Map(sinks.map((s) => [s.name, s]));
  const names = sinks.map((s) => s.name);
  const stopping = new AbortController();
  let wakeUp = new AbortController();
  let loop: Promise<void> | null = null;

  async function deliver(claimed: ClaimedNotification): Promise<void> {
    const sink = byName.get(claimed.sink)!;
    const facts = factsFromRow(claimed.row);
    const outcome = await sink.send({ facts, message: formatNotification(facts), telegramChatId: claimed.telegramChatId }, AbortSignal.timeout(settings.requestTimeoutMs))
      .catch((err: unknown) => ({ kind: 'retry' as const, error: (err as Error).message }));
    const rec = recordFor({ claimed, outcome, now: clock.now(), settings });
    await recordAttempt(db, claimed.outboxId, rec);
    const log = { reservation_id: Number(facts.reservationId), status: facts.status, sink: sink.name, attempt: claimed.attempts + 1 };
    if (rec.kind === 'delivered') logger.info(log, `notification sent (${sink.name}, reservation ${facts.reservationId} ${facts.status})`);
    else if (rec.kind === 'skipped') logger.info(log, `notification skipped (${sink.name}): ${rec.why}`);
    else if (rec.kind === 'retry') logger.warn({ ...log, next_attempt_at: rec.nextAttemptAt.toISOString() }, `notification not sent (${sink.name}), will retry: ${rec.error}`);
    else logger.error(log, `notification failed (${sink.name}): ${rec.error}`);
  }

  async function runOnce(): Promise<number> {
    const now = clock.now();
    // The lease covers one batch of sends each up to the request timeout.
    const leaseUntil = new Date(now + settings.requestTimeoutMs * (BATCH + 1));
    const claimed = await claimDue(db, { now: new Date(now), leaseUntil, limit: BATCH, sinks: names });
    for (const c of claimed) await deliver(c);
    return claimed.length;
  }

  async function sleepUntilDue(): Promise<void> {
    const due = await nextDueAt(db, names);
    const waitMs = Math.min(settings.pollIntervalMs, due === null ? Infinity : Math.max(0, due.getTime() - clock.now()));
    const signal = AbortSignal.any([stopping.signal, wakeUp.signal]);
    await clock.sleep(waitMs, signal);
    if (wakeUp.signal.aborted) wakeUp = new AbortController();
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        // A full batch: more may be due at once.
        while ((await runOnce()) === BATCH && !stopping.signal.aborted);
        await sleepUntilDue();
        failures = 0;
      } catch (err) {
        failures += 1;
        logger.error({ err }, 'notification dispatcher: a pass failed; retrying');
        await clock.sleep(backoffDelayMs(failures, { firstMs: 1_000, maxMs: settings.pollIntervalMs }), stopping.signal);
      }
    }
  }

  return {
    start() {
      if (names.length > 0) loop ??= run();
    },
    wake: () => wakeUp.abort(),
    async stop() {
      stopping.abort();
      await loop;
    },
    runOnce,
  };
}
