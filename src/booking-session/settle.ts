import { persistencePath, toStoredResult, BookingResult as Results, type BookingRequest, type BookingResult } from '../contracts/index.js';
import { isTransientDbError } from '../db/errors.js';
import { retryTransient } from '../db/retry.js';
import type { ReservationSource, ReservationStatus } from '../db/types.js';
import type { Execution } from '../booking/session-port.js';
import { flagLateBooking, flagUnknownAfterCancel, getReservation, recordBookingResult, releaseClaim, requeueReservation } from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import { reconcileOwnBooking, type ReconcileDeps } from './reconcile.js';
import { OUTCOME_RETRY_MS } from './retry-budgets.js';

/**
 * Settling a held reservation after its execution (docs/architecture.md "Booking session"): the row gets
 * exactly one end, through guarded writes under this owner's lease —
 * - `settled` → `succeeded`/`failed` through THE persistence helper `recordBookingResult`;
 * - `interrupted` → back to `scheduled` (queued rows), or `failed` (a `book-now` row: its user was told it
 *   failed, so it must not be booked later behind their back);
 * - `unknown` → reconciled against the site (`reconcile.ts`): found → `succeeded`, not found → `scheduled`,
 *   unknowable → `needs_attention`. Never a blind second submit.
 */

/** How a session ended. */
export interface SessionEnd {
  /** The result recorded (or, when `recorded` is false, the one that could not be). */
  result: BookingResult;
  /** False when the row was no longer held by this owner (cancelled, taken over): nothing written. */
  recorded: boolean;
}

/** What {@link settleExecution} needs. */
export interface SettleContext {
  deps: ReconcileDeps;
  id: number;
  source: ReservationSource;
  request: BookingRequest;
  /** Aborted when the stop's grace ran out: retries through an outage end. */
  signal: AbortSignal;
  logger: Logger;
}

/** Writes the end of `execution` on the row (see the file's comment) and logs one line. */
export async function settleExecution(ctx: SettleContext, execution: Execution): Promise<SessionEnd> {
  const { id, logger: log } = ctx;
  const now = new Date(ctx.deps.clock.now());
  const { result } = execution;
  if (execution.kind === 'unknown') {
    // Submitted, answer lost: the site may hold a booking. It is looked up before anything else.
    const reconciled = await reconcileOwnBooking(ctx.deps, { id, cause: result.errors.join('; ') || result.outcome, result, request: ctx.request, signal: ctx.signal });
    if (reconciled.decision === 'not_held') {
      if (await flagUnknownAfterCancel(ctx.deps.db, { id, now })) {
        log.error({ outcome: result.outcome }, `reservation ${id}: cancelled while its submit was on its way and the answer was lost; needs attention (the site may hold a booking)`);
      } else {
        // Whoever holds the row now reconciles it (a take-over looks the site up before anything else).
        log.warn({ outcome: result.outcome }, `reservation ${id}: submitted, answer unknown, and not reconciled here: ${await describeChange(ctx)}`);
      }
    }
    return { result: reconciled.result ?? result, recorded: reconciled.decision !== 'not_held' && reconciled.decision !== 'lease_lost' };
  }
  if (execution.kind === 'interrupted' && ctx.source === 'queue') {
    const recorded = await writeOutcome(ctx, result, { what: 'giving the reservation back to the queue', status: 'scheduled', stamp: 'updated_at', now }, () =>
      requeueReservation(ctx.deps.db, { id, owner: ctx.deps.daemonId, now }),
    );
    if (recorded) log.warn({ outcome: result.outcome }, `reservation ${id}: booking interrupted before any submit; back in the queue`);
    else log.warn({ outcome: result.outcome }, `reservation ${id}: booking interrupted before any submit; ${await describeChange(ctx)}`);
    return { result, recorded };
  }
  const final = execution.kind === 'interrupted' ? immediateInterrupted(ctx.request, result) : result;
  const recorded = await writeOutcome(ctx, final, { what: 'recording the result', status: persistencePath(final), stamp: 'finished_at', now }, () =>
    recordBookingResult(ctx.deps.db, { reservationId: id, owner: ctx.deps.daemonId, result: final, now }),
  );
  if (!recorded && final.status === 'success') {
    // The site took it, but the row is no longer ours: never lose the code.
    const was = await flagLateBooking(ctx.deps.db, { id, owner: ctx.deps.daemonId, result: final, now });
    const fields = { court: final.court, confirmation_code: final.confirmationCode };
    if (was) log.error(fields, `reservation ${id}: booked on the site after the row had become ${was}; needs attention (booking ${final.confirmationCode} on court ${final.court})`);
    else log.error(fields, `reservation ${id}: booked on the site (booking ${final.confirmationCode} on court ${final.court}) but not recorded: ${await describeChange(ctx)}; if the row has another booking, cancel one on the site`);
  } else if (!recorded && (await giveBackUnfired(ctx, now))) {
    log.warn({ outcome: final.outcome, errors: final.errors }, `reservation ${id}: the booking ended (${final.outcome}) before its fire began (nothing submitted); back in the queue`);
  } else if (!recorded) {
    log.warn({ outcome: final.outcome }, `reservation ${id}: result (${final.outcome}) not recorded: ${await describeChange(ctx)}`);
  } else if (final.status === 'success') {
    log.info({ court: final.court, outcome: final.outcome }, `reservation ${id}: booked court ${final.court}`);
  } else {
    log.warn({ outcome: final.outcome, errors: toStoredResult(final).errors }, `reservation ${id}: booking failed (${final.outcome})`);
  }
  return { result: final, recorded };
}

/**
 * A failure found the row still `claimed` under this owner: the fire never began (its own write or the site
 * block check failed, e.g. the database stayed unavailable), so nothing was submitted. The row goes back to
 * the queue (`claimed → scheduled`), never left held: a held row nobody runs would be claimed again only when
 * its lease runs out, after every lease. A `book-now` row is created in `booking`, so it never gets here.
 */
async function giveBackUnfired(ctx: SettleContext, now: Date): Promise<boolean> {
  const retry = { what: `reservation ${ctx.id}: giving the unfired reservation back to the queue`, logger: ctx.logger, budgetMs: OUTCOME_RETRY_MS, signal: ctx.signal };
  return retryTransient(() => releaseClaim(ctx.deps.db, { id: ctx.id, owner: ctx.deps.daemonId, now }), retry).catch(() => false);
}

/** A `book-now` booking stopped before any submit: a failure of its own, with the reason. */
function immediateInterrupted(request: BookingRequest, result: BookingResult): BookingResult {
  return Results.failure({ request, outcome: 'interrupted', errors: result.errors, message: 'book-now stopped before anything was submitted', metadata: result.metadata });
}

/**
 * What a guarded write found instead of the row it expected, status and holder: "the row changed meanwhile:
 * it is now cancelled (held by nobody; this daemon's old lease is still written on it)", "... it is now
 * booking (held by daemon-b until 2027-07-21T15:00:30.000Z)". Between them the settle's writes take the row in
 * `booking` (the result, the give-back of an interrupted booking) and in `claimed` (the give-back, here or by
 * {@link giveBackUnfired}) under this owner, so a row they did not change is not held by this owner: it is
 * final, back in the queue, or another holder's.
 */
async function describeChange(ctx: SettleContext): Promise<string> {
  const row = await getReservation(ctx.deps.db, ctx.id).catch(() => null);
  if (!row) return 'the row changed meanwhile (it could not be read back)';
  const held = row.status === 'claimed' || row.status === 'booking';
  const ours = row.lease_owner === ctx.deps.daemonId;
  let holder: string;
  if (held && row.lease_owner) holder = `held by ${ours ? 'this daemon' : row.lease_owner} until ${row.lease_expires_at?.toISOString() ?? '?'}`;
  else if (row.lease_owner && ours) holder = "held by nobody; this daemon's old lease is still written on it";
  else holder = 'held by nobody';
  return `the row changed meanwhile: it is now ${row.status} (${holder})`;
}

/**
 * Writes a booking's outcome through a database fault (the result of a booking must not be lost because one
 * query hit a dropped connection). The guarded `write` (safe to repeat: it names the state and lease owner it
 * expects) is retried while the database is unavailable, for up to {@link OUTCOME_RETRY_MS} or until the
 * context's signal aborts. A try whose reply was lost may have been applied, and the repeat then changes no
 * row: so a "no row changed" is checked against the row — our target `status` with our `now` in `stamp` means
 * the write was ours. Giving up logs the whole result at error level and throws the database error.
 */
async function writeOutcome(
  ctx: SettleContext,
  result: BookingResult,
  target: { what: string; status: ReservationStatus; stamp: 'finished_at' | 'updated_at'; now: Date },
  write: () => Promise<boolean>,
): Promise<boolean> {
  const what = `reservation ${ctx.id}: ${target.what}`;
  const retry = { what, logger: ctx.logger, budgetMs: OUTCOME_RETRY_MS, signal: ctx.signal };
  try {
    if (await retryTransient(write, retry)) return true;
    const row = await retryTransient(() => getReservation(ctx.deps.db, ctx.id), retry);
    return row?.status === target.status && row[target.stamp]?.getTime() === target.now.getTime();
  } catch (err) {
    ctx.logger.error(
      { err, reservation_id: ctx.id, outcome: result.outcome, court: result.court, confirmation_code: result.confirmationCode, result: toStoredResult(result) },
      `${what} failed (${isTransientDbError(err) ? 'the database stayed unavailable' : 'the write itself failed'}); this line holds the booking's result (${result.status}, outcome ${result.outcome}) — it is NOT on the row: check the site and record it by hand if the lease take-over does not settle it`,
    );
    throw err;
  }
}
