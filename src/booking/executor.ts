import type { Clock } from '../clock.js';
import { BookingResult, createBookingMetadata, type BookingMetadata, type BookingOutcome, type FailureOutcome } from '../contracts/index.js';
import type { Logger } from '../telemetry/logger.js';
import { nextStep, type NextStep } from './court-fallback.js';
import type { BrowserPool, FlowResult, SlotFlow } from './flow.js';
import { mapFlowError } from './flows/map-flow-error.js';
import { createPreparedPages, type PreparedPages } from './prepared-pages.js';
import type { AttemptPort, BookingExecutor, BookingSessionPort, Execution } from './session-port.js';

export { COURTS_PREPARED_AHEAD } from './prepared-pages.js';

/**
 * The executor runs a flow for one held reservation: it owns the attempts, the "not open yet" retries and
 * the court fallback (docs/architecture.md "Booking"). It talks to the reservation only through the
 * {@link BookingSessionPort} (`src/booking-session/` implements it) and never builds SQL.
 */

/** Settings of {@link createExecutor}. */
export interface ExecutorOptions {
  clock: Clock;
  logger: Logger;
  pool: BrowserPool;
  flow: SlotFlow;
  /** Identifies this daemon in metadata `executor`. */
  executorId: string;
  /** Budget for one submit from fire to result, ms. */
  attemptTimeoutMs: number;
  /** How long "not open yet" is retried after the fire instant, ms. */
  notOpenRetryBudgetMs: number;
  /** Pause between "not open yet" retries, ms. */
  notOpenRetryIntervalMs: number;
}

/** With a wait longer than this after `prepare`, the flow's `warm` runs {@link WARM_BEFORE_FIRE_MS} before the fire. */
const WARM_AFTER_IDLE_MS = 15_000;

/** How long before the fire instant a long-idle prepared page is warmed, ms. */
const WARM_BEFORE_FIRE_MS = 3_000;

/** What one execution has done so far (for metadata and the result's errors). */
interface RunState {
  errors: string[];
  courtsTried: number[];
  /** The browser of the court being tried, for metadata `browser_id`. */
  browserId: string;
  /** The attempt number in `booking_attempts` (continues across runs). */
  attempt: number;
  anySubmitted: boolean;
  firedAtMs: number | null;
  lastFailOutcome: FailureOutcome;
  /** The session's `beginFire` succeeded (once per booking, before its first submit). */
  fireBegun: boolean;
}

/** One court tried: what comes next, and what the attempt recorded. */
interface CourtTried {
  step: NextStep;
  court: number;
  outcome: BookingOutcome;
  confirmationCode: string | null;
  metadata: BookingMetadata;
}

/** A {@link FlowResult} for an unexpected exception (the mapping itself is `mapFlowError`'s). */
function flowResultFromError(err: unknown, submitted: boolean): FlowResult {
  return { ...mapFlowError(err), confirmationCode: null, submitted, timingsMs: {} };
}

/**
 * Creates the executor. `execute` resolves to an {@link Execution} (booked / failed / interrupted / unknown)
 * and never throws for expected outcomes.
 */
export function createExecutor(options: ExecutorOptions): BookingExecutor {
  return { execute: (session) => executeBooking(options, session) };
}

/** The court loop: each preferred court in order, as {@link nextStep} says. */
async function executeBooking(o: ExecutorOptions, session: BookingSessionPort): Promise<Execution> {
  const { request } = session;
  const courts = request.courtPreference.asList();
  const run: RunState = { errors: [], courtsTried: [], browserId: 'none', attempt: 0, anySubmitted: false, firedAtMs: null, lastFailOutcome: 'slot_taken', fireBegun: false };
  const log = o.logger.child({ reservation_id: session.reservationId, venue: request.venue, target_date: request.targetDate, target_time: request.targetTime, flow: o.flow.name });
  const failure = (outcome: FailureOutcome, metadata: BookingMetadata, message?: string) =>
    BookingResult.failure({ request, outcome, errors: run.errors, metadata, ...(message ? { message } : {}) });
  const pages = createPreparedPages({ pool: o.pool, flow: o.flow, logger: log }, session);
  try {
    for (const [index, court] of courts.entries()) {
      if (session.signal.aborted || (index > 0 && !(await session.stillHeld()))) {
        run.errors.push(`court ${court}: not tried (booking stopped)`);
        return { kind: 'interrupted', result: failure('interrupted', metadataFor(o, session, run, court)) };
      }
      const tried = await tryCourt(o, session, pages, index, run, log);
      if (tried.step === 'booked') {
        const result = BookingResult.success({ request, court, confirmationCode: tried.confirmationCode!, metadata: tried.metadata, message: `booked court ${court}` });
        return { kind: 'settled', result };
      }
      const outcome = tried.outcome as FailureOutcome;
      run.lastFailOutcome = outcome;
      if (tried.step === 'stop_unknown') return { kind: 'unknown', result: failure('unknown', tried.metadata) };
      if (tried.step === 'stop_interrupted') return { kind: 'interrupted', result: failure(outcome, tried.metadata) };
      if (tried.step === 'stop_failed') return { kind: 'settled', result: failure(outcome, tried.metadata) };
      // The next court has its own page (prepared ahead); this one may sit on an error page.
      void pages.release(index);
    }
    const lastCourt = courts[courts.length - 1] ?? 0;
    return { kind: 'settled', result: failure(run.lastFailOutcome, metadataFor(o, session, run, lastCourt), 'no preferred court could be booked') };
  } finally {
    await pages.releaseAll();
  }
}

/** One attempt on the court at `index`: open it, fire, close it with its outcome, and say what comes next. */
async function tryCourt(o: ExecutorOptions, session: BookingSessionPort, pages: PreparedPages, index: number, run: RunState, log: Logger): Promise<CourtTried> {
  const court = session.request.courtPreference.asList()[index]!;
  run.courtsTried.push(court);
  run.browserId = await pages
    .live(index)
    .then((c) => c.lease.browserId)
    .catch(() => run.browserId);
  const attempt = await session.startAttempt({ court, browserId: run.browserId, flow: o.flow.name });
  run.attempt = attempt.attempt;
  const attemptLog = log.child({ court, attempt: attempt.attempt, browser_id: run.browserId });
  const fired = await fireCourt(o, session, pages, index, attempt, run, attemptLog);
  const { result } = fired;
  run.firedAtMs ??= fired.firedAtMs;
  run.anySubmitted ||= result.submitted;
  // Cut off before anything was sent: interrupted. Once submitted, the site's answer (or its loss) stands.
  const cutOff = fired.stoppedBeforeFire || (session.signal.aborted && !result.submitted);
  let outcome: BookingOutcome = cutOff && result.outcome !== 'booked' ? 'interrupted' : result.outcome;
  // "booked" without a confirmation code means the confirmation page was not what we expect.
  if (outcome === 'booked' && !result.confirmationCode) outcome = 'site_changed';
  const step = nextStep(outcome, result.submitted);
  const recorded: BookingOutcome = step === 'stop_unknown' ? 'unknown' : outcome;
  const described = step === 'stop_unknown' && outcome !== 'unknown' ? `${describeOutcome('unknown', null)} (${describeOutcome(outcome, result.message)})` : describeOutcome(recorded, result.message);
  const metadata = metadataFor(o, session, run, court, {
    timings_ms: result.timingsMs,
    ...(fired.firedAtMs === null ? {} : { fired_at: new Date(fired.firedAtMs).toISOString() }),
  });
  const confirmationCode = recorded === 'booked' ? result.confirmationCode : null;
  await attempt.finish({ outcome: recorded, confirmationCode, error: recorded === 'booked' ? null : (result.message ?? recorded), metadata });
  attemptLog.info({ outcome: recorded, submitted: result.submitted }, `attempt finished: ${recorded}`);
  if (step !== 'booked') run.errors.push(`court ${court}: ${described}`);
  return { step, court, outcome: recorded, confirmationCode, metadata };
}

/**
 * Fires the court at `index`: the first court waits for the fire instant (abortable) and begins the fire on
 * the session (`claimed → booking`); then its live page submits. A stop or a lost hold before the fire
 * submits nothing.
 */
async function fireCourt(
  o: ExecutorOptions,
  session: BookingSessionPort,
  pages: PreparedPages,
  index: number,
  attempt: AttemptPort,
  run: RunState,
  log: Logger,
): Promise<{ result: FlowResult; stoppedBeforeFire: boolean; firedAtMs: number | null }> {
  const notFired = (message: string) => ({
    result: { outcome: 'interrupted' as const, confirmationCode: null, message, submitted: false, timingsMs: {} },
    stoppedBeforeFire: true,
    firedAtMs: null,
  });
  try {
    if (index === 0 && !(await waitForFire(o, session, pages, log))) return notFired('stopped before the release instant');
    if (session.signal.aborted) return notFired('stopped before the release instant');
    // Once per booking, before its first submit (whichever court that is): claimed → booking.
    if (!run.fireBegun) {
      if (!(await session.beginFire())) {
        log.info('the reservation is no longer held by this daemon (cancelled or taken over); not submitting');
        return notFired('reservation changed before firing (cancelled or taken over); nothing submitted');
      }
      run.fireBegun = true;
    }
    const { handle } = await pages.live(index);
    const firedAtMs = o.clock.now();
    log.info({ fire_delay_ms: firedAtMs - session.fireAt.getTime() }, 'firing');
    return { result: await submitUntilOpen(o, handle, session, attempt, log), stoppedBeforeFire: false, firedAtMs };
  } catch (err) {
    return { result: flowResultFromError(err, false), stoppedBeforeFire: false, firedAtMs: null };
  }
}

/**
 * Waits for the fire instant (abortable); a long wait is cut once, {@link WARM_BEFORE_FIRE_MS} before the
 * fire, to revive and warm every page prepared so far. Returns false when stopped.
 */
async function waitForFire(o: ExecutorOptions, session: BookingSessionPort, pages: PreparedPages, log: Logger): Promise<boolean> {
  const signal = AbortSignal.any([session.signal, session.stopWaiting]);
  const waitMs = session.fireAt.getTime() - o.clock.now();
  if (waitMs <= 0) return !signal.aborted;
  log.info({ wait_ms: waitMs, courts_prepared: pages.prepared() }, 'page ready; waiting for the release instant');
  if (waitMs > WARM_AFTER_IDLE_MS) {
    await o.clock.sleep(waitMs - WARM_BEFORE_FIRE_MS, signal);
    if (signal.aborted) return false;
    await pages.warmAll();
  }
  const leftMs = session.fireAt.getTime() - o.clock.now();
  if (leftMs > 0) await o.clock.sleep(leftMs, signal);
  return !signal.aborted;
}

/**
 * Submits, retrying "not open yet" every `notOpenRetryIntervalMs` until `notOpenRetryBudgetMs` after the fire
 * instant. Before each submit the attempt's intent is recorded through the session; when the session refuses
 * it (the row is no longer held), the flow sends nothing. A hash the site answers with is stored on the
 * attempt at once (`recordAnswer`).
 */
async function submitUntilOpen(o: ExecutorOptions, handle: unknown, session: BookingSessionPort, attempt: AttemptPort, log: Logger): Promise<FlowResult> {
  const deadlineMs = session.fireAt.getTime() + o.notOpenRetryBudgetMs;
  let submitted = false;
  const onBeforeSubmit = async (): Promise<boolean> => {
    if (session.signal.aborted) return false;
    const held = await attempt.recordIntent();
    if (!held) log.warn('the reservation is no longer held by this daemon (cancelled or taken over): not submitting');
    submitted ||= held;
    return held;
  };
  // The site's hash is stored the moment it answers, before the outcome: a crash then leaves it to look up.
  const onAnswer = (hash: string): Promise<void> => attempt.recordAnswer(hash);
  for (let tries = 1; ; tries++) {
    let result: FlowResult;
    try {
      result = await o.flow.submit(handle, { user: session.request.user, timeoutMs: o.attemptTimeoutMs, onBeforeSubmit, onAnswer });
    } catch (err) {
      result = flowResultFromError(err, submitted);
    }
    if (result.outcome !== 'not_open_yet' || o.clock.now() >= deadlineMs || session.signal.aborted) return result;
    // One info line, then debug: retries come every notOpenRetryIntervalMs.
    log[tries === 1 ? 'info' : 'debug']({ tries, budget_ms: o.notOpenRetryBudgetMs }, 'slot not open yet; retrying');
    await o.clock.sleep(o.notOpenRetryIntervalMs, session.signal);
  }
}

/** The metadata of a result or attempt (docs/metadata.md), from what the run has done so far. */
function metadataFor(o: ExecutorOptions, session: BookingSessionPort, run: RunState, court: number, extra: Record<string, unknown> = {}): BookingMetadata {
  return createBookingMetadata(session.request, {
    executor: o.executorId,
    flow: o.flow.name,
    browserId: run.browserId,
    attempt: run.attempt,
    extra: {
      venue: session.request.venue,
      court,
      courts_tried: [...run.courtsTried],
      submitted: run.anySubmitted,
      release_at: session.releaseAt.toISOString(),
      ...(session.siteClockOffsetMs == null ? {} : { site_clock_offset_ms: session.siteClockOffsetMs }),
      ...(run.firedAtMs === null ? {} : { fired_at: new Date(run.firedAtMs).toISOString() }),
      ...extra,
    } as never,
  });
}

/** A short sentence per outcome, with the flow's message when it adds something. */
function describeOutcome(outcome: BookingOutcome, message: string | null): string {
  const text: Record<BookingOutcome, string> = {
    booked: 'booked',
    slot_taken: 'slot already taken',
    not_open_yet: 'slot still not open after the retry budget',
    site_blocked: 'the site showed a block page',
    site_changed: 'the page did not look as expected (site changed?)',
    timeout: 'timed out',
    interrupted: 'interrupted before the submit',
    invalid_request: 'invalid request',
    error: 'unexpected error',
    unknown: "submitted, but the site's answer is unknown",
  };
  if (!message || outcome === 'slot_taken') return text[outcome];
  // Flows often say it already ("the site showed a block page ..."): do not repeat it.
  return message.includes(text[outcome]) ? message : `${text[outcome]}: ${message}`;
}
