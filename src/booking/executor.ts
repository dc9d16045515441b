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

/**
 * How many preferred courts get a page prepared before the release instant (the first plus fallbacks), so a
 * fallback court fires within milliseconds of the first one failing instead of loading its page first.
 * Courts further down the list are prepared when their turn comes.
 */
export const COURTS_PREPARED_AHEAD = 3;

/** With a wait longer than this after `prepare`, the flow's `warm` runs {@link WARM_BEFORE_FIRE_MS} before the fire. */
const WARM_AFTER_IDLE_MS = 15_000;

/** How long before the fire instant a long-idle prepared page is warmed, ms. */
const WARM_BEFORE_FIRE_MS = 3_000;

/** A court's page, prepared ahead or on its turn. */
interface PreparedCourt {
  court: number;
  lease: PageLease;
  handle: unknown;
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

  /** Acquires a page and prepares `court` on it; the lease is released when preparing throws. */
  async function prepareCourt(court: number, args: ExecuteArgs): Promise<PreparedCourt> {
    const lease = await pool.acquire();
    try {
      const { request } = args;
      const handle = await flow.prepare(lease, { venue: args.venue, court, targetDate: request.targetDate, targetTime: request.targetTime });
      return { court, lease, handle };
    } catch (err) {
      await lease.release().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The pages of one booking, by position in its court list: the first {@link COURTS_PREPARED_AHEAD} are
   * prepared at once, later ones on their turn. A page whose browser died (crash, killed) is prepared again
   * on a new browser before it is used (issue 4: "Chromium killed before the release → a new browser").
   */
  function createPages(courts: readonly number[], args: ExecuteArgs, log: Logger) {
    const slots: Array<Promise<PreparedCourt>> = [];
    const released = new Set<number>();
    const start = (index: number): Promise<PreparedCourt> => {
      const preparing = prepareCourt(courts[index]!, args);
      // A failure is reported when its court's turn comes; until then it must not be unhandled.
      preparing.catch(() => undefined);
      slots[index] = preparing;
      released.delete(index);
      return preparing;
    };
    for (let index = 0; index < Math.min(courts.length, COURTS_PREPARED_AHEAD); index++) start(index);
    const release = (index: number): Promise<void> => {
      const slot = slots[index];
      if (!slot || released.has(index)) return Promise.resolve();
      released.add(index);
      return slot.then(
        (c) => c.lease.release().catch((err: unknown) => log.warn({ err }, 'closing page failed')),
        () => undefined, // its failure was reported with its court (or the court was never tried)
      );
    };
    /** The page of `index`, prepared again when its browser is gone. @throws what preparing it threw. */
    const live = async (index: number): Promise<PreparedCourt> => {
      const current = await (slots[index] ?? start(index));
      if (!current.lease.isClosed()) return current;
      log.warn({ court: courts[index] }, 'the prepared page is gone (browser crashed?); preparing it again');
      await release(index);
      return start(index);
    };
    return {
      live,
      prepared: (): number => slots.length,
      /** Revives and warms every page prepared so far (never throws). */
      async warmAll(): Promise<void> {
        await Promise.all(
          slots.map(async (_, index) => {
            const c = await live(index).catch(() => null);
            if (c && flow.warm) await flow.warm(c.handle).catch(() => undefined);
          }),
        );
      },
      release,
      releaseAll: async (): Promise<void> => {
        await Promise.all(slots.map((_, index) => release(index)));
      },
    };
  }

  /**
   * Waits for the fire instant (abortable); a long wait is cut once, {@link WARM_BEFORE_FIRE_MS} before the
   * fire, to revive and warm every page prepared so far. Returns false when stopped.
   */
  async function waitForFire(args: ExecuteArgs, pages: ReturnType<typeof createPages>, log: Logger): Promise<boolean> {
    const signal = args.stopWaiting ? AbortSignal.any([args.signal, args.stopWaiting]) : args.signal;
    const waitMs = args.fireAt.getTime() - clock.now();
    if (waitMs <= 0) return !signal.aborted;
    log.info({ wait_ms: waitMs, courts_prepared: pages.prepared() }, 'page ready; waiting for the release instant');
    if (waitMs > WARM_AFTER_IDLE_MS) {
      await clock.sleep(waitMs - WARM_BEFORE_FIRE_MS, signal);
      if (signal.aborted) return false;
      await pages.warmAll();
    }
    const leftMs = args.fireAt.getTime() - clock.now();
    if (leftMs > 0) await clock.sleep(leftMs, signal);
    return !signal.aborted;
  }

  /**
   * One court (position `index`): the first court waits for the fire instant (abortable) and runs
   * `beforeFire` (claimed → booking); then its live page fires. A stop or a cancel before the fire submits
   * nothing.
   */
  async function fireCourt(
    pages: ReturnType<typeof createPages>,
    index: number,
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
      if (tryIndex === 1 && !(await waitForFire(args, pages, log))) return notFired('stopped before the release instant');
      if (args.signal.aborted) return notFired('stopped before the release instant');
      const { handle } = await pages.live(index);
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
    /** The browser of the court being tried, for metadata `browser_id`. */
    let browserId = 'none';
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
        browserId,
        attempt,
        extra: { venue: request.venue, court, courts_tried: [...courtsTried], submitted: anySubmitted, release_at: args.releaseAt.toISOString(), ...(args.siteClockOffsetMs == null ? {} : { site_clock_offset_ms: args.siteClockOffsetMs }), ...(firedAtMs === null ? {} : { fired_at: new Date(firedAtMs).toISOString() }), ...extra } as never,
      });
    const pages = createPages(courts, args, baseLog);
    try {
      for (const [index, court] of courts.entries()) {
        if (args.signal.aborted || (tryIndex > 0 && args.shouldContinue && !(await args.shouldContinue()))) {
          errors.push(`court ${court}: not tried (booking stopped)`);
          return BookingResult.failure({ request, outcome: 'interrupted', errors, metadata: metadataFor(court) });
        }
        tryIndex += 1;
        courtsTried.push(court);
        browserId = await pages.live(index).then((c) => c.lease.browserId).catch(() => browserId);
        const started = await recorder.startAttempt({ reservationId: args.reservationId, court, browserId, flow: flow.name });
        const attemptId = started.id;
        attempt = started.attempt;
        const log = baseLog.child({ court, attempt, browser_id: browserId });
        const fired = await fireCourt(pages, index, tryIndex, attemptId, args, log);
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
        // The next court has its own page (prepared ahead); this one may sit on an error page.
        void pages.release(index);
      }
      const lastCourt = courts[courts.length - 1] ?? 0;
      return BookingResult.failure({ request, outcome: lastFailOutcome, errors, message: 'no preferred court could be booked', metadata: metadataFor(lastCourt) });
    } finally {
      await pages.releaseAll();
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
