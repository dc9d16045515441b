import type { Kysely } from 'kysely';
import type { BookingExecutor, SiteLookup } from '../booking/session-port.js';
import { createBookingSessions, type BookingSession, type BookingSessions } from '../booking-session/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/types.js';
import { expireLeasesOfDeadOwners, expireOverdue, nextReleaseAt } from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import { claimHorizonMs, planFire } from './fire-plan.js';
import { runLoop } from './run-loop.js';
import type { SiteClockCache } from './site-clock-cache.js';
import { validatePendingOnce } from './validate-pending.js';

/** Shortest pause between two scheduler ticks, ms. */
const MIN_TICK_GAP_MS = 100;

/** What the scheduler needs (wired by `src/app.ts`). */
export interface SchedulerOptions {
  db: Kysely<Database>;
  config: Config;
  clock: Clock;
  logger: Logger;
  executor: BookingExecutor;
  /** Lease owner id of this daemon (`lease_owner`, `booking_attempts.daemon_id`). */
  daemonId: string;
  /** Site-clock offsets per venue; without it the daemon fires on its local clock. */
  siteClocks?: SiteClockCache;
  /**
   * Judges a lease owner dead from its id (e.g. `isDeadLocalDaemon`: same host, pid gone); its leases end at
   * once instead of after `leaseMs`. Without it leases only run out.
   */
  isDeadOwner?: (owner: string) => boolean;
  /**
   * Subscribes to "a reservation was inserted/changed" notifications (payload: the row id; `''` after a
   * reconnect); the callback wakes the loop and closes a row the user cancelled (`noticeCancel`).
   */
  subscribe?: (onNotify: (payload?: string) => void) => void;
  /**
   * Asks the site what a member can (an appointment by hash, whether a time is offered), to reconcile unknown
   * booking outcomes. Without it, every submit with an unknown outcome goes to `needs_attention`.
   */
  siteLookup?: SiteLookup;
}

/** A running scheduler. */
export interface Scheduler {
  /** Starts the loop; resolves at once. Safe to call twice. */
  start(): void;
  /** Stops claiming; waits up to `graceMs` for in-flight bookings, then aborts them. Safe to call twice. */
  stop(graceMs: number): Promise<void>;
  /** Number of bookings in flight. */
  inFlight(): number;
  /** Runs one scheduling tick now (validate, expire, reconcile, claim). For tests and `--once`. */
  tickOnce(): Promise<void>;
  /** When the last tick completed without error, epoch ms (clock time); null before the first (`/readyz`, `/healthz`). */
  lastTickAt(): number | null;
}

/**
 * The scheduler loop (docs/timing.md "Wake plan"): it sleeps on data — next wake = min(poll interval,
 * next release − prepare lead) — and an INSERT wakes it at once (LISTEN/NOTIFY). Each tick validates
 * `pending` rows, reconciles rows dead daemons left in `booking`, expires rows whose slot has passed, and
 * holds the rows due within the prepare lead through the booking session (`src/booking-session/`), which
 * owns each held row until it is settled. `daemon.mode: polling-baseline` turns the timing off (fixed poll,
 * claim once released, no site clock) for the benchmark.
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { db, config, clock, logger } = options;
  const baseline = config.daemon.mode === 'polling-baseline';
  const siteClocks = baseline ? undefined : options.siteClocks;
  const sessions = createBookingSessions({
    db,
    clock,
    logger,
    daemonId: options.daemonId,
    venues: config.venues,
    leaseMs: config.daemon.leaseMs,
    siteBlockedCoolOffMs: config.daemon.siteBlockedCoolOffMs,
    executor: options.executor,
    ...(options.siteLookup ? { siteLookup: options.siteLookup } : {}),
    ...(options.isDeadOwner ? { isDeadOwner: options.isDeadOwner } : {}),
  });
  const loopAbort = new AbortController();
  const jobs = createJobs({ sessions, clock, logger, siteClocks });
  let loopDone: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  const now = (): Date => new Date(clock.now());
  // Only this daemon's venues are claimed and waited for; other daemons on the database serve theirs.
  const venueIds = Object.keys(config.venues);
  /** Pending rows left to another daemon and already warned about (a warning per row, not per tick). */
  const othersRows = new Set<number>();
  let lastTickAtMs: number | null = null;

  async function tickOnce(): Promise<void> {
    await tickWork();
    lastTickAtMs = clock.now();
  }

  async function tickWork(): Promise<void> {
    if (options.isDeadOwner) {
      for (const { owner, rows } of await expireLeasesOfDeadOwners(db, { now: now(), isDead: options.isDeadOwner })) {
        logger.warn({ lease_owner: owner, rows }, `daemon ${owner} is gone (its process no longer runs): taking over its ${rows} reservation(s) now`);
      }
    }
    await validatePendingOnce({ db, config, now: now(), logger, noticed: othersRows });
    // Lease take-over of `booking` rows whose daemon died, each reconciled against the site (logged there).
    await sessions.reconcileAbandoned();
    for (const id of await expireOverdue(db, now())) logger.warn({ reservation_id: id }, `reservation ${id} expired: its slot started before it could be booked`);
    if (loopAbort.signal.aborted) return;
    const free = config.daemon.maxConcurrentBookings - jobs.size();
    if (free <= 0) return;
    for (const session of await sessions.holdDue({ horizonMs: claimHorizonMs(config, siteClocks, baseline), limit: free })) jobs.start(session);
  }

  /** A cancelled row named by a NOTIFY is closed at once (its wake-up is recomputed by the woken loop). */
  function noticeCancel(payload: string | undefined): void {
    const id = Number(payload);
    if (payload === undefined || payload === '' || !Number.isSafeInteger(id) || id <= 0) return;
    sessions.noticeCancel(id).catch((err: unknown) => logger.warn({ err, reservation_id: id }, `reservation ${id}: could not check it after its change notification; the heartbeat notices a cancel`));
  }

  async function nextDelayMs(): Promise<number> {
    if (baseline) return config.daemon.pollIntervalMs;
    const next = await nextReleaseAt(db, venueIds);
    if (!next) return config.daemon.pollIntervalMs;
    const untilClaimMs = Math.min(config.daemon.pollIntervalMs, next.getTime() - claimHorizonMs(config, siteClocks, baseline) - clock.now());
    // A due row we could not claim this tick (locked by another daemon, or over our concurrency cap) must
    // not spin the loop; a claim still in the future is slept to exactly.
    return untilClaimMs > 0 ? untilClaimMs : MIN_TICK_GAP_MS;
  }

  return {
    start() {
      if (loopDone) return;
      let wake: () => void = () => {};
      if (!baseline) options.subscribe?.((payload) => {
        wake();
        noticeCancel(payload);
      });
      // Measure every venue's site clock now, in the background: a booking claimed shortly before its
      // release then fires on the site's clock too, and a site far ahead is claimed early enough.
      if (siteClocks) for (const [venueId, venue] of Object.entries(config.venues)) void siteClocks.offsetFor(venueId, venue, jobs.abortSignal);
      loopDone = runLoop({ name: 'scheduler', tickOnce, nextDelayMs, clock, logger, signal: loopAbort.signal, onWake: (w) => (wake = w) });
    },
    stop(graceMs) {
      stopping ??= (async () => {
        loopAbort.abort();
        jobs.stopWaiting();
        await loopDone;
        await jobs.drain(graceMs);
      })();
      return stopping;
    },
    inFlight: () => jobs.size(),
    tickOnce,
    lastTickAt: () => lastTickAtMs,
  };
}

/**
 * The scheduler's booking jobs: one per held session, which plans its fire instant and runs it. A job that
 * crashes is recovered by the session module (reconciled or given back), never left held.
 */
function createJobs(deps: { sessions: BookingSessions; clock: Clock; logger: Logger; siteClocks: SiteClockCache | undefined }) {
  const { sessions, clock, logger } = deps;
  const jobs = new Set<Promise<void>>();
  /** Aborted when the stop's grace runs out: bookings still running are cut off. */
  const jobsAbort = new AbortController();
  /** Aborted at stop: bookings still waiting for their release give up at once (back to `scheduled`). */
  const waitAbort = new AbortController();

  async function run(session: BookingSession): Promise<void> {
    const { id, releaseAt } = session;
    // planFire does not throw (a failed estimate is logged and the local clock used); were it to, the session
    // must still run, or its heartbeat would hold the row until the process ends.
    const fire = await planFire({ clock, siteClocks: deps.siteClocks, signal: jobsAbort.signal }, session.request.venue, session.venue, releaseAt).catch((err: unknown) => {
      logger.error({ err, reservation_id: id }, `reservation ${id}: could not plan the fire instant; firing at the release on the local clock`);
      return { at: releaseAt, offsetMs: null };
    });
    const inMs = releaseAt.getTime() - clock.now();
    logger.info(
      { reservation_id: id, venue: session.request.venue, release_at: releaseAt.toISOString(), in_ms: inMs },
      inMs > 0 ? `reservation ${id} claimed; release in ${Math.round(inMs / 1000)} s` : `reservation ${id} claimed; its release has already passed, booking now`,
    );
    await session.run({ fireAt: fire.at, siteClockOffsetMs: fire.offsetMs, signal: jobsAbort.signal, stopWaiting: waitAbort.signal });
  }

  return {
    abortSignal: jobsAbort.signal,
    size: () => jobs.size,
    start(session: BookingSession): void {
      const job = run(session)
        .catch(async (err: unknown) => {
          logger.error({ err, reservation_id: session.id }, `reservation ${session.id}: booking job crashed; settling it from the site or giving it back`);
          await sessions.recoverCrashed(session.id, err).catch((recoverErr: unknown) =>
            logger.error({ err: recoverErr, reservation_id: session.id }, `reservation ${session.id}: could not recover after the crash`),
          );
        })
        .finally(() => jobs.delete(job));
      jobs.add(job);
    },
    stopWaiting: () => waitAbort.abort(),
    /** Waits up to `graceMs` for the jobs, then aborts the rest and waits for them to record it. */
    async drain(graceMs: number): Promise<void> {
      if (jobs.size > 0) {
        logger.info({ in_flight: jobs.size, grace_ms: graceMs }, 'waiting for in-flight bookings');
        const grace = new AbortController();
        await Promise.race([Promise.allSettled([...jobs]), clock.sleep(graceMs, grace.signal)]);
        grace.abort();
      }
      jobsAbort.abort();
      await Promise.allSettled([...jobs]);
    },
  };
}
