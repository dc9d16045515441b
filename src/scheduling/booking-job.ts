import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { VenueConfig } from '../config/schema.js';
import type { BookingRequest, BookingResult } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import type { ExecuteArgs } from '../booking/executor.js';
import {
  finishAttempt,
  flagBookedAfterCancel,
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
    // Submitted, answer unknown (timeout, crash of the page, stop): the site may hold a booking. A person
    // looks; reservd never submits blindly again (DESIGN.md). Reconciliation against the site comes later.
    const reason = `${result.errors.join('; ').replace(/\.$/, '')}; the booking form was submitted but the site's answer is unknown — check the site before retrying`;
    const recorded = await markNeedsAttention(args.db, { id: args.reservationId, owner: args.owner, reason, result, now });
    log.error({ outcome: result.outcome, court: result.metadata.court }, `reservation ${args.reservationId}: needs attention (outcome unknown after submit)`);
    return { result, recorded };
  }
  if (result.outcome === 'interrupted') {
    // Cut off by a stop or a cancel before any submit: back to `scheduled` while its window is open
    // (guarded: a user's `cancelled` stays).
    const recorded = await requeueReservation(args.db, { id: args.reservationId, owner: args.owner, now });
    log.warn({ outcome: result.outcome, requeued: recorded }, `reservation ${args.reservationId}: booking interrupted before any submit`);
    return { result, recorded };
  }
  const recorded = await recordBookingResult(args.db, { reservationId: args.reservationId, owner: args.owner, result, now });
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
