import type { Kysely } from 'kysely';
import type { AppointmentLookup } from '../booking/flows/acuity-lookup.js';
import type { Clock } from '../clock.js';
import type { Config, VenueConfig } from '../config/schema.js';
import { buildRequestFromReservation, ContractError, type BookingRequest, type BookingResult } from '../contracts/index.js';
import { retryTransient } from '../db/retry.js';
import type { Database } from '../db/types.js';
import {
  claimDue,
  closeUnsubmittedAttempts,
  expireLeasesOfDeadOwners,
  expireOverdue,
  getStatus,
  heartbeat,
  nextReleaseAt,
  rejectHeld,
  releaseClaim,
  requeueReservation,
  startBooking,
  type ClaimedReservation,
} from '../reservations/index.js';
import { loggableReason, type Logger } from '../telemetry/logger.js';
import { runBookingJob, type BookingExecutor } from './booking-job.js';
import { reconcileAbandonedBookings, reconcileOwnBooking, type ReconcileDeps } from './reconcile.js';
import { runLoop } from './run-loop.js';
import type { SiteClockCache } from './site-clock-cache.js';
import { validatePendingOnce } from './validate-pending.js';

/** A site-clock estimate takes up to ~3.5 s: only worth it with at least this much time before the release. */
const SITE_CLOCK_MIN_LEAD_MS = 8_000;

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
  /** Subscribes to "a reservation was inserted/changed" notifications; the callback wakes the loop. */
  subscribe?: (onNotify: () => void) => void;
  /**
   * Reads a client's appointments on the site, to reconcile unknown booking outcomes (issue 4). Without it,
   * every submit with an unknown outcome goes to `needs_attention`.
   */
  lookup?: AppointmentLookup;
}

/** A running scheduler. */
export interface Scheduler {
  /** Starts the loop; resolves at once. Safe to call twice. */
  start(): void;
  /** Stops claiming; waits up to `graceMs` for in-flight bookings, then aborts them. Safe to call twice. */
  stop(graceMs: number): Promise<void>;
  /** Number of bookings in flight. */
  inFlight(): number;
  /** Runs one scheduling tick now (validate, expire, claim). For tests and `--once`. */
  tickOnce(): Promise<void>;
}

/**
 * The scheduler loop (DESIGN.md "Timing model"): it sleeps on data — next wake = min(poll interval,
 * next release − prepare lead) — and an INSERT wakes it at once (LISTEN/NOTIFY). Each tick validates
 * `pending` rows, expires rows whose slot has passed, and claims the rows due within the prepare lead;
 * every claimed row becomes a booking job that waits for its release instant and fires. The prepare lead
 * is stretched by how far a venue's site clock runs ahead (estimated at start). `daemon.mode:
 * polling-baseline` turns all of this off (fixed poll, claim once released) for the benchmark.
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { db, config, clock, logger, executor, daemonId } = options;
  const { prepareLeadMs, pollIntervalMs, leaseMs } = config.daemon;
  /** The benchmark's job-queue baseline (config `daemon.mode`): claim once due, poll, no site clock. */
  const baseline = config.daemon.mode === 'polling-baseline';
  const siteClocks = baseline ? undefined : options.siteClocks;
  const loopAbort = new AbortController();
  const jobsAbort = new AbortController();
  /** Aborted at stop: bookings still waiting for their release give up at once (back to `scheduled`). */
  const waitAbort = new AbortController();
  const jobs = new Set<Promise<void>>();
  const inFlightIds = new Set<number>();
  let loopDone: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  const now = (): Date => new Date(clock.now());
  const reconcileDeps: ReconcileDeps = { db, clock, logger, daemonId, venues: config.venues, leaseMs, ...(options.lookup ? { lookup: options.lookup } : {}) };

  async function tickOnce(): Promise<void> {
    if (options.isDeadOwner) {
      for (const { owner, rows } of await expireLeasesOfDeadOwners(db, { now: now(), isDead: options.isDeadOwner })) {
        logger.warn({ lease_owner: owner, rows }, `daemon ${owner} is gone (its process no longer runs): taking over its ${rows} reservation(s) now`);
      }
    }
    await validatePendingOnce({ db, config, now: now(), logger });
    // Lease take-over of `booking` rows whose daemon died, each reconciled against the site (logged there).
    await reconcileAbandonedBookings(reconcileDeps);
    const expired = await expireOverdue(db, now());
    for (const id of expired) logger.warn({ reservation_id: id }, `reservation ${id} expired: its slot started before it could be booked`);
    if (loopAbort.signal.aborted) return;
    const free = config.daemon.maxConcurrentBookings - jobs.size;
    if (free <= 0) return;
    const claimed = await claimDue(db, { owner: daemonId, now: now(), horizonMs: claimHorizonMs(), leaseMs, limit: free });
    for (const row of claimed) startJob(row);
  }

  function startJob(row: ClaimedReservation): void {
    // Our own row can come back from claimDue when a heartbeat missed the lease (e.g. a database outage):
    // the claim just renewed our lease; the job already running keeps it. Never a second job.
    if (inFlightIds.has(row.id)) {
      logger.warn({ reservation_id: row.id }, `reservation ${row.id}: re-claimed while its booking job runs (a heartbeat was late); keeping the running job`);
      return;
    }
    inFlightIds.add(row.id);
    const job = runJob(row)
      .catch(async (err: unknown) => {
        logger.error({ err, reservation_id: row.id }, `reservation ${row.id}: booking job crashed; giving it back to the queue`);
        await recoverCrashedJob(row.id, err).catch((recoverErr: unknown) =>
          logger.error({ err: recoverErr, reservation_id: row.id }, `reservation ${row.id}: could not recover after the crash`),
        );
      })
      .finally(() => {
        jobs.delete(job);
        inFlightIds.delete(row.id);
      });
    jobs.add(job);
  }

  async function runJob(row: ClaimedReservation): Promise<void> {
    const id = row.id;
    const log = logger.child({ reservation_id: id, venue: row.venue, target_date: row.target_date, target_time: row.target_time });
    let request: BookingRequest;
    try {
      // Rows are validated when pending, but one may have been inserted directly as `scheduled`.
      request = buildRequestFromReservation(row, row, (v) => Object.hasOwn(config.venues, v));
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      await rejectHeld(db, { id, owner: daemonId, reason: err.message, now: now() });
      log.warn({ field: err.field }, `reservation ${id} rejected: ${loggableReason(err.field, err.message)}`);
      return;
    }
    const venue = config.venues[request.venue];
    if (!venue) {
      log.error(`reservation ${id}: venue "${request.venue}" is no longer configured; releasing the claim`);
      await releaseClaim(db, { id, owner: daemonId, now: now() });
      return;
    }
    const releaseAt = row.release_at;
    // A claim taken over from a daemon that died before firing: close its attempts (never submitted: the row
    // was still `claimed`), so none stays open forever.
    const closed = await closeUnsubmittedAttempts(db, { reservationId: id, now: now() });
    if (closed > 0) log.warn({ attempts: closed }, `reservation ${id}: closed ${closed} attempt(s) a stopped daemon left unsubmitted`);
    const fireAt = await fireInstant(request.venue, venue, releaseAt);
    const inMs = releaseAt.getTime() - clock.now();
    log.info(
      { release_at: releaseAt.toISOString(), in_ms: inMs },
      inMs > 0 ? `reservation ${id} claimed; release in ${Math.round(inMs / 1000)} s` : `reservation ${id} claimed; its release has already passed, booking now`,
    );
    const stopHeartbeat = new AbortController();
    const beat = (async () => {
      while (!stopHeartbeat.signal.aborted) {
        await clock.sleep(Math.max(1_000, Math.floor(leaseMs / 3)), stopHeartbeat.signal);
        if (stopHeartbeat.signal.aborted) break;
        // Through a database outage, keep trying until the lease would run out (issue 4): a late heartbeat still
        // holds the row; giving up early lets another daemon take it over while this one books it.
        const retry = { what: `reservation ${id}: lease heartbeat`, logger: log, budgetMs: leaseMs - Math.max(1_000, Math.floor(leaseMs / 3)), signal: stopHeartbeat.signal };
        const held = await retryTransient(() => heartbeat(db, { id, owner: daemonId, now: now(), leaseMs }), retry).catch((err: unknown) => {
          log.warn({ err }, 'lease heartbeat failed');
          return true;
        });
        if (!held) log.warn(`reservation ${id}: lease lost`);
      }
    })();
    try {
      const shouldContinue = async (): Promise<boolean> => (await getStatus(db, id)) === 'booking';
      // Moving claimed → booking at the fire instant is guarded: a user's `cancelled` set while we waited wins.
      const beforeFire = async (): Promise<boolean> => {
        const started = await startBooking(db, { id, owner: daemonId, now: now() });
        if (!started) log.info(`reservation ${id}: no longer claimed by this daemon (cancelled?); not submitting`);
        return started;
      };
      // A submit with an unknown outcome is looked up on the site before anything else (issue 4).
      const reconcile = async (result: BookingResult) => {
        const reconciled = await reconcileOwnBooking(reconcileDeps, { id, cause: result.errors.join('; ') || result.outcome, result });
        return { result: reconciled.result ?? result, recorded: reconciled.decision !== 'not_held' && reconciled.decision !== 'lease_lost' };
      };
      await runBookingJob({ db, clock, logger, executor, owner: daemonId, reservationId: id, request, venue, fireAt: fireAt.at, releaseAt, siteClockOffsetMs: fireAt.offsetMs, signal: jobsAbort.signal, stopWaiting: waitAbort.signal, shouldContinue, beforeFire, reconcile });
    } finally {
      stopHeartbeat.abort();
      await beat;
    }
  }

  /**
   * Never leaves a row stuck until its lease expires, and never re-queues one the site may have taken: a row
   * in `booking` is reconciled against the site (found → `succeeded`, not found and still ahead → `scheduled`,
   * unknowable → `needs_attention`; DESIGN.md "never a blind second submit"); a row still `claimed` (nothing
   * fired) goes back to `scheduled`. All guarded by our lease.
   */
  async function recoverCrashedJob(id: number, err: unknown): Promise<void> {
    const cause = `its booking job crashed: ${err instanceof Error ? err.message : String(err)}`;
    const reconciled = await reconcileOwnBooking(reconcileDeps, { id, cause });
    if (reconciled.decision === 'not_held') await requeueReservation(db, { id, owner: daemonId, now: now() });
  }

  /**
   * The local instant to fire at: the release instant on the SITE's clock, plus the estimate's uncertainty
   * so the submit never reaches the site before its release (DESIGN.md timing model; issue 2: "before the
   * release instant the site received no booking submit"). A fresh estimate (measured at start, or by an
   * earlier booking) is used as is; without one the venue is measured now when there is time before the
   * release; a claim too late for that uses the latest (older) estimate, and only a site never measured is
   * fired on the local clock.
   */
  async function fireInstant(venueId: string, venue: VenueConfig, releaseAt: Date): Promise<{ at: Date; offsetMs: number | null }> {
    if (!siteClocks) return { at: releaseAt, offsetMs: null };
    let estimate = siteClocks.known(venue);
    if (!estimate && releaseAt.getTime() - clock.now() >= SITE_CLOCK_MIN_LEAD_MS) estimate = await siteClocks.offsetFor(venueId, venue, jobsAbort.signal);
    // No time to measure (or the site did not answer): an older estimate still beats the local clock.
    estimate ??= siteClocks.latest(venue);
    if (!estimate) return { at: releaseAt, offsetMs: null };
    return { at: new Date(Math.ceil(releaseAt.getTime() - estimate.offsetMs + estimate.uncertaintyMs)), offsetMs: Math.round(estimate.offsetMs) };
  }

  /**
   * How far ahead rows are claimed, ms: the prepare lead, plus how far the furthest-ahead site clock we know
   * runs ahead of ours (its release comes that much earlier on our clock). The baseline claims only rows
   * already due.
   */
  function claimHorizonMs(): number {
    if (baseline) return 0;
    let aheadMs = 0;
    for (const venue of Object.values(config.venues)) aheadMs = Math.max(aheadMs, siteClocks?.latest(venue)?.offsetMs ?? 0);
    return prepareLeadMs + Math.ceil(aheadMs);
  }

  async function nextDelayMs(): Promise<number> {
    if (baseline) return pollIntervalMs;
    const next = await nextReleaseAt(db);
    if (!next) return pollIntervalMs;
    const untilClaimMs = Math.min(pollIntervalMs, next.getTime() - claimHorizonMs() - clock.now());
    // A due row we could not claim this tick (locked by another daemon, or over our concurrency cap) must
    // not spin the loop; a claim still in the future is slept to exactly.
    return untilClaimMs > 0 ? untilClaimMs : MIN_TICK_GAP_MS;
  }

  return {
    start() {
      if (loopDone) return;
      let wake: () => void = () => {};
      if (!baseline) options.subscribe?.(() => wake());
      // Measure every venue's site clock now, in the background: a booking claimed shortly before its
      // release then fires on the site's clock too, and a site far ahead is claimed early enough.
      if (siteClocks) for (const [venueId, venue] of Object.entries(config.venues)) void siteClocks.offsetFor(venueId, venue, jobsAbort.signal);
      loopDone = runLoop({
        name: 'scheduler',
        tickOnce,
        nextDelayMs,
        clock,
        logger,
        signal: loopAbort.signal,
        onWake: (w) => {
          wake = w;
        },
      });
    },
    stop(graceMs) {
      stopping ??= (async () => {
        loopAbort.abort();
        waitAbort.abort();
        await loopDone;
        if (jobs.size > 0) {
          logger.info({ in_flight: jobs.size, grace_ms: graceMs }, 'waiting for in-flight bookings');
          const grace = new AbortController();
          await Promise.race([Promise.allSettled([...jobs]), clock.sleep(graceMs, grace.signal)]);
          grace.abort();
        }
        jobsAbort.abort();
        await Promise.allSettled([...jobs]);
      })();
      return stopping;
    },
    inFlight: () => jobs.size,
    tickOnce,
  };
}
