import type { Clock } from '../clock.js';
import { BookingResult, createBookingMetadata, type BookingMetadata, type BookingOutcome, type FailureOutcome } from '../contracts/index.js';
import type { Logger } from '../telemetry/logger.js';
import { nextStep, sameCourtRetryMs, type NextStep } from './court-fallback.js';
import type { BrowserPool, FlowResult, SlotFlow } from './flow.js';
import { mapFlowError } from './flows/map-flow-error.js';
import { createKeyedMutex, type KeyedMutex, type Release } from './keyed-mutex.js';
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
  /**
   * One holder per client account (venue + e-mail) for the span from the intent to the flow's answer, shared
   * by every booking this executor runs (default: one of its own).
   */
  accountLocks?: KeyedMutex;
  /** Told of fires and finished attempts (metrics, README "Observability"); never awaited, never throws into a booking. */
  observer?: ExecutorObserver;
}

/** What the executor reports as it goes (the observability metrics implement it). */
export interface ExecutorObserver {
  /** The first submit of a booking began `lagMs` after its planned fire instant (negative: early). */
  fired?(event: { reservationId: number; venue: string; firedAtMs: number; lagMs: number }): void;
  /** An attempt was recorded with `outcome`. */
  attemptFinished?(event: { reservationId: number; outcome: BookingOutcome }): void;
}

/** {@link ExecutorOptions} with the defaults filled in. */
interface ExecutorRuntime extends ExecutorOptions {
  accountLocks: KeyedMutex;
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
  /** Whether "not open yet" is retried on the same court (the second pass, or a single court). */
  retryNotOpen: boolean;
}

/** One court tried: what comes next, and what the attempt recorded. */
interface CourtTried {
  step: NextStep;
  court: number;
  outcome: BookingOutcome;
  confirmationCode: string | null;
  metadata: BookingMetadata;
  /** What the flow answered, before an answer that may hide a booking was recorded `unknown`. */
  flow: { outcome: BookingOutcome; message: string | null };
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
  const o = { ...options, accountLocks: options.accountLocks ?? createKeyedMutex() };
  return { execute: (session) => executeBooking(o, session) };
}

/**
 * The key of a client account on a site: venue and e-mail (trimmed, lower case). Never logged: it holds the
 * e-mail.
 */
export function accountKey(request: { venue: string; user: { email: string } }): string {
  return `${request.venue}\n${request.user.email.trim().toLowerCase()}`;
}

/**
 * The court loop: each preferred court in order, as {@link nextStep} says. A time absent at the fire is as
 * likely taken as not released yet (the page shows neither), so the first pass tries every court once
 * without "not open yet" retries: a court someone else took before us costs one calendar reload, not the
 * whole retry budget. Only when every court answered "not open yet" does a second pass retry them in order
 * (the first until the budget ends, as {@link sameCourtRetryMs} says).
 */
async function executeBooking(o: ExecutorRuntime, session: BookingSessionPort): Promise<Execution> {
  const { request } = session;
  const courts = request.courtPreference.asList();
  const run: RunState = {
    errors: [], courtsTried: [], browserId: 'none', attempt: 0, anySubmitted: false, firedAtMs: null, lastFailOutcome: 'slot_taken', fireBegun: false,
    retryNotOpen: courts.length === 1,
  };
  const log = o.logger.child({ reservation_id: session.reservationId, venue: request.venue, target_date: request.targetDate, target_time: request.targetTime, flow: o.flow.name });
  const failure = (outcome: FailureOutcome, metadata: BookingMetadata, message?: string) =>
    BookingResult.failure({ request, outcome, errors: run.errors, metadata, ...(message ? { message } : {}) });
  const pages = createPreparedPages({ pool: o.pool, flow: o.flow, logger: log }, session);
  const notOpen: number[] = [];
  /** One court of a pass: the execution when the booking ends there, else null (go on). */
  const courtStep = async (index: number, court: number): Promise<Execution | null> => {
    if (session.signal.aborted || (run.courtsTried.length > 0 && !(await session.stillHeld()))) {
      run.errors.push(`court ${court}: not tried (booking stopped)`);
      return { kind: 'interrupted', result: failure('interrupted', metadataFor(o, session, run, court)) };
    }
    const tried = await tryCourt(o, session, pages, index, run, log);
    if (tried.step === 'booked') {
      return { kind: 'settled', result: BookingResult.success({ request, court, confirmationCode: tried.confirmationCode!, metadata: tried.metadata, message: `booked court ${court}` }) };
    }
    const outcome = tried.outcome as FailureOutcome;
    run.lastFailOutcome = outcome;
    if (tried.step === 'stop_unknown') {
      const flagged = tried.flow.outcome === 'site_blocked' ? { siteFlagged: tried.flow.message ?? 'irregular usage' } : {};
      return { kind: 'unknown', result: failure('unknown', tried.metadata), ...flagged };
    }
    if (tried.step === 'stop_interrupted') return { kind: 'interrupted', result: failure(outcome, tried.metadata) };
    if (tried.step === 'stop_failed') return { kind: 'settled', result: failure(outcome, tried.metadata) };
    // A court "not open yet" keeps its page for the second pass; another may sit on an error page.
    if (outcome === 'not_open_yet' && !run.retryNotOpen) notOpen.push(index);
    else void pages.release(index);
    return null;
  };
  try {
    for (const [index, court] of courts.entries()) {
      const ended = await courtStep(index, court);
      if (ended) return ended;
    }
    if (notOpen.length === courts.length && courts.length > 1) {
      run.retryNotOpen = true;
      log.info({ courts }, 'no preferred court offered the time yet; trying them again in order');
      for (const index of notOpen) {
        const ended = await courtStep(index, courts[index]!);
        if (ended) return ended;
      }
    }
    const lastCourt = courts[courts.length - 1] ?? 0;
    return { kind: 'settled', result: failure(run.lastFailOutcome, metadataFor(o, session, run, lastCourt), 'no preferred court could be booked') };
  } finally {
    await pages.releaseAll();
  }
}

/** One attempt on the court at `index`: open it, fire, close it with its outcome, and say what comes next. */
async function tryCourt(o: ExecutorRuntime, session: BookingSessionPort, pages: PreparedPages, index: number, run: RunState, log: Logger): Promise<CourtTried> {
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
    ...(outcome === 'booked' && result.confirmationUrl ? { confirmation_url: result.confirmationUrl } : {}),
    ...(fired.firedAtMs === null ? {} : { fired_at: new Date(fired.firedAtMs).toISOString() }),
  });
  const confirmationCode = recorded === 'booked' ? result.confirmationCode : null;
  await attempt.finish({ outcome: recorded, confirmationCode, error: recorded === 'booked' ? null : (result.message ?? recorded), metadata });
  attemptLog.info({ outcome: recorded, submitted: result.submitted }, `attempt finished: ${recorded}`);
  o.observer?.attemptFinished?.({ reservationId: session.reservationId, outcome: recorded });
  if (step !== 'booked') {
    // One reason per court: a second pass's word on a court replaces its first.
    const earlier = run.errors.findIndex((e) => e.startsWith(`court ${court}: `));
    if (earlier >= 0) run.errors.splice(earlier, 1);
    run.errors.push(`court ${court}: ${described}`);
  }
  return { step, court, outcome: recorded, confirmationCode, metadata, flow: { outcome, message: result.message } };
}

/**
 * Fires the court at `index`: the first court waits for the fire instant (abortable) and begins the fire on
 * the session (`claimed → booking`); then its live page submits. A stop or a lost hold before the fire
 * submits nothing.
 */
async function fireCourt(
  o: ExecutorRuntime,
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
    // Once per booking, before its first submit (whichever court that is): claimed → booking, then the
    // venue's site block is checked.
    if (!run.fireBegun) {
      // Both at once: the block check costs the fire no round trip of its own.
      const [begun, blocked] = await Promise.all([session.beginFire(), session.siteBlock?.() ?? null]);
      if (!begun) {
        log.info('the reservation is no longer held by this daemon (cancelled or taken over); not submitting');
        return notFired('reservation changed before firing (cancelled or taken over); nothing submitted');
      }
      // The venue's site flagged this daemon's bookings: nothing is submitted until its cool-off ends.
      if (blocked !== null) {
        log.warn('the venue is in its site_blocked cool-off; not submitting');
        return { result: { outcome: 'site_blocked', confirmationCode: null, message: blocked, submitted: false, timingsMs: {} }, stoppedBeforeFire: false, firedAtMs: null };
      }
      run.fireBegun = true;
    }
    const { handle } = await pages.live(index);
    const firedAtMs = o.clock.now();
    const lagMs = firedAtMs - session.fireAt.getTime();
    log.info({ fire_delay_ms: lagMs }, 'firing');
    if (run.firedAtMs === null) o.observer?.fired?.({ reservationId: session.reservationId, venue: session.request.venue, firedAtMs, lagMs });
    return { result: await submitUntilOpen(o, handle, session, attempt, log, run.retryNotOpen), stoppedBeforeFire: false, firedAtMs };
  } catch (err) {
    return { result: flowResultFromError(err, false), stoppedBeforeFire: false, firedAtMs: null };
  }
}

/**
 * Waits for the fire instant (abortable); a long wait is cut once, {@link WARM_BEFORE_FIRE_MS} before the
 * fire, to revive and warm every page prepared so far. Returns false when stopped.
 */
async function waitForFire(o: ExecutorRuntime, session: BookingSessionPort, pages: PreparedPages, log: Logger): Promise<boolean> {
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
 * How long the client account stays locked after a submit whose answer did not come (a timeout, a lost
 * answer): the request may still be on its way to the site or in its hands, ms.
 */
export const ACCOUNT_SETTLE_MS = 5_000;

/** Frees the account lock after a submit: at once, or {@link ACCOUNT_SETTLE_MS} later when the answer did not come. */
function releaseAccount(o: ExecutorRuntime, release: Release | null, result: FlowResult): void {
  if (release === null) return;
  const answerless = result.submitted && (result.outcome === 'timeout' || result.outcome === 'unknown' || result.outcome === 'error');
  if (!answerless) return release();
  void o.clock.sleep(ACCOUNT_SETTLE_MS).then(release, release);
}

/**
 * Submits the same court while {@link sameCourtRetryMs} says so: "not open yet" (only with `retryNotOpen`) every
 * `notOpenRetryIntervalMs`, a 429 once its `Retry-After` has passed, both until `notOpenRetryBudgetMs` after
 * the fire instant. Before each submit the attempt's intent is recorded through the session; when the session
 * refuses it (the row is no longer held), the flow sends nothing. From the intent to the flow's answer the
 * client account's lock is held ({@link accountKey}): another booking of the same account waits. A hash the
 * site answers with is stored on the attempt at once (`recordAnswer`).
 */
async function submitUntilOpen(o: ExecutorRuntime, handle: unknown, session: BookingSessionPort, attempt: AttemptPort, log: Logger, retryNotOpen: boolean): Promise<FlowResult> {
  const deadlineMs = session.fireAt.getTime() + o.notOpenRetryBudgetMs;
  let submitted = false;
  let release: Release | null = null;
  const onBeforeSubmit = async (): Promise<boolean> => {
    if (session.signal.aborted) return false;
    // Taken once per submit (a flow asking twice in one submit does not wait for itself).
    release ??= await lockAccount(o.accountLocks, session, log);
    if (release === null) return false;
    const held = await attempt.recordIntent();
    if (!held) log.warn('the reservation is no longer held by this daemon (cancelled or taken over): not submitting');
    submitted ||= held;
    return held;
  };
  // The site's hash is stored the moment it answers, before the outcome: a crash then leaves it to look up.
  const onAnswer = (hash: string): Promise<void> => attempt.recordAnswer(hash);
  for (let tries = 1; ; tries++) {
    let result: FlowResult = flowResultFromError(new Error('the flow ended without a result'), submitted);
    try {
      result = await o.flow.submit(handle, { user: session.request.user, timeoutMs: o.attemptTimeoutMs, onBeforeSubmit, onAnswer });
    } catch (err) {
      result = flowResultFromError(err, submitted);
    } finally {
      releaseAccount(o, release, result);
      release = null;
    }
    if (result.outcome === 'not_open_yet' && !retryNotOpen) return result;
    const waitMs = sameCourtRetryMs({ outcome: result.outcome, retryAfterMs: result.retryAfterMs, nowMs: o.clock.now(), deadlineMs, retryIntervalMs: o.notOpenRetryIntervalMs });
    if (waitMs === null || session.signal.aborted) return result;
    // One info line, then debug: "not open yet" retries come every notOpenRetryIntervalMs.
    const why = result.outcome === 'rate_limited' ? 'rate limited by the site; retrying after its Retry-After' : 'slot not open yet; retrying';
    log[tries === 1 || result.outcome === 'rate_limited' ? 'info' : 'debug']({ tries, wait_ms: waitMs, budget_ms: o.notOpenRetryBudgetMs }, why);
    await o.clock.sleep(waitMs, session.signal);
    // Stopped while waiting: the last answer stands (nothing more is sent).
    if (session.signal.aborted) return result;
  }
}

/**
 * Takes the client account's lock for one submit, waiting (abortable by the booking's signal) while another
 * booking of the same account has its submit in flight. Null when stopped while waiting.
 */
async function lockAccount(locks: KeyedMutex, session: BookingSessionPort, log: Logger): Promise<Release | null> {
  const release = await locks.acquire(accountKey(session.request), session.signal);
  if (release === null) log.info('stopped while another booking of the same client account was submitting: not submitting');
  return release;
}

/** The metadata of a result or attempt (docs/metadata.md), from what the run has done so far. */
function metadataFor(o: ExecutorRuntime, session: BookingSessionPort, run: RunState, court: number, extra: Record<string, unknown> = {}): BookingMetadata {
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
    site_blocked: 'the site blocked the booking',
    site_changed: 'the page did not look as expected (site changed?)',
    timeout: 'timed out',
    interrupted: 'interrupted before the submit',
    invalid_request: 'invalid request',
    error: 'unexpected error',
    unknown: "submitted, but the site's answer is unknown",
    rate_limited: 'the site rate limited the booking (HTTP 429) past the retry budget',
    form_rejected: 'the site rejected the booking form',
  };
  if (!message || outcome === 'slot_taken') return text[outcome];
  // Flows often say it already ("the site blocked the booking ..."): do not repeat it.
  return message.includes(text[outcome]) ? message : `${text[outcome]}: ${message}`;
}
