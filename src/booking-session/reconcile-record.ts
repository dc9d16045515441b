import type { Kysely } from 'kysely';
import type { SiteLookup } from '../booking/session-port.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import {
  BookingResult,
  buildImmediateRequest,
  buildRequestFromReservation,
  createBookingMetadata,
  withReservationId,
  type BookingRequest,
} from '../contracts/index.js';
import { retryTransient } from '../db/retry.js';
import type { Database } from '../db/types.js';
import {
  closeUnsubmittedAttempts,
  getReservation,
  markAttemptReconciled,
  markNeedsAttention,
  recordBookingResult,
  requeueReservation,
  type AttemptRow,
  type HeldBooking,
  type ReservationRow,
} from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { ReconcileDecision } from './reconcile-decision.js';

/**
 * The write side of crash reconciliation (`reconcile.ts` decides): a decision becomes guarded writes in one
 * transaction — the reservation first, under our lease, through the same helpers as a normal booking
 * (`recordBookingResult` with a `BookingResult.success`), then its attempts — and one log line.
 */

/** What reconciliation needs (the booking sessions' dependencies: the scheduler's and `book-now`'s). */
export interface ReconcileDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** This daemon's lease owner id: rows are taken over and finished under it. */
  daemonId: string;
  /** Configured venues (config `venues`): where to look a reservation up, and which venue ids are known. */
  venues: Config['venues'];
  /**
   * Asks the site what a member can (an appointment by hash, whether a time is offered); without one every
   * unknown outcome that needs the site goes to `needs_attention`.
   */
  siteLookup?: SiteLookup;
  /** Lease taken on a dead daemon's row while it is reconciled, ms (config `daemon.leaseMs`). */
  leaseMs: number;
  /** Longest wait for the site's answers, ms; default `DEFAULT_LOOKUP_TIMEOUT_MS` (reconcile.ts). */
  lookupTimeoutMs?: number;
  /** How long a submit may take to land on the site, ms; default `DEFAULT_SETTLE_MS` (reconcile.ts). */
  settleMs?: number;
  /**
   * Judges a daemon dead from its lease owner id (e.g. `isDeadLocalDaemon`: same host, pid gone). A submit by
   * a daemon not known to be dead may still leave it late (a paused process resumes and posts), so a take-over
   * never re-queues such a row on "not on the site". Without it no other daemon is known dead.
   */
  isDeadOwner?: (owner: string) => boolean;
}

/** How a reconciliation ended for one reservation (`decision` is also the log field). */
export interface ReconcileOutcome {
  reservationId: number;
  /**
   * `not_held`: the row is not in `booking` under our lease (nothing done); `lease_lost`: it changed while we
   * looked; `deferred`: not on the site yet but the submit is too young to be sure — the row stays in `booking`
   * and a later tick looks again.
   */
  decision: 'booked' | 'requeued' | 'not_booked' | 'needs_attention' | 'deferred' | 'not_held' | 'lease_lost';
  /** The attempt the decision is about (the booked one, else the latest unknown one), or null. */
  attempt: number | null;
  /** `booked`: the success recorded; otherwise the result handed in (if any). */
  result: BookingResult | null;
  /** `needs_attention`: the reason written on the row. */
  reason: string | null;
}

function requestFor(row: HeldBooking, venues: Config['venues']): BookingRequest {
  const known = (venue: string): boolean => Object.hasOwn(venues, venue);
  if (row.source === 'immediate') {
    const user = { firstName: row.first_name, lastName: row.last_name, email: row.email, phone: row.phone };
    return withReservationId(buildImmediateRequest({ user, venue: row.venue, targetDate: row.target_date, targetTime: row.target_time, courts: row.courts }, known), row.id);
  }
  return buildRequestFromReservation(row, row, known);
}

/** The success result of a reconciled booking: the same builder and metadata as a normal success, plus `recovered`. */
function successResult(deps: ReconcileDeps, row: HeldBooking, attempts: AttemptRow[], decision: Extract<ReconcileDecision, { kind: 'booked' }>, now: Date, given: BookingRequest | null): BookingResult {
  const request = given ?? requestFor(row, deps.venues);
  const { attempt, court, confirmationCode } = decision;
  const metadata = createBookingMetadata(request, {
    executor: deps.daemonId,
    flow: attempt.flow,
    browserId: attempt.browser_id ?? 'none',
    attempt: attempt.attempt,
    extra: { court, courts_tried: attempts.map((a) => a.court), submitted: true, release_at: row.release_at.toISOString(), recovered: true, reconciled_at: now.toISOString() },
  });
  const how = decision.from === 'site' ? `the site shows appointment ${confirmationCode}` : `attempt ${attempt.attempt} read the confirmation`;
  return BookingResult.success({ request, court, confirmationCode, metadata, message: `booked court ${court} (recovered after an unknown outcome: ${how})` });
}

/** The failure a `book-now` row ends with when reconciliation finds nothing booked (it is never re-queued). */
function notBookedResult(
  deps: ReconcileDeps,
  row: HeldBooking,
  attempts: AttemptRow[],
  now: Date,
  given: BookingRequest | null,
  why: Extract<ReconcileDecision, { kind: 'requeue' }>['why'],
): BookingResult {
  const request = given ?? requestFor(row, deps.venues);
  const last = attempts.at(-1);
  const metadata = createBookingMetadata(request, {
    executor: deps.daemonId,
    flow: last?.flow ?? 'none',
    browserId: last?.browser_id ?? 'none',
    attempt: last?.attempt ?? 0,
    extra: { courts_tried: attempts.map((a) => a.court), submitted: attempts.some((a) => a.submitted_at !== null), release_at: row.release_at.toISOString(), recovered: true, reconciled_at: now.toISOString() },
  });
  return BookingResult.failure({
    request,
    outcome: 'interrupted',
    message: `book-now: ${why === 'nothing_submitted' ? 'it stopped before any submit' : 'the slot is still offered on the site after the submit whose answer was lost'}; nothing is booked (run book-now again if you still want the slot)`,
    metadata,
  });
}

/** What {@link recordDecision} writes besides the decision itself. */
export interface DecisionContext {
  /** Every attempt of the row. */
  attempts: AttemptRow[];
  /** Its submitted attempts without a known outcome. */
  open: AttemptRow[];
  /** The result handed in (kept on a `needs_attention` row), or null. */
  given: BookingResult | null;
  /** The session's request, or null (rebuilt from the row). */
  request: BookingRequest | null;
  /** How long the write is retried through a database fault, ms (`retry-budgets.ts`). */
  retryMs: number;
  /** Aborting stops further retries (a stop's grace ran out). */
  signal?: AbortSignal;
}

/**
 * Writes `decision` for `row` (held by `deps.daemonId`) in one transaction: the reservation first (guarded by
 * our lease: `succeeded` via `recordBookingResult`, `scheduled` via `requeueReservation`, `needs_attention` via
 * `markNeedsAttention`), then never-submitted attempts closed `interrupted`, then — unless a person must look —
 * each `open` attempt settled (`booked` + code for the one the site shows, not booked for the others). A booking
 * that cannot be turned into a valid success result goes to `needs_attention` with its code. Logs one line.
 *
 * Through a database fault the WHOLE transaction is retried (for `ctx.retryMs`), which is safe because its
 * first statement is the guarded reservation write and every other statement runs only when that one matched:
 * a try that failed before COMMIT rolled back entirely, and a try that committed cleared our lease, so a
 * repeat's guard matches nothing and writes nothing. Such a "nothing" after a failed try is checked against
 * the row (our status, unheld, with our code or reason): a COMMIT whose reply was lost is reported as written.
 *
 * @returns the outcome; `lease_lost` when the row changed meanwhile (nothing written).
 * @throws database errors once the retries are spent (nothing is written then: one transaction).
 */
export async function recordDecision(deps: ReconcileDeps, row: HeldBooking, decision: ReconcileDecision, ctx: DecisionContext): Promise<ReconcileOutcome> {
  const { attempts, open, given } = ctx;
  const now = new Date(deps.clock.now());
  let result = given;
  if (decision.kind === 'booked') {
    try {
      result = successResult(deps, row, attempts, decision, now, ctx.request);
    } catch (err) {
      const reason = `the site holds booking ${decision.confirmationCode} on court ${decision.court}, but it cannot be recorded as a success (${(err as Error).message}): check the reservation`;
      decision = { kind: 'needs_attention', reason };
    }
  }
  const final = decision;
  if (final.kind === 'requeue' && row.source === 'immediate') {
    // A `book-now` row never enters the queue: its user was answered already; a daemon booking it later,
    // unasked, could give them a second booking when they run book-now again.
    result = notBookedResult(deps, row, attempts, now, ctx.request, final.why);
  }
  const write = { immediate: row.source === 'immediate', open, given, result, now };
  let tries = 0;
  const held = await retryTransient(
    async () => {
      tries += 1;
      if (await deps.db.transaction().execute((trx) => writeDecision(trx, deps.daemonId, row.id, final, write))) return true;
      return tries > 1 && isOnRow(await getReservation(deps.db, row.id), final, write);
    },
    { what: `reservation ${row.id}: recording its reconciliation`, logger: deps.logger, budgetMs: ctx.retryMs, ...(ctx.signal ? { signal: ctx.signal } : {}) },
  );
  const attempt = final.kind === 'booked' ? final.attempt.attempt : (open.at(-1)?.attempt ?? attempts.at(-1)?.attempt ?? null);
  const outcome = held ? toOutcome(row, final, attempt, result) : { reservationId: row.id, decision: 'lease_lost' as const, attempt, result, reason: null };
  logDecision(deps.logger, row, outcome, final);
  return outcome;
}

/**
 * Whether `row` shows `decision` as written (after a try whose reply was lost): its status, unheld, with our
 * confirmation code or our reason. (Not `updated_at`: a trigger replaces a stamp equal to the previous one.)
 */
function isOnRow(row: ReservationRow | null, decision: ReconcileDecision, w: DecisionWrite): boolean {
  if (!row || row.lease_owner !== null) return false;
  if (decision.kind === 'booked') return row.status === 'succeeded' && row.confirmation_code === w.result?.confirmationCode;
  if (decision.kind === 'requeue') return row.status === (w.immediate ? 'failed' : 'scheduled');
  return row.status === 'needs_attention' && row.reason === decision.reason;
}

/** What {@link writeDecision} writes besides the decision. */
interface DecisionWrite {
  /** A `book-now` row: "not booked" ends it `failed` with `result`, never back in the queue. */
  immediate: boolean;
  open: AttemptRow[];
  given: BookingResult | null;
  /** The result recorded (`booked`, or a `book-now` row not booked). */
  result: BookingResult | null;
  now: Date;
}

/** The statements of {@link recordDecision}, in its transaction; false when the reservation's guard failed. */
async function writeDecision(trx: Kysely<Database>, owner: string, id: number, decision: ReconcileDecision, w: DecisionWrite): Promise<boolean> {
  const { now } = w;
  let changed: boolean;
  if (decision.kind === 'booked' || (decision.kind === 'requeue' && w.immediate)) changed = await recordBookingResult(trx, { reservationId: id, owner, result: w.result!, now });
  else if (decision.kind === 'requeue') changed = await requeueReservation(trx, { id, owner, now });
  else changed = await markNeedsAttention(trx, { id, owner, reason: decision.reason, result: w.given, now });
  if (!changed) return false;
  await closeUnsubmittedAttempts(trx, { reservationId: id, now });
  if (decision.kind === 'needs_attention') return true;
  const note =
    decision.kind === 'booked'
      ? `reconciled ${now.toISOString()}: the site's booking is attempt ${decision.attempt.attempt}'s`
      : `reconciled ${now.toISOString()}: the slot is still offered on the site`;
  for (const a of w.open) {
    const booked = decision.kind === 'booked' && a.id === decision.attempt.id;
    await markAttemptReconciled(trx, { attemptId: a.id, booked, confirmationCode: booked ? decision.confirmationCode : null, note, now });
  }
  return true;
}

function toOutcome(row: HeldBooking, decision: ReconcileDecision, attempt: number | null, result: BookingResult | null): ReconcileOutcome {
  const reservationId = row.id;
  switch (decision.kind) {
    case 'booked':
      return { reservationId, decision: 'booked', attempt, result, reason: null };
    case 'requeue':
      return { reservationId, decision: row.source === 'immediate' ? 'not_booked' : 'requeued', attempt, result, reason: null };
    case 'needs_attention':
      return { reservationId, decision: 'needs_attention', attempt, result, reason: decision.reason };
  }
}

/** Logs one line per decision (`reservation_id`, `attempt`, `decision`); never contact details (the reason names no email, the row's contact fields stay out). */
export function logDecision(logger: Logger, row: HeldBooking, outcome: ReconcileOutcome, decision: ReconcileDecision): void {
  const id = row.id;
  const fields = { reservation_id: id, attempt: outcome.attempt, decision: outcome.decision, venue: row.venue, ...(row.previous_owner ? { previous_owner: row.previous_owner } : {}) };
  switch (outcome.decision) {
    case 'booked': {
      const { court, from } = decision as Extract<ReconcileDecision, { kind: 'booked' }>;
      logger.info({ ...fields, court, from }, `reservation ${id}: reconciled: booked on court ${court} (${from === 'site' ? 'found on the site by its hash' : 'confirmation read by the attempt'}); recorded as succeeded`);
      return;
    }
    case 'requeued':
    case 'not_booked': {
      const why = (decision as Extract<ReconcileDecision, { kind: 'requeue' }>).why;
      const text = why === 'nothing_submitted' ? 'no attempt reached the submit' : 'the slot is still offered on the site';
      logger.info({ ...fields, why }, `reservation ${id}: reconciled: ${text}; ${outcome.decision === 'not_booked' ? 'recorded as failed (a book-now row is never re-queued)' : 'back in the queue'}`);
      return;
    }
    case 'needs_attention':
      logger.warn(fields, `reservation ${id}: reconciled: needs attention: ${outcome.reason}`);
      return;
    case 'deferred':
      logger.info(fields, `reservation ${id}: the slot is still offered, but the submit is too recent to be sure; looking again shortly`);
      return;
    default:
      logger.warn(fields, `reservation ${id}: reconciliation not recorded: the row changed or its lease was taken meanwhile`);
  }
}
