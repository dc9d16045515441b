import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { retryTransient } from '../db/retry.js';
import type { Database } from '../db/types.js';
import { markDaemonStopped, pruneGoneDaemons, registerDaemon, touchDaemon, type DaemonRecord } from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import { runLoop } from './run-loop.js';

/**
 * A running daemon's row in `daemons` (migration 0005; liveness rule in `src/reservations/daemons.ts`): written
 * at start, `seen_at` refreshed every `leaseMs / 3` (the lease heartbeat's cadence), `stopped_at` set on a clean
 * stop. The row is never deleted by its daemon (history for operators); rows of daemons gone for a day are
 * pruned by any running daemon.
 */

/** Rows of daemons stopped (or last seen) longer ago than this are deleted, ms (a day). */
export const PRUNE_AFTER_MS = 24 * 60 * 60 * 1000;
/** How often a daemon prunes old rows, ms (an hour: the table stays tiny, a row a day late is harmless). */
const PRUNE_EVERY_MS = 60 * 60 * 1000;
/** Budget of the start and stop writes through a dropped connection, ms. */
const WRITE_RETRY_MS = 10_000;

/** A daemon's registration. */
export interface DaemonRegistration {
  /**
   * Records the daemon (resolves once it is written: the daemon is live before its first tick) and starts the
   * beat. Safe to call twice.
   * @throws the database's error when the record could not be written within its retry budget.
   */
  start(): Promise<void>;
  /** Ends the beat and records `stopped_at` (a failure is logged: the row then goes stale). Safe to call twice. */
  stop(): Promise<void>;
}

/** Creates the registration of daemon `record.id`; nothing is written until `start`. */
export function createDaemonRegistration(args: { db: Kysely<Database>; clock: Clock; logger: Logger; record: DaemonRecord }): DaemonRegistration {
  const { db, clock, logger, record } = args;
  const now = (): Date => new Date(clock.now());
  const beatMs = Math.max(1, Math.floor(record.leaseMs / 3));
  const loopAbort = new AbortController();
  let lastPruneMs = Number.NEGATIVE_INFINITY;
  let starting: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  let loopDone: Promise<void> | null = null;

  async function prune(): Promise<void> {
    if (clock.now() - lastPruneMs < PRUNE_EVERY_MS) return;
    const pruned = await pruneGoneDaemons(db, { now: now(), olderThanMs: PRUNE_AFTER_MS });
    lastPruneMs = clock.now();
    if (pruned > 0) logger.info({ pruned }, `pruned ${pruned} row(s) of daemons gone for more than a day`);
  }

  async function beatOnce(): Promise<void> {
    if (!(await touchDaemon(db, { id: record.id, now: now() }))) {
      logger.warn({ daemon_id: record.id }, `daemon ${record.id}: its row in daemons was gone or marked stopped; recording it again`);
      await registerDaemon(db, { ...record, now: now() });
    }
    await prune();
  }

  return {
    start: () =>
      (starting ??= (async () => {
        await retryTransient(() => registerDaemon(db, { ...record, now: now() }), { what: `daemon ${record.id}: recording it in daemons`, logger, budgetMs: WRITE_RETRY_MS });
        logger.info({ daemon_id: record.id, venues: record.venues, beat_ms: beatMs }, `daemon ${record.id} recorded in daemons (serves: ${record.venues.join(', ')})`);
        // The first beat is one beat away: the row was just written.
        loopDone = (async () => {
          await clock.sleep(beatMs, loopAbort.signal);
          await runLoop({ name: 'daemon-beat', tickOnce: beatOnce, nextDelayMs: () => beatMs, clock, logger, signal: loopAbort.signal });
        })();
      })()),
    stop: () =>
      (stopping ??= (async () => {
        await starting?.catch(() => {});
        loopAbort.abort();
        await loopDone;
        if (!starting) return;
        try {
          await retryTransient(() => markDaemonStopped(db, { id: record.id, now: now() }), { what: `daemon ${record.id}: recording its stop`, logger, budgetMs: WRITE_RETRY_MS });
        } catch (err) {
          logger.error({ err, daemon_id: record.id }, `daemon ${record.id}: could not record its stop in daemons; its row goes stale instead`);
        }
      })()),
  };
}
