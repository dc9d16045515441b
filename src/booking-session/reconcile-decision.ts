import type { SiteAppointment } from '../booking/session-port.js';
import { clientMismatch } from '../booking/flows/acuity-spa-target.js';
import { DEFINITIVE_NOT_BOOKED } from '../contracts/index.js';
import type { AttemptRow, HeldBooking } from '../reservations/index.js';

/**
 * The pure rules of crash reconciliation (docs/architecture.md "Reconciliation": an attempt with an intent
 * and no outcome is reconciled against the site before any retry): which attempts need the site's word,
 * what to ask it (an appointment by the hash it answered with, or whether the slot is still offered), and
 * what the reservation becomes. No I/O, no clock: `now` is an argument. `reconcile.ts` asks the site and
 * writes.
 */

/** What a reconciliation decides for one reservation. */
export type ReconcileDecision =
  /** The site holds our booking: `succeeded` with the site's code and court (`from`: the site's look-up by hash, or an attempt that read the code). */
  | { kind: 'booked'; court: number; confirmationCode: string; attempt: AttemptRow; from: 'site' | 'attempt' }
  /** Back to `scheduled`: nothing reached the site's submit, or the slot is still offered on every court submitted to. */
  | { kind: 'requeue'; why: 'nothing_submitted' | 'not_on_site' }
  /** Nobody can tell (or the site shows something odd): a person looks; never a blind re-submit. */
  | { kind: 'needs_attention'; reason: string };

const NOT_BOOKED: ReadonlySet<string> = new Set(DEFINITIVE_NOT_BOOKED);

/** True when an earlier reconciliation settled the attempt (metadata `reconciled_at`, docs/metadata.md). */
function isReconciled(attempt: AttemptRow): boolean {
  return typeof attempt.metadata.reconciled_at === 'string';
}

/** The latest attempt that read the site's confirmation (outcome `booked` with a code), if any. */
export function confirmedAttempt(attempts: readonly AttemptRow[]): AttemptRow | undefined {
  return [...attempts].reverse().find((a) => a.outcome === 'booked' && a.confirmation_code !== null);
}

/**
 * Attempts that pressed submit (intent row) and whose outcome does not say whether the site booked: no
 * outcome, or `timeout`/`error`/`interrupted`/`site_changed`/... (only `slot_taken` and `not_open_yet` are the
 * site's "no", and `booked` with a code its "yes"), not reconciled yet. In attempt order.
 */
export function openAttempts(attempts: readonly AttemptRow[]): AttemptRow[] {
  return attempts.filter(
    (a) =>
      a.submitted_at !== null &&
      !isReconciled(a) &&
      !(a.outcome !== null && NOT_BOOKED.has(a.outcome)) &&
      !(a.outcome === 'booked' && a.confirmation_code !== null),
  );
}

/** `attempt 2 on court 1` / `attempts 1 (court 1) and 2 (court 2)`. */
export function describeAttempts(attempts: readonly AttemptRow[]): string {
  if (attempts.length === 1) return `attempt ${attempts[0]!.attempt} on court ${attempts[0]!.court}`;
  return `attempts ${attempts.map((a) => `${a.attempt} (court ${a.court})`).join(', ')}`;
}

/** `court 1` / `courts 1 and 2` / `courts 1, 2 and 3`. */
function courtList(courts: readonly number[]): string {
  if (courts.length === 1) return `court ${courts[0]}`;
  return `courts ${courts.slice(0, -1).join(', ')} and ${courts.at(-1)}`;
}

/** What to ask the site about the open attempts ({@link whatToAsk}). */
export interface SiteQuestions {
  /** The hashes the site answered open attempts with: looked up by hash. */
  hashes: string[];
  /** Courts of open attempts without a hash, while the slot is ahead: is the slot still offered on each? */
  courts: number[];
}

/**
 * What reconciliation asks the site: every hash stored on an open attempt, and — while the slot has not
 * started (a started slot is never offered, so its absence proves nothing) — the courts of the open attempts
 * without one.
 */
export function whatToAsk(row: Pick<HeldBooking, 'slot_at'>, open: readonly AttemptRow[], now: Date): SiteQuestions {
  const hashes = [...new Set(open.flatMap((a) => (a.confirmation_code === null ? [] : [a.confirmation_code])))];
  const started = row.slot_at.getTime() <= now.getTime();
  const courts = started ? [] : [...new Set(open.filter((a) => a.confirmation_code === null).map((a) => a.court))];
  return { hashes, courts };
}

/** The site's answers to {@link SiteQuestions}. */
export interface SiteAnswers {
  /** The appointments found for `hashes` (an unknown hash is absent; cancelled ones are included). */
  appointments: readonly SiteAppointment[];
  /** Court → whether the slot is still offered on it, for each of `courts`. */
  offered: ReadonlyMap<number, boolean>;
}

/** Arguments of {@link decideFromSite}. */
export interface SiteDecisionArgs {
  row: Pick<HeldBooking, 'target_date' | 'target_time' | 'slot_at' | 'first_name'> & Partial<Pick<HeldBooking, 'last_name' | 'email'>>;
  /** Every attempt of the reservation, in attempt order. */
  attempts: readonly AttemptRow[];
  /** {@link openAttempts} of `attempts` (not empty). */
  open: readonly AttemptRow[];
  /** What the site answered to {@link whatToAsk} of `row`, `open` and `now`. */
  site: SiteAnswers;
  /** Why the outcome is unknown (for the reason), e.g. `the daemon x booking it stopped`. */
  cause: string;
  now: Date;
}

type HashVerdict = { kind: 'ours'; attempt: AttemptRow; hash: string } | { kind: 'problem'; reason: string };

/**
 * The site's word on one open attempt with a hash: ours (found, not cancelled, the reservation's date and
 * time, the attempt's court by type AND calendar), or a problem a person must look at.
 */
function judgeHash(a: AttemptRow, args: SiteDecisionArgs): HashVerdict {
  const hash = a.confirmation_code!;
  const { row } = args;
  const slot = `${row.target_date} at ${row.target_time}`;
  const found = args.site.appointments.find((x) => x.hash === hash);
  if (!found) {
    return {
      kind: 'problem',
      reason: `the site answered attempt ${a.attempt} on court ${a.court} with appointment ${hash}, but does not know that appointment now (outcome unknown: ${args.cause}): check with the club for a booking on ${slot} before retrying`,
    };
  }
  if (found.canceled) return { kind: 'problem', reason: `the site shows appointment ${hash} cancelled: check with the club before retrying` };
  if (found.date !== row.target_date || found.time !== row.target_time || found.court !== a.court) {
    const where = `${found.date} at ${found.time} on ${found.court === null ? 'a court this venue does not have' : `court ${found.court}`}`;
    return {
      kind: 'problem',
      reason: `the site's appointment ${hash}, answered to attempt ${a.attempt} on court ${a.court}, is for ${where}, not ${slot} on court ${a.court}: check with the club before retrying`,
    };
  }
  const other = clientMismatch(found, { firstName: row.first_name, ...(row.last_name ? { lastName: row.last_name } : {}), ...(row.email ? { email: row.email } : {}) });
  if (other) {
    return { kind: 'problem', reason: `the site's appointment ${hash}, answered to attempt ${a.attempt} on court ${a.court}: ${other}: check with the club before retrying` };
  }
  return { kind: 'ours', attempt: a, hash };
}

/**
 * Decides from the site's answers (docs/architecture.md "Reconciliation"):
 * - an open attempt with a hash: found, not cancelled, same date, time and court → `booked` (code = hash);
 *   cancelled, for another slot or court, or unknown to the site → `needs_attention`;
 * - open attempts without a hash: the slot has started → `needs_attention` (a started slot is never
 *   offered); no longer offered on a court submitted to → `needs_attention` naming the court(s) (the booking
 *   may be ours or someone else's); still offered on every one → nothing was booked;
 * - two bookings of ours → `needs_attention`; nothing booked → `requeue` (`not_on_site`), unless an attempt
 *   read a confirmation code the site no longer shows as booked → `needs_attention`.
 * Reasons name no e-mail address.
 */
export function decideFromSite(args: SiteDecisionArgs): ReconcileDecision {
  const { row, open } = args;
  const slot = `${row.target_date} at ${row.target_time}`;
  const ours: Array<Extract<HashVerdict, { kind: 'ours' }>> = [];
  for (const a of open.filter((x) => x.confirmation_code !== null)) {
    const verdict = judgeHash(a, args);
    if (verdict.kind === 'problem') return { kind: 'needs_attention', reason: verdict.reason };
    ours.push(verdict);
  }
  const unhashed = open.filter((a) => a.confirmation_code === null);
  if (unhashed.length > 0) {
    const unknown = `${describeAttempts(unhashed)} was submitted and its outcome is unknown (${args.cause}) with no appointment hash from the site`;
    if (row.slot_at.getTime() <= args.now.getTime()) {
      return { kind: 'needs_attention', reason: `${unknown}; the slot ${slot} has started, so the site's offered times prove nothing: check the e-mail of ${row.first_name} / the club's page for a booking` };
    }
    const gone = [...new Set(unhashed.map((a) => a.court))].filter((c) => args.site.offered.get(c) !== true);
    if (gone.length > 0) {
      return {
        kind: 'needs_attention',
        reason: `${unknown}; the slot ${slot} is no longer offered on ${courtList(gone)}: the booking may be this reservation's or someone else's; check the e-mail of ${row.first_name} / the club's page`,
      };
    }
  }
  if (ours.length > 1) {
    return { kind: 'needs_attention', reason: `the site holds ${ours.length} appointments of this reservation on ${slot} (${ours.map((o) => `court ${o.attempt.court}: ${o.hash}`).join('; ')}): cancel all but one with the club` };
  }
  if (ours.length === 1) return { kind: 'booked', court: ours[0]!.attempt.court, confirmationCode: ours[0]!.hash, attempt: ours[0]!.attempt, from: 'site' };
  const confirmed = confirmedAttempt(args.attempts);
  if (confirmed) {
    return {
      kind: 'needs_attention',
      reason: `attempt ${confirmed.attempt} read confirmation code ${confirmed.confirmation_code} for court ${confirmed.court}, but ${describeAttempts(open)} was submitted after it with an unknown outcome and the slot is still offered: check the site`,
    };
  }
  return { kind: 'requeue', why: 'not_on_site' };
}
