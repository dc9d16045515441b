import type { Clock } from '../clock.js';
import type { VenueConfig } from '../config/schema.js';
import {
  BookingResult,
  createBookingMetadata,
  type BookingOutcome,
  type BookingRequest,
} from '../contracts/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { BrowserPool, FlowResult, PageLease, SlotFlow } from './flow.js';
import { mapFlowError } from './flows/map-flow-error.js';

/**
 * The executor runs a flow for one BookingRequest: it owns attempts, "not open yet" retries and court
 * fallback (DESIGN.md "executor"). It never builds SQL: attempts are written through the
 * {@link AttemptRecorder} the composition root hands it.
 */

/** Append-only attempt log (`booking_attempts`), implemented by the reservations repository. */
export interface AttemptRecorder {
  /**
   * Writes the attempt row before anything is sent; returns its id and its number, which continues
   * after any earlier attempts of the reservation (a requeued or taken-over booking).
   */
  startAttempt(args: { reservationId: number; court: number; browserId: string; flow: string }): Promise<{ id: number; attempt: number }>;
  /** The intent: written BEFORE the submit is pressed (DESIGN.md). */
  markSubmitted(attemptId: number): Promise<void>;
  finishAttempt(args: {
    attemptId: number;
    outcome: BookingOutcome;
    confirmationCode: string | null;
    error: string | null;
    metadata: Record<string, unknown>;
  }): Promise<void>;
}

/** Settings of {@link createExecutor}. */
export interface ExecutorOptions {
  clock: Clock;
  logger: Logger;
  pool: BrowserPool;
  flow: SlotFlow;
  recorder: AttemptRecorder;
  /** Identifies this daemon in metadata `executor`. */
  executorId: string;
  /** Budget for one submit from fire to result, ms. */
  attemptTimeoutMs: number;
  /** How long "not open yet" is retried after the fire instant, ms. */
  notOpenRetryBudgetMs: number;
  /** Pause between "not open yet" retries, ms. */
  notOpenRetryIntervalMs: number;
}

/** One booking job for the executor. */
export interface ExecuteArgs {
  request: BookingRequest;
  venue: VenueConfig;
  /** The reservation row the attempts belong to (queued and immediate bookings both have one). */
  reservationId: number;
  /** Fire instant; nothing is submitted before it. Immediate bookings pass "now". */
  fireAt: Date;
  /** The slot's release instant (metadata `release_at`). */
  releaseAt: Date;
  /** Site clock − local clock behind `fireAt`, ms (metadata `site_clock_offset_ms`); null when not measured. */
  siteClockOffsetMs?: number | null;
  /** Aborts waiting and further attempts; an attempt cut off is recorded `interrupted`. */
  signal: AbortSignal;
  /**
   * Aborts only the wait for the fire instant (a stopping daemon gives up bookings that have not fired
   * yet at once, and lets fired ones finish). Once fired, it is ignored.
   */
  stopWaiting?: AbortSignal;
  /**
   * Called once at the fire instant, before the first submit (the queue moves the row claimed → booking
   * here). Returning false stops without submitting (e.g. the row was cancelled while waiting).
   */
  beforeFire?: () => Promise<boolean>;
  /** Called before each further court: returning false stops before the next submit (row cancelled). */
  shouldContinue?: () => Promise<boolean>;
}

/** Outcomes (before any submit) after which the next court in the preference list is tried. */
const NEXT_COURT_OUTCOMES: ReadonlySet<BookingOutcome> = new Set(['slot_taken', 'not_open_yet', 'site_changed']);

/** After a submit, only these answers prove the site took no booking. */
const DEFINITIVE_NO_OUTCOMES: ReadonlySet<BookingOutcome> = new Set(['slot_taken', 'not_open_yet']);

/** A {@link FlowResult} for an unexpected exception (the mapping itself is `mapFlowError`'s, STYLE.md). */
function flowResultFromError(err: unknown, submitted: boolean): FlowResult {
  return { ...mapFlowError(err), confirmationCode: null, submitted, timingsMs: {} };
}

/** Creates the executor; `execute` resolves to a BookingResult and never throws for expected outcomes. */
export function createExecutor(options: ExecutorOptions): { execute(args: ExecuteArgs): Promise<BookingResult> } {
  const { clock, logger, pool, flow, recorder } = options;

  async function submitUntilOpen(
    handle: unknown,
    args: ExecuteArgs,
    attemptId: number,
    log: Logger,
  ): Promise<FlowResult> {
    const deadlineMs = args.fireAt.getTime() + options.notOpenRetryBudgetMs;
    let submitted = false;
    for (let tries = 1; ; tries++) {
      let result: FlowResult;
      try {
        result = await flow.submit(handle, {
          user: args.request.user,
          timeoutMs: options.attemptTimeoutMs,
          onBeforeSubmit: async () => {
            if (args.signal.aborted) throw new Error('stopping: submit cancelled before it was sent');
            await recorder.markSubmitted(attemptId);
            submitted = true;
          },
        });
      } catch (err) {
        result = flowResultFromError(err, submitted);
      }
      if (result.outcome !== 'not_open_yet' || clock.now() >= deadlineMs || args.signal.aborted) return result;
      // One info line, then debug: retries come every notOpenRetryIntervalMs.
      log[tries === 1 ? 'info' : 'debug']({ tries, budget_ms: options.notOpenRetryBudgetMs }, 'slot not open yet; retrying');
      await clock.sleep(options.notOpenRetryIntervalMs, args.signal);
    }
  }

  /**
   * One court: load its page, wait for the fire instant (abortable), fire. The first attempt also runs
   * `beforeFire` (claimed → booking); a stop or a cancel before the fire submits nothing.
   */
  async function prepareAndFire(
    lease: PageLease,
    court: number,
    tryIndex: number,
    attemptId: number,
    args: ExecuteArgs,
    log: Logger,
  ): Promise<{ result: FlowResult; stoppedBeforeFire: boolean; firedAtMs: number | null }> {
    const notFired = (message: string) => ({
      result: { outcome: 'error' as const, confirmationCode: null, message, submitted: false, timingsMs: {} },
      stoppedBeforeFire: true,
      firedAtMs: null,
    });
    try {
      const { request } = args;
      const handle = await flow.prepare(lease.page, { venue: args.venue, court, targetDate: request.targetDate, targetTime: request.targetTime });
      const waitMs = args.fireAt.getTime() - clock.now();
      if (waitMs > 0) {
        log.info({ wait_ms: waitMs }, 'page ready; waiting for the release instant');
        await clock.sleep(waitMs, args.stopWaiting ? AbortSignal.any([args.signal, args.stopWaiting]) : args.signal);
      }
      if (args.signal.aborted || (tryIndex === 1 && args.stopWaiting?.aborted)) return notFired('stopped before the release instant');
      if (tryIndex === 1 && args.beforeFire && !(await args.beforeFire())) {
        return notFired('reservation changed before firing (cancelled?); nothing submitted');
      }
      const firedAtMs = clock.now();
      log.info({ fire_delay_ms: firedAtMs - args.fireAt.getTime() }, 'firing');
      return { result: await submitUntilOpen(handle, args, attemptId, log), stoppedBeforeFire: false, firedAtMs };
    } catch (err) {
      return { result: flowResultFromError(err, false), stoppedBeforeFire: false, firedAtMs: null };
    }
  }

  async function execute(args: ExecuteArgs): Promise<BookingResult> {
    const { request } = args;
    const courts = request.courtPreference.asList();
    const errors: string[] = [];
    const courtsTried: number[] = [];
    let lease: PageLease | null = null;
    /** Courts tried in this run (1 = the first, which fires at the release instant). */
    let tryIndex = 0;
    /** The attempt number in `booking_attempts` (continues across runs), for logs and metadata. */
    let attempt = 0;
    let stoppedBeforeFire = false;
    let anySubmitted = false;
    let firedAtMs: number | null = null;
    let lastFailOutcome: Exclude<BookingOutcome, 'booked'> = 'slot_taken';
    const baseLog = logger.child({
      reservation_id: args.reservationId,
      venue: request.venue,
      target_date: request.targetDate,
      target_time: request.targetTime,
      flow: flow.name,
    });
    const metadataFor = (court: number, extra: Record<string, unknown> = {}) =>
      createBookingMetadata(request, {
        executor: options.executorId,
        flow: flow.name,
        browserId: lease?.browserId ?? 'none',
        attempt,
        extra: { venue: request.venue, court, courts_tried: [...courtsTried], submitted: anySubmitted, release_at: args.releaseAt.toISOString(), ...(args.siteClockOffsetMs == null ? {} : { site_clock_offset_ms: args.siteClockOffsetMs }), ...(firedAtMs === null ? {} : { fired_at: new Date(firedAtMs).toISOString() }), ...extra } as never,
      });
    try {
      for (const court of courts) {
        if (args.signal.aborted || (tryIndex > 0 && args.shouldContinue && !(await args.shouldContinue()))) {
          errors.push(`court ${court}: not tried (booking stopped)`);
          return BookingResult.failure({ request, outcome: 'interrupted', errors, metadata: metadataFor(court) });
        }
        tryIndex += 1;
        courtsTried.push(court);
        lease ??= await pool.acquire();
        const started = await recorder.startAttempt({ reservationId: args.reservationId, court, browserId: lease.browserId, flow: flow.name });
        const attemptId = started.id;
        attempt = started.attempt;
        const log = baseLog.child({ court, attempt, browser_id: lease.browserId });
        const fired = await prepareAndFire(lease, court, tryIndex, attemptId, args, log);
        const result = fired.result;
        stoppedBeforeFire = fired.stoppedBeforeFire;
        firedAtMs ??= fired.firedAtMs;
        anySubmitted ||= result.submitted;
        const outcome: BookingOutcome =
          (args.signal.aborted || stoppedBeforeFire) && result.outcome !== 'booked' ? 'interrupted' : result.outcome;
        const metadata = metadataFor(court, {
          timings_ms: result.timingsMs,
          ...(fired.firedAtMs === null ? {} : { fired_at: new Date(fired.firedAtMs).toISOString() }),
        });
        await recorder.finishAttempt({
          attemptId,
          outcome,
          confirmationCode: result.confirmationCode,
          error: outcome === 'booked' ? null : (result.message ?? outcome),
          metadata,
        });
        log.info({ outcome, submitted: result.submitted }, `attempt finished: ${outcome}`);
        if (outcome === 'booked' && result.confirmationCode) {
          return BookingResult.success({ request, court, confirmationCode: result.confirmationCode, metadata, message: `booked court ${court}` });
        }
        // "booked" without a confirmation code means the confirmation page was not what we expect.
        const failOutcome = outcome === 'booked' ? 'site_changed' : outcome;
        lastFailOutcome = failOutcome;
        errors.push(`court ${court}: ${describeOutcome(failOutcome, result.message)}`);
        if (result.submitted && !DEFINITIVE_NO_OUTCOMES.has(failOutcome)) {
          // The form was submitted and the site's answer is unknown: it may hold a booking. Never follow with
          // a blind second submit (DESIGN.md); the job sends the reservation to `needs_attention`.
          return BookingResult.failure({ request, outcome: failOutcome, errors, metadata: { ...metadata, outcome_unknown: true } });
        }
        if (outcome === 'interrupted' || outcome === 'site_blocked') {
          // A block page stops the venue (no fallback to other courts); a stop ends the booking.
          return BookingResult.failure({ request, outcome: failOutcome, errors, metadata });
        }
        if (!NEXT_COURT_OUTCOMES.has(failOutcome) && failOutcome !== 'timeout' && failOutcome !== 'error') {
          return BookingResult.failure({ request, outcome: failOutcome, errors, metadata });
        }
        // A fresh page for the next court: the previous one may be on an error page.
        await lease.release().catch((err: unknown) => log.warn({ err }, 'closing page failed'));
        lease = null;
      }
      const lastCourt = courts[courts.length - 1] ?? 0;
      return BookingResult.failure({ request, outcome: lastFailOutcome, errors, message: 'no preferred court could be booked', metadata: metadataFor(lastCourt) });
    } finally {
      if (lease) await lease.release().catch((err: unknown) => baseLog.warn({ err }, 'closing page failed'));
    }
  }

  return { execute };
}

function describeOutcome(outcome: BookingOutcome, message: string | null): string {
  const text: Record<BookingOutcome, string> = {
    booked: 'booked',
    slot_taken: 'slot already taken',
    not_open_yet: 'slot still not open after the retry budget',
    site_blocked: 'the site showed a block page',
    site_changed: 'the page did not look as expected (site changed?)',
    timeout: 'timed out',
    interrupted: 'interrupted by a stop',
    invalid_request: 'invalid request',
    error: 'unexpected error',
  };
  if (!message || outcome === 'slot_taken') return text[outcome];
  // Flows often say it already ("the site showed a block page ..."): do not repeat it.
  return message.includes(text[outcome]) ? message : `${text[outcome]}: ${message}`;
}
