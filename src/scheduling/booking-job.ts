import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { VenueConfig } from '../config/schema.js';
import { persistencePath, toJsonResult, type BookingRequest, type BookingResult } from '../contracts/index.js';
import { isTransientDbError } from '../db/errors.js';
import { retryTransient } from '../db/retry.js';
import type { Database, ReservationStatus } from '../db/types.js';
import type { ExecuteArgs } from '../booking/executor.js';
import {
  finishAttempt,
  flagBookedAfterCancel,
  getReservation,
  markAttemptSubmitted,
  markNeedsAttention,
  requeueReservation,
  recordBookingResult,
  startAttempt,
} from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { AttemptRecorder } from '../booking/executor.js';

/**
 * The one path from "a reservation is held in `booking`" to "its outcome is on the row": run the executor,
 * then record the BookingResult through the ONE persistence helper (`recordBookingResult`). Queued bookings
 * (the daemon) and immediate ones (`reservd book-now`) both come through here (DESIGN.md).
 */

/** Something that books: the executor (tests may pass their own). */
export interface BookingExecutor {
  execute(args: ExecuteArgs): Promise<BookingResult>;
}

/** Creates the {@link AttemptRecorder} the executor writes `booking_attempts` through. */
export function createAttemptRecorder(db: Kysely<Database>, clock: Clock, daemonId: string): AttemptRecorder {
  const now = (): Date => new Date(clock.now());
  return {
    startAttempt: (a) => startAttempt(db, { ...a, daemonId, now: now() }),
    markSubmitted: async (attemptId) => {
      await markAttemptSubmitted(db, { attemptId, now: now() });
    },
    finishAttempt: async (a) => {
      await finishAttempt(db, { ...a, metadata: a.metadata as never, now: now() });
    },
  };
}

/** Arguments of {@link runBookingJob}. */
export interface BookingJobArgs {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  executor: BookingExecutor;
  /** Lease owner holding the row in `booking`. */
  owner: string;
  reservationId: number;
  request: BookingRequest;
  venue: VenueConfig;
  fireAt: Date;
  /** The slot's release instant (defaults to `fireAt`). */
  releaseAt?: Date;
  /** Site clock − local clock used for `fireAt`, ms (metadata `site_clock_offset_ms`); null when unknown. */
  siteClockOffsetMs?: number | null;
  signal: AbortSignal;
  stopWaiting?: AbortSignal;
  shouldContinue?: () => Promise<boolean>;
  beforeFire?: () => Promise<boolean>;
  /**
   * Settles a result whose outcome is unknown after a submit (metadata `outcome_unknown`) by looking the
   * booking up on the site and recording what it finds (`src/scheduling/reconcile.ts`). Without it (e.g.
   * `book-now`), such a result sends the row to `needs_attention`.
   */
  reconcile?: (result: BookingResult) => Promise<{ result: BookingResult; recorded: boolean }>;
}

/**
 * Executes a booking and records its result. Returns the result and whether the row was updated
 * (false: the guard failed because someone else changed the row meanwhile; logged).
 */
export async function runBookingJob(args: BookingJobArgs): Promise<{ result: BookingResult; recorded: boolean }> {
  const executeArgs: ExecuteArgs = {
    request: args.request,
    venue: args.venue,
    reservationId: args.reservationId,
    fireAt: args.fireAt,
    releaseAt: args.releaseAt ?? args.fireAt,
    siteClockOffsetMs: args.siteClockOffsetMs ?? null,
    signal: args.signal,
  };
  if (args.shouldContinue) executeArgs.shouldContinue = args.shouldContinue;
  if (args.beforeFire) executeArgs.beforeFire = args.beforeFire;
  if (args.stopWaiting) executeArgs.stopWaiting = args.stopWaiting;
  const result = await args.executor.execute(executeArgs);
  const now = new Date(args.clock.now());
  const log = args.logger.child({ reservation_id: args.reservationId, venue: result.venue });
  if (result.metadata.outcome_unknown === true) {
    // Submitted, answer unknown (timeout, crash of the page, stop): the site may hold a booking. It is looked
    // up on the site (found → succeeded, absent → retried, unknowable → needs_attention); without a look-up a
    // person looks. reservd never submits blindly again (DESIGN.md).
    if (args.reconcile) return args.reconcile(result);
    const reason = `${result.errors.join('; ').replace(/\.$/, '')}; the booking form was submitted but the site's answer is unknown — check the site before retrying`;
    const recorded = await writeOutcome(args, result, { what: 'recording needs_attention', status: 'needs_attention', stamp: 'updated_at', now }, () =>
      markNeedsAttention(args.db, { id: args.reservationId, owner: args.owner, reason, result, now }),
    );
    log.error({ outcome: result.outcome, court: result.metadata.court }, `reservation ${args.reservationId}: needs attention (outcome unknown after submit)`);
    return { result, recorded };
  }
  if (result.outcome === 'interrupted') {
    // Cut off by a stop or a cancel before any submit: back to `scheduled` while its window is open
    // (guarded: a user's `cancelled` stays).
    const recorded = await writeOutcome(args, result, { what: 'giving the reservation back to the queue', status: 'scheduled', stamp: 'updated_at', now }, () =>
      requeueReservation(args.db, { id: args.reservationId, owner: args.owner, now }),
    );
    log.warn({ outcome: result.outcome, requeued: recorded }, `reservation ${args.reservationId}: booking interrupted before any submit`);
    return { result, recorded };
  }
  const finalStatus = persistencePath(result) === 'succeeded' ? 'succeeded' : 'failed';
  const recorded = await writeOutcome(args, result, { what: 'recording the result', status: finalStatus, stamp: 'finished_at', now }, () =>
    recordBookingResult(args.db, { reservationId: args.reservationId, owner: args.owner, result, now }),
  );
  if (!recorded && result.status === 'success' && (await flagBookedAfterCancel(args.db, { id: args.reservationId, result, now }))) {
    log.error({ court: result.court }, `reservation ${args.reservationId}: cancelled during the submit but booked on the site; needs attention`);
  } else if (!recorded) {
    log.warn({ outcome: result.outcome }, `reservation ${args.reservationId}: result not recorded (row changed meanwhile)`);
  } else if (result.status === 'success') {
    log.info({ court: result.court, outcome: result.outcome }, `reservation ${args.reservationId}: booked court ${result.court}`);
  } else {
    log.warn({ outcome: result.outcome, errors: result.errors }, `reservation ${args.reservationId}: booking failed (${result.outcome})`);
  }
  return { result, recorded };
}

/** How long a booking's outcome is retried through a database outage before giving up loudly, ms. */
const OUTCOME_RETRY_MS = 120_000;

/**
 * Writes a booking's outcome through a database fault (issue 4: the result of a booking must not be lost
 * because one query hit a dropped connection). The guarded `write` (safe to repeat: it names the state and
 * lease owner it expects) is retried while the database is unavailable, for up to {@link OUTCOME_RETRY_MS} or
 * until `args.signal` aborts (the stop's grace ran out). A try whose reply was lost may have been applied, and
 * the repeat then changes no row: so a "no row changed" is checked against the row — our target `status` with
 * our `now` in `stamp` means the write was ours. Giving up logs the whole result at error level (a person, or
 * the lease take-over's reconciliation, settles it) and throws the database error.
 */
async function writeOutcome(
  args: BookingJobArgs,
  result: BookingResult,
  target: { what: string; status: ReservationStatus; stamp: 'finished_at' | 'updated_at'; now: Date },
  write: () => Promise<boolean>,
): Promise<boolean> {
  const id = args.reservationId;
  const what = `reservation ${id}: ${target.what}`;
  const retry = { what, logger: args.logger, budgetMs: OUTCOME_RETRY_MS, signal: args.signal };
  try {
    if (await retryTransient(write, retry)) return true;
    const row = await retryTransient(() => getReservation(args.db, id), retry);
    return row?.status === target.status && row[target.stamp]?.getTime() === target.now.getTime();
  } catch (err) {
    args.logger.error(
      { err, reservation_id: id, outcome: result.outcome, court: result.court, confirmation_code: result.confirmationCode, result: toJsonResult(result) },
      `${what} failed (${isTransientDbError(err) ? 'the database stayed unavailable' : 'the write itself failed'}); this line holds the booking's result (${result.status}, outcome ${result.outcome}) — it is NOT on the row: check the site and record it by hand if the lease take-over does not settle it`,
    );
    throw err;
  }
}
