import type { VenueConfig } from '../config/schema.js';
import { buildRequestFromReservation, ContractError, withoutContact, withReservationId, type BookingRequest } from '../contracts/index.js';
import { describeConstraintViolation } from '../db/errors.js';
import { retryTransient } from '../db/retry.js';
import type { ReservationSource } from '../db/types.js';
import type { BookingExecutor, BookingSessionPort } from '../booking/session-port.js';
import {
  claimDue,
  closeCancelled,
  closeUnsubmittedAttempts,
  createImmediateReservation,
  findStartedAttempt,
  finishAttempt,
  isHeld,
  recordIntent,
  recordSiteAnswer,
  rejectHeld,
  releaseClaim,
  startAttempt,
  startBooking,
  type ClaimedReservation,
} from '../reservations/index.js';
import { loggableReason, type Logger } from '../telemetry/logger.js';
import { admissionProblem } from './admission.js';
import { startHeartbeat } from './heartbeat.js';
import { reconcileAbandonedBookings, reconcileOwnBooking, type ReconcileDeps, type ReconcileOutcome } from './reconcile.js';
import { CLAIM_RETRY_MS, FIRE_RETRY_MS, OUTCOME_RETRY_MS } from './retry-budgets.js';
import { settleExecution, type SessionEnd } from './settle.js';
import { activeSiteBlock, noteSiteBlock } from './site-block.js';

/**
 * The booking session: the ONE owner of a held reservation, from its claim to its end (docs/architecture.md
 * "Booking session"). Both the scheduler and `reservd book-now` hold rows only through it:
 *
 *   hold (claim with a lease, or create a `book-now` row held in `booking`; the BookingRequest is built once)
 *   → heartbeat (one timer on the injected clock, for exactly as long as the row is held)
 *   → run: begin fire (`claimed → booking`) → attempts (start; intent before submit, written only while the
 *     attempt is open AND the row is held by this owner — otherwise nothing is submitted; outcome)
 *   → settle (`settle.ts`: the BookingResult through the one persistence helper, or hand back, or reconcile).
 *
 * The executor sees a held row only as a {@link BookingSessionPort}.
 */

/** What the sessions need (wired by the composition root). */
export interface SessionDeps extends ReconcileDeps {
  executor: BookingExecutor;
  /** `daemon.siteBlockedCoolOffMs`: how long a venue whose site flagged a booking gets none, ms (default 6 h). */
  siteBlockedCoolOffMs?: number;
}

/** When and how a held row is booked ({@link BookingSession.run}). */
export interface RunArgs {
  /** Fire instant on the local clock (the release on the site's clock; "now" for `book-now`). */
  fireAt: Date;
  /** Site clock − local clock behind `fireAt`, ms; null when not measured. */
  siteClockOffsetMs: number | null;
  /** Aborted when the stop's grace runs out: attempts are cut off (`interrupted`), retries end. */
  signal: AbortSignal;
  /** Aborted when a stopping daemon gives up bookings that have not fired yet. */
  stopWaiting?: AbortSignal;
}

/** A reservation held by this owner: run it once; the hold ends when `run` settles. */
export interface BookingSession {
  readonly id: number;
  readonly request: BookingRequest;
  readonly venue: VenueConfig;
  readonly releaseAt: Date;
  readonly source: ReservationSource;
  /**
   * Books the row and settles it; the heartbeat stops when this settles.
   *
   * @throws database errors of the settle when the database stayed unavailable (the result is logged; the
   *   lease take-over reconciles the row).
   */
  run(args: RunArgs): Promise<SessionEnd>;
}

/** What `book-now` holds: a validated request (no reservation id yet) and its instants. */
export interface ImmediateHold {
  request: BookingRequest;
  releaseAt: Date;
  slotAt: Date;
}

/** The session API (see the file's comment). */
export interface BookingSessions {
  /**
   * Claims the rows due within `horizonMs` (at most `limit`) of this daemon's venues (`deps.venues`; other
   * daemons serve theirs) and returns a session for each. A row that cannot be booked as it stands is
   * `rejected` with its reason (logged). A row this owner already runs (re-claimed after a late heartbeat) gets no second session.
   */
  holdDue(args: { horizonMs: number; limit: number }): Promise<BookingSession[]>;
  /**
   * Creates the `book-now` row, held by this owner in `booking`, and returns its session.
   *
   * @throws ContractError (field `duplicate`) when the person already has an active reservation overlapping
   *   the slot, naming it; DatabaseConstraintError naming the column for a row the schema refuses.
   */
  holdImmediate(hold: ImmediateHold): Promise<BookingSession>;
  /** Takes over the `booking` rows of dead daemons (expired lease) and reconciles each against the site. */
  reconcileAbandoned(): Promise<ReconcileOutcome[]>;
  /**
   * After a session's `run` threw: settles the row from the site (booking) or gives it back (claimed).
   * Never throws for a row no longer held.
   */
  recoverCrashed(id: number, err: unknown): Promise<void>;
  /**
   * A NOTIFY named row `id` (`reservd_reservations`): when the user cancelled it before its fire began — held
   * here and still `claimed`, or not held (`pending`/`scheduled`) and of this daemon's venues — the row is
   * closed (`closeCancelled`: lease cleared, `finished_at` set), "cancelled by the user" is logged once, and a
   * held row's session ends at once (its prepared pages are released, nothing is submitted). A cancel after
   * the fire began (`booking`) is left to the submit's own rules (settle, `flagUnknownAfterCancel`).
   *
   * @returns whether the row was closed here. @throws database errors (the caller logs them).
   */
  noticeCancel(id: number): Promise<boolean>;
}

/** In-memory state of a held row's session, for {@link BookingSessions.noticeCancel}. */
interface HoldState {
  /** Set just before the fire's `claimed → booking` is sent: a cancel from then on follows the submit's rules. */
  firing: boolean;
  /** The user cancelled the row and it was closed here: the session ends without settling it. */
  cancelled: boolean;
  cancel(): void;
}

/** Creates the booking sessions of one owner (`deps.daemonId`). */
export function createBookingSessions(deps: SessionDeps): BookingSessions {
  const { db, clock, logger, daemonId: owner } = deps;
  const running = new Set<number>();
  const holds = new Map<number, HoldState>();
  /** Rows not held here whose cancel was logged (a line per row, not per NOTIFY). */
  const noticedCancels = new Set<number>();
  const now = (): Date => new Date(clock.now());

  function open(id: number, source: ReservationSource, request: BookingRequest, venue: VenueConfig, releaseAt: Date): BookingSession {
    running.add(id);
    const beat = startHeartbeat(deps, { id, owner, leaseMs: deps.leaseMs });
    const hold: HoldState = { firing: false, cancelled: false, cancel: () => beat.cancelled() };
    holds.set(id, hold);
    let ran = false;
    return {
      id,
      request,
      venue,
      releaseAt,
      source,
      async run(args) {
        if (ran) throw new Error(`reservation ${id}: a booking session runs once`);
        ran = true;
        const log = logger.child({ reservation_id: id, venue: request.venue, target_date: request.targetDate, target_time: request.targetTime });
        try {
          const gate = { refused: false };
          const port = createPort(deps, { id, request, venue, releaseAt, args, lost: beat.lost, gate, hold });
          const execution = await deps.executor.execute(port);
          beat.ending();
          // Closed by noticeCancel before anything was submitted: nothing to settle.
          if (hold.cancelled && execution.kind === 'interrupted') return { result: execution.result, recorded: false };
          // The site's own "irregular usage" (not our cool-off refusing the fire): the venue cools off.
          // After a submit the flag leaves the outcome unknown (reconciliation looks), and the venue cools off all the same.
          const flagged = execution.result.outcome === 'site_blocked' && !gate.refused ? execution.result : null;
          const flaggedAfterSubmit = execution.kind === 'unknown' && execution.siteFlagged !== undefined ? execution.result : null;
          if (flagged ?? flaggedAfterSubmit) await noteSiteBlock(deps, request.venue, (flagged ?? flaggedAfterSubmit)!, log, args.signal);
          return await settleExecution({ deps, id, source, request, signal: args.signal, logger: log }, execution);
        } finally {
          beat.ending();
          await beat.stop();
          running.delete(id);
          holds.delete(id);
        }
      },
    };
  }

  return {
    async holdDue(args) {
      const admitted = await claimAndAdmit(deps, running, args);
      return admitted.map(({ row, request, venue }) => open(row.id, row.source, request, venue, row.release_at));
    },

    async holdImmediate(hold) {
      const { request } = hold;
      const venue = deps.venues[request.venue];
      if (!venue) throw new ContractError('venue', `"${request.venue}" is not a configured venue`);
      // A row the schema refuses is bad input: its error names the column (`DatabaseConstraintError`).
      const id = await createImmediateReservation(db, {
        user: request.user,
        venue: request.venue,
        targetDate: request.targetDate,
        targetTime: request.targetTime,
        courts: request.courtPreference.asList(),
        releaseAt: hold.releaseAt,
        slotAt: hold.slotAt,
        owner,
        now: now(),
        leaseMs: deps.leaseMs,
        slotLengthsS: Object.fromEntries(Object.entries(deps.venues).map(([venueId, v]) => [venueId, v.slotLengthS])),
      }).catch((err: unknown) => {
        throw describeConstraintViolation(err) ?? err;
      });
      return open(id, 'immediate', withReservationId(request, id), venue, hold.releaseAt);
    },

    reconcileAbandoned: () => reconcileAbandonedBookings(deps, { isRunning: (id) => running.has(id) }),

    async recoverCrashed(id, err) {
      const cause = `its booking job crashed: ${err instanceof Error ? err.message : String(err)}`;
      const reconciled = await reconcileOwnBooking(deps, { id, cause });
      // Not in `booking` under our lease: still `claimed` (nothing fired) goes back; anything else is not ours.
      if (reconciled.decision === 'not_held' && (await releaseClaim(db, { id, owner, now: now() }))) {
        deps.logger.warn({ reservation_id: id, status: 'scheduled' }, `reservation ${id}: back in the queue after its booking job crashed before any fire`);
      }
    },

    async noticeCancel(id) {
      const hold = holds.get(id);
      if (hold?.firing || hold?.cancelled || (!hold && noticedCancels.has(id))) return false;
      const closed = await closeCancelled(db, { id, owner, held: hold !== undefined, venues: Object.keys(deps.venues), now: now() });
      // Closed while held: its fire had not begun (`firing` is set before `claimed → booking` is sent, and this
      // cancel committed before its NOTIFY), so a fire starting meanwhile finds the row cancelled.
      if (!closed) return false;
      if (hold) {
        hold.cancelled = true;
        deps.logger.info({ reservation_id: id, status: 'cancelled' }, `reservation ${id} cancelled by the user; releasing its prepared page, nothing is submitted`);
        hold.cancel();
      } else {
        noticedCancels.add(id);
        deps.logger.info({ reservation_id: id, status: 'cancelled' }, `reservation ${id} cancelled by the user before it was claimed`);
      }
      return true;
    },
  };
}

/**
 * Claims the rows due within `horizonMs` (at most `limit`) and admits each ({@link admitClaimed}), both retried
 * through a dropped connection for `CLAIM_RETRY_MS`. Safe to repeat: a repeated claim takes only rows still
 * free, and admission's writes are guarded (by our lease, or by an attempt still open and unsubmitted). A
 * claim whose reply was lost did claim its rows for us; no session holds them, so nobody heartbeats them and
 * any daemon (this one too) claims them again once that lease runs out: late, never twice. A row left
 * unadmitted likewise waits for its lease to run out.
 */
async function claimAndAdmit(
  deps: SessionDeps,
  running: ReadonlySet<number>,
  args: { horizonMs: number; limit: number },
): Promise<Array<{ row: ClaimedReservation; request: BookingRequest; venue: VenueConfig }>> {
  const { db, clock, logger } = deps;
  const claim = (): Promise<ClaimedReservation[]> => claimDue(db, { owner: deps.daemonId, now: new Date(clock.now()), ...args, leaseMs: deps.leaseMs, venues: Object.keys(deps.venues) });
  const claimed = await retryTransient(claim, { what: 'claiming due reservations', logger, budgetMs: CLAIM_RETRY_MS });
  const admitted: Array<{ row: ClaimedReservation; request: BookingRequest; venue: VenueConfig }> = [];
  for (const row of claimed) {
    const held = await retryTransient(() => admitClaimed(deps, row, running), { what: `reservation ${row.id}: admitting the claim`, logger, budgetMs: CLAIM_RETRY_MS });
    if (held) admitted.push({ row, ...held });
  }
  return admitted;
}

/**
 * Whether a row just claimed becomes a session, and with which request: built once here. A row this owner
 * already runs does not; nor does a row that cannot be booked as it stands — the contract builder's checks
 * (a venue this daemon does not serve included), then the venue's courts and slot grid, a slot not started,
 * `slot_at`/`release_at` as validation computes them, and one booking per person (`admission.ts`): it is
 * `rejected` with the reason naming the column, and logged.
 */
async function admitClaimed(deps: SessionDeps, row: ClaimedReservation, running: ReadonlySet<number>): Promise<{ request: BookingRequest; venue: VenueConfig } | null> {
  const { db, clock, logger, daemonId: owner } = deps;
  const now = (): Date => new Date(clock.now());
  const log = logger.child({ reservation_id: row.id, venue: row.venue, target_date: row.target_date, target_time: row.target_time });
  // Our own row can come back from claimDue when a heartbeat missed the lease (a database outage): the claim
  // just renewed our lease; the session already running keeps it. Never a second session.
  if (running.has(row.id)) {
    log.warn(`reservation ${row.id}: re-claimed while its booking session runs (a heartbeat was late); keeping the running session`);
    return null;
  }
  const reject = async (field: string, reason: string): Promise<null> => {
    const rejected = await rejectHeld(db, { id: row.id, owner, reason, now: now() });
    const logged = loggableReason(field, reason);
    if (rejected) log.warn({ field }, `reservation ${row.id} rejected: ${logged}`);
    else log.warn({ field }, `reservation ${row.id} cannot be booked (${logged}) but was not rejected: it changed meanwhile (no longer held by this daemon)`);
    return null;
  };
  let request: BookingRequest;
  try {
    // Rows are validated when pending, but one may have been inserted directly as `scheduled`.
    request = buildRequestFromReservation(row, row, (v) => Object.hasOwn(deps.venues, v));
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    return reject(err.field, err.message);
  }
  // claimDue returns only this daemon's venues, and the builder checked the venue again.
  const venue = deps.venues[request.venue]!;
  const problem = await admissionProblem(db, { row, request, venue, venues: deps.venues, now: now() });
  if (problem) return reject(problem.field, problem.reason);
  // A claim taken over from a daemon that died before firing: close its attempts (never submitted: the row was
  // still `claimed`), so none stays open forever.
  const closed = await closeUnsubmittedAttempts(db, { reservationId: row.id, now: now() });
  if (closed > 0) log.warn({ attempts: closed }, `reservation ${row.id}: closed ${closed} attempt(s) a stopped daemon left unsubmitted`);
  return { request, venue };
}

/**
 * The executor's view of one held row: guarded writes under this owner's lease, nothing else. Each is retried
 * through a dropped connection (`retry-budgets.ts`), and each is safe to repeat: begin fire and the intent are
 * guarded UPDATEs that a repeat applies again with the same effect (the intent keeps its first
 * `submitted_at`); storing the site's answer writes the same hash again; finishing an attempt is guarded by `finished_at IS NULL` (a repeat after a lost reply
 * changes nothing); an attempt's start is an INSERT, so a retry first looks for the attempt a lost reply may
 * have created (`findStartedAttempt`).
 */
function createPort(
  deps: SessionDeps,
  held: { id: number; request: BookingRequest; venue: VenueConfig; releaseAt: Date; args: RunArgs; lost: AbortSignal; gate: { refused: boolean }; hold: { firing: boolean } },
): BookingSessionPort {
  const { db, clock, daemonId: owner } = deps;
  const { id, args } = held;
  // Every line the port writes (its retries too) is about this reservation.
  const logger = deps.logger.child({ reservation_id: id });
  const now = (): Date => new Date(clock.now());
  // A lost hold ends the booking like a stop: whatever has not been submitted is not.
  const signal = AbortSignal.any([args.signal, held.lost]);
  const onFirePath = <T>(what: string, work: () => Promise<T>): Promise<T> =>
    retryTransient(work, { what: `reservation ${id}: ${what}`, logger, budgetMs: FIRE_RETRY_MS, signal });
  return {
    reservationId: id,
    request: held.request,
    venue: held.venue,
    fireAt: args.fireAt,
    releaseAt: held.releaseAt,
    siteClockOffsetMs: args.siteClockOffsetMs,
    signal,
    stopWaiting: args.stopWaiting ?? new AbortController().signal,
    async beginFire() {
      held.hold.firing = true;
      const begun = await onFirePath('beginning the fire', () => startBooking(db, { id, owner, now: now(), leaseMs: deps.leaseMs }));
      if (begun) logger.info({ status: 'booking' }, `reservation ${id}: booking (claimed → booking, the fire begins)`);
      return begun;
    },
    async siteBlock() {
      const blocked = await onFirePath('checking the venue\'s site block', () => activeSiteBlock(deps, held.request.venue));
      held.gate.refused ||= blocked !== null;
      return blocked;
    },
    stillHeld: () => onFirePath('checking the hold', () => isHeld(db, { id, owner })),
    async startAttempt({ court, browserId, flow }) {
      const start = { reservationId: id, court, daemonId: owner, browserId, flow, now: now() };
      let tries = 0;
      const started = await onFirePath('starting an attempt', async () => (tries++ > 0 ? await findStartedAttempt(db, start) : null) ?? startAttempt(db, start));
      const attemptWhat = `attempt ${started.attempt}`;
      return {
        attempt: started.attempt,
        recordIntent: () => onFirePath(`${attemptWhat}: recording the intent`, () => recordIntent(db, { attemptId: started.id, reservationId: id, owner, now: now() })),
        async recordAnswer(hash) {
          // Not cut short by a lost lease either: the site's hash helps whoever reconciles the row.
          await retryTransient(() => recordSiteAnswer(db, { attemptId: started.id, hash }), {
            what: `reservation ${id}: ${attemptWhat}: storing the site's answer`,
            logger,
            budgetMs: FIRE_RETRY_MS,
            signal: args.signal,
          });
        },
        async finish(a) {
          const finishedAt = now();
          // Not cut short by a lost lease: the row's next holder reconciles from this outcome.
          await retryTransient(
            // A site's refusal may quote the form back: the attempt's error keeps no e-mail or phone (booking_users has them).
            () => finishAttempt(db, { attemptId: started.id, outcome: a.outcome, confirmationCode: a.confirmationCode, error: a.error === null ? null : withoutContact(a.error, held.request.user), metadata: a.metadata, now: finishedAt }),
            { what: `reservation ${id}: ${attemptWhat}: recording its outcome`, logger, budgetMs: OUTCOME_RETRY_MS, signal: args.signal },
          );
        },
      };
    },
  };
}

export type { SessionEnd };
