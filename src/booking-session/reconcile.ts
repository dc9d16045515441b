import type { SiteAppointment } from '../booking/session-port.js';
import type { BookingRequest, BookingResult } from '../contracts/index.js';
import { retryTransient } from '../db/retry.js';
import { flagUnservedBookings, getHeldBooking, heartbeat, listAttempts, takeOverAbandonedBookings, type AttemptRow, type HeldBooking } from '../reservations/index.js';
import { confirmedAttempt, decideFromSite, describeAttempts, openAttempts, whatToAsk, type ReconcileDecision, type SiteAnswers } from './reconcile-decision.js';
import { startHeartbeat, type Heartbeat } from './heartbeat.js';
import { logDecision, recordDecision, type ReconcileDeps, type ReconcileOutcome } from './reconcile-record.js';
import { OUTCOME_RETRY_MS, TAKE_OVER_RETRY_MS } from './retry-budgets.js';

export type { ReconcileDeps, ReconcileOutcome } from './reconcile-record.js';

/**
 * Crash reconciliation (docs/architecture.md "Reconciliation"): a reservation
 * whose last submit has no known outcome — its daemon died (lease take-over), or its own booking timed out
 * or crashed after the submit — is checked against the site BEFORE any retry, with what a member can ask
 * it: the appointment by the hash the site answered with (stored on the attempt the moment it arrived), or,
 * without one, whether the slot is still offered. Ours → `succeeded` (recovered), still offered and the slot
 * ahead → `scheduled`, anything else → `needs_attention`. Nothing is ever submitted here.
 */

/** Longest wait for the site's answers (its look-ups run side by side), ms. */
const DEFAULT_LOOKUP_TIMEOUT_MS = 5_000;
/**
 * A submit younger than this may still be on its way to the site (a client-side timeout does not stop a
 * request already sent): "not found" is only believed after this long, ms.
 */
const DEFAULT_SETTLE_MS = 5_000;
/** Rows taken over per call. */
const TAKE_OVER_LIMIT = 20;

/**
 * Takes over every reservation left in `booking` by a dead daemon (expired lease; `FOR UPDATE SKIP LOCKED`,
 * so concurrent daemons each take different rows) and reconciles each. Run at start-up and on each tick.
 *
 * @returns one outcome per row taken over.
 * @throws database errors (the scheduler's loop logs them and retries on the next tick; a row taken over keeps
 *   its `booking` status and is taken over again when the new lease expires).
 */
export async function reconcileAbandonedBookings(deps: ReconcileDeps, options: { isRunning?: (id: number) => boolean } = {}): Promise<ReconcileOutcome[]> {
  const now = new Date(deps.clock.now());
  const venues = Object.keys(deps.venues);
  const unserved = await flagUnserved(deps, now, venues);
  const taken = await takeOverAbandonedBookings(deps.db, { owner: deps.daemonId, now, leaseMs: deps.leaseMs, limit: TAKE_OVER_LIMIT, venues });
  // Our own row whose lease lapsed under its running session (a heartbeat late through an outage): the
  // take-over just renewed our lease, and the session goes on; it is not reconciled behind its back.
  const rows = taken.filter((row) => !options.isRunning?.(row.id));
  const cause = (row: HeldBooking): string => `the daemon ${row.previous_owner ?? '?'} booking it stopped`;
  const reconciled = await Promise.all(
    rows.map(async (row) => {
      // Held from the take-over to the decision: the lease is renewed while the site is looked up.
      const beat = startHeartbeat(deps, { id: row.id, owner: deps.daemonId, leaseMs: deps.leaseMs });
      try {
        return await reconcileHeld(deps, row, { cause: cause(row), given: null, request: null, settle: 'defer', beat, retryMs: TAKE_OVER_RETRY_MS });
      } finally {
        beat.ending();
        await beat.stop();
      }
    }),
  );
  return [...unserved, ...reconciled];
}

/**
 * Abandoned `booking` rows of a venue this daemon does not serve are left to a live daemon that does (it
 * takes them over); with none, nobody can ask the site, so they go to `needs_attention` rather than rot.
 */
async function flagUnserved(deps: ReconcileDeps, now: Date, venues: string[]): Promise<ReconcileOutcome[]> {
  const flagged = await flagUnservedBookings(deps.db, { now, venues, limit: TAKE_OVER_LIMIT });
  const outcomes: ReconcileOutcome[] = [];
  for (const row of flagged) {
    const { reason } = row;
    deps.logger.warn(
      { reservation_id: row.id, venue: row.venue, previous_owner: row.previousOwner, decision: 'needs_attention', reason },
      `reservation ${row.id} needs attention: it was left in booking for venue "${row.venue}", which no running daemon serves (this daemon serves: ${venues.join(', ') || '(none)'})`,
    );
    outcomes.push({ reservationId: row.id, decision: 'needs_attention', attempt: null, result: null, reason });
  }
  return outcomes;
}

/**
 * Reconciles reservation `id`, held by this daemon in `booking`, after its own booking ended without a known
 * outcome (`cause` says how, e.g. the executor's errors). `result` is kept on the row if it goes to
 * `needs_attention`. `request` is the session's (built once per hold); the caller's heartbeat holds the row.
 *
 * @returns `not_held` (and does nothing) when the row is not in `booking` under this daemon's lease.
 */
export async function reconcileOwnBooking(
  deps: ReconcileDeps,
  args: { id: number; cause: string; result?: BookingResult | null; request?: BookingRequest | null; signal?: AbortSignal },
): Promise<ReconcileOutcome> {
  const read = { what: `reservation ${args.id}: reading it for reconciliation`, logger: deps.logger, budgetMs: OUTCOME_RETRY_MS, ...(args.signal ? { signal: args.signal } : {}) };
  const row = await retryTransient(() => getHeldBooking(deps.db, { id: args.id, owner: deps.daemonId }), read);
  if (!row) return { reservationId: args.id, decision: 'not_held', attempt: null, result: args.result ?? null, reason: null };
  return reconcileHeld(deps, row, {
    cause: args.cause,
    given: args.result ?? null,
    request: args.request ?? null,
    settle: 'wait',
    beat: null,
    retryMs: OUTCOME_RETRY_MS,
    ...(args.signal ? { signal: args.signal } : {}),
  });
}

type Asked = { site: SiteAnswers } | { error: string };

/**
 * `settle`: what to do when nothing is booked (still offered) but a submit is younger than the settle time — `wait`
 * (a booking job: sleep, then look again) or `defer` (a tick: keep the lease only until the settle time, so the
 * row is taken over and looked up again by a later tick, without holding up claims).
 */
async function reconcileHeld(
  deps: ReconcileDeps,
  row: HeldBooking,
  how: { cause: string; given: BookingResult | null; request: BookingRequest | null; settle: 'wait' | 'defer'; beat: Heartbeat | null; retryMs: number; signal?: AbortSignal },
): Promise<ReconcileOutcome> {
  const { cause, given, request } = how;
  const attempts = await retryTransient(() => listAttempts(deps.db, row.id), {
    what: `reservation ${row.id}: reading its attempts`,
    logger: deps.logger,
    budgetMs: how.retryMs,
    ...(how.signal ? { signal: how.signal } : {}),
  });
  const open = openAttempts(attempts);
  const confirmed = confirmedAttempt(attempts);
  const record = (decision: ReconcileDecision): Promise<ReconcileOutcome> =>
    recordDecision(deps, row, decision, { attempts, open, given, request, retryMs: how.retryMs, ...(how.signal ? { signal: how.signal } : {}) });
  const fromAttempt = (a: AttemptRow): ReconcileDecision => ({ kind: 'booked', court: a.court, confirmationCode: a.confirmation_code!, attempt: a, from: 'attempt' });
  if (open.length === 0) {
    return record(confirmed ? fromAttempt(confirmed) : { kind: 'requeue', why: 'nothing_submitted' });
  }
  const decide = async (): Promise<ReconcileDecision> => {
    const now = new Date(deps.clock.now());
    const asked = await askSite(deps, row, whatToAsk(row, open, now));
    if (!('error' in asked)) return decideFromSite({ row, attempts, open, site: asked.site, cause, now });
    // An attempt that read the site's confirmation is the site's own word: no look-up needed to record it.
    if (confirmed) return fromAttempt(confirmed);
    return {
      kind: 'needs_attention',
      reason: `${asked.error} after ${describeAttempts(open)} was submitted with an unknown outcome (${cause}): check the site for a booking on ${row.target_date} at ${row.target_time} before retrying`,
    };
  };
  let decision = await decide();
  const settledAtMs = Math.max(...open.map((a) => a.submitted_at!.getTime())) + (deps.settleMs ?? DEFAULT_SETTLE_MS);
  if (decision.kind === 'requeue' && settledAtMs > deps.clock.now()) {
    // A submit that young may still be on its way to the site: look again once it has had time to land.
    if (how.settle === 'defer') {
      // The shortened lease must be the last word on the row: no beat may renew it afterwards.
      await how.beat?.stop();
      return defer(deps, row, open, settledAtMs);
    }
    await deps.clock.sleep(settledAtMs - deps.clock.now());
    decision = await decide();
  }
  return record(fenceLiveSubmitters(deps, row, open, decision));
}

/**
 * "Not on the site" is only believed for submits that can no longer arrive: our own (our flow has returned), or
 * those of a daemon known to be dead. A daemon whose lease merely ran out may be paused between its intent and
 * its POST and send it later; re-queuing then would book the slot twice. Such a row goes to `needs_attention`.
 */
function fenceLiveSubmitters(deps: ReconcileDeps, row: HeldBooking, open: AttemptRow[], decision: ReconcileDecision): ReconcileDecision {
  if (decision.kind !== 'requeue' || decision.why !== 'not_on_site') return decision;
  const live = open.filter((a) => a.daemon_id !== deps.daemonId && !(deps.isDeadOwner?.(a.daemon_id) ?? false));
  if (live.length === 0) return decision;
  const daemons = [...new Set(live.map((a) => a.daemon_id))].join(', ');
  return {
    kind: 'needs_attention',
    reason: `${describeAttempts(live)} was submitted by daemon ${daemons}, whose lease ran out but which is not known to have stopped: the slot is still offered, but a paused daemon could still send it; check the site for a booking on ${row.target_date} at ${row.target_time} before setting the row back to scheduled`,
  };
}

/** Keeps our lease on `row` only until `untilMs`, when any daemon's tick takes it over and looks again. */
async function defer(deps: ReconcileDeps, row: HeldBooking, open: AttemptRow[], untilMs: number): Promise<ReconcileOutcome> {
  const now = new Date(deps.clock.now());
  const held = await heartbeat(deps.db, { id: row.id, owner: deps.daemonId, now, leaseMs: untilMs - now.getTime() });
  const outcome: ReconcileOutcome = { reservationId: row.id, decision: held ? 'deferred' : 'lease_lost', attempt: open.at(-1)?.attempt ?? null, result: null, reason: null };
  logDecision(deps.logger, row, outcome, { kind: 'requeue', why: 'not_on_site' });
  return outcome;
}

/**
 * Asks the site `questions` (side by side, within the look-up timeout on the clock): the appointments of the
 * hashes and whether the slot is offered on each court. No question → no request. A failure becomes text
 * naming what could not be read (the look-ups' errors carry no e-mail).
 */
async function askSite(deps: ReconcileDeps, row: HeldBooking, questions: { hashes: string[]; courts: number[] }): Promise<Asked> {
  const { hashes, courts } = questions;
  if (hashes.length === 0 && courts.length === 0) return { site: { appointments: [], offered: new Map() } };
  const what = hashes.length > 0 ? "the site's appointments could not be looked up by hash" : "the site's offered times could not be read";
  if (!Object.hasOwn(deps.venues, row.venue)) return { error: `${what} (venue "${row.venue}" is not configured)` };
  const lookup = deps.siteLookup;
  if (!lookup) return { error: `${what} (this daemon has no site look-up)` };
  const timeoutMs = deps.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
  const timedOut = new AbortController();
  const finished = new AbortController();
  void deps.clock.sleep(timeoutMs, finished.signal).then(() => {
    if (!finished.signal.aborted) timedOut.abort();
  });
  const { signal } = timedOut;
  let failed = what;
  const step = <T>(text: string, work: Promise<T>): Promise<T> =>
    work.catch((err: unknown) => {
      failed = text;
      throw err;
    });
  try {
    const [appointments, offered] = await Promise.all([
      hashes.length === 0 ? Promise.resolve<SiteAppointment[]>([]) : step("the site's appointments could not be looked up by hash", lookup.byHash(row.venue, hashes, signal)),
      Promise.all(courts.map((c) => step("the site's offered times could not be read", lookup.offered(row.venue, c, row.target_date, row.target_time, signal)).then((o) => [c, o] as const))),
    ]);
    return { site: { appointments, offered: new Map(offered) } };
  } catch (err) {
    if (signal.aborted) return { error: `${failed} (no answer within ${timeoutMs} ms)` };
    const message = err instanceof Error ? err.message : String(err);
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return { error: `${failed} (${`${message}${cause}`.split('\n')[0]!})` };
  } finally {
    finished.abort();
  }
}
