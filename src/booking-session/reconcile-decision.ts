import type { AcuityAppointment } from '../booking/flows/acuity-lookup.js';
import { DEFINITIVE_NOT_BOOKED } from '../contracts/index.js';
import type { AttemptRow, HeldBooking } from '../reservations/index.js';

/**
 * The pure rules of crash reconciliation (docs/architecture.md "Reconciliation": an attempt with an intent
 * and no outcome is reconciled against the site before any retry): which attempts
 * need the site's word, which appointment on the site is ours, and what the reservation becomes. No I/O,
 * no clock: `now` is an argument. `reconcile.ts` does the look-up and the writes.
 */

/** What a reconciliation decides for one reservation. */
export type ReconcileDecision =
  /** The site holds our booking: `succeeded` with the site's code and court (`from`: the site's list, or an attempt that read the code). */
  | { kind: 'booked'; court: number; confirmationCode: string; attempt: AttemptRow; from: 'site' | 'attempt' }
  /** Back to `scheduled`: nothing reached the site's submit, or the site lists no booking and the slot is still ahead. */
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

/** What the site's list says about our slot. */
type SiteFinding =
  | { kind: 'ours'; appointment: AcuityAppointment }
  | { kind: 'several'; appointments: AcuityAppointment[] }
  | { kind: 'other_name'; appointments: AcuityAppointment[] }
  | { kind: 'none' };

const same = (a: string, b: string): boolean => a.normalize('NFC').trim().toLowerCase() === b.normalize('NFC').trim().toLowerCase();

/**
 * Finds our booking among a client's appointments: status `booked` (a cancelled appointment is not a
 * booking), the reservation's date and time, one of the `courts` we submitted to, the client's email and
 * name (case- and space-insensitive). A competitor's booking of the same slot is not in the list (the site
 * lists one email's appointments) and is re-checked here anyway by email.
 *
 * @returns `ours` (exactly one), `several` (more than one: already a double booking), `other_name` (same
 *   email and slot under another name: not provably ours) or `none`.
 */
function findOurBooking(
  appointments: readonly AcuityAppointment[],
  client: { email: string; firstName: string; lastName: string },
  slot: { date: string; time: string; courts: readonly number[] },
): SiteFinding {
  const sameSlot = appointments.filter(
    (a) => a.status === 'booked' && a.date === slot.date && a.time === slot.time && slot.courts.includes(a.court) && same(a.email, client.email),
  );
  const ours = sameSlot.filter((a) => same(a.firstName, client.firstName) && same(a.lastName, client.lastName));
  if (ours.length === 1) return { kind: 'ours', appointment: ours[0]! };
  if (ours.length > 1) return { kind: 'several', appointments: ours };
  if (sameSlot.length > 0) return { kind: 'other_name', appointments: sameSlot };
  return { kind: 'none' };
}

/** `attempt 2 on court 1` / `attempts 1 (court 1) and 2 (court 2)`. */
export function describeAttempts(attempts: readonly AttemptRow[]): string {
  if (attempts.length === 1) return `attempt ${attempts[0]!.attempt} on court ${attempts[0]!.court}`;
  return `attempts ${attempts.map((a) => `${a.attempt} (court ${a.court})`).join(', ')}`;
}

const listed = (appointments: readonly AcuityAppointment[]): string =>
  appointments.map((a) => `court ${a.court}: code ${a.confirmationCode}`).join('; ');

/** Arguments of {@link decideFromSite}. */
export interface SiteDecisionArgs {
  row: Pick<HeldBooking, 'target_date' | 'target_time' | 'slot_at' | 'email' | 'first_name' | 'last_name'>;
  /** Every attempt of the reservation, in attempt order. */
  attempts: readonly AttemptRow[];
  /** {@link openAttempts} of `attempts` (not empty). */
  open: readonly AttemptRow[];
  /** The client's appointments at the venue, as the site lists them. */
  appointments: readonly AcuityAppointment[];
  /** Why the outcome is unknown (for the reason), e.g. `its daemon stopped`. */
  cause: string;
  now: Date;
}

/**
 * Decides from the site's list: our booking found → `booked`; none, and the slot still ahead →
 * `requeue`; none but the slot has started (a site may stop listing past appointments, so absence proves
 * nothing), several, one under another name, or a code an attempt read that the site no longer lists →
 * `needs_attention` with a reason saying what to check.
 */
export function decideFromSite(args: SiteDecisionArgs): ReconcileDecision {
  const { row, attempts, open } = args;
  const slot = `${row.target_date} at ${row.target_time}`;
  const courts = [...new Set(attempts.filter((a) => a.submitted_at !== null).map((a) => a.court))];
  const finding = findOurBooking(args.appointments, { email: row.email, firstName: row.first_name, lastName: row.last_name }, { date: row.target_date, time: row.target_time, courts });
  switch (finding.kind) {
    case 'ours': {
      const { court, confirmationCode } = finding.appointment;
      const onCourt = (list: readonly AttemptRow[]) => [...list].reverse().find((a) => a.court === court && a.submitted_at !== null);
      const attempt = onCourt(open) ?? onCourt(attempts)!;
      return { kind: 'booked', court, confirmationCode, attempt, from: 'site' };
    }
    case 'several':
      return { kind: 'needs_attention', reason: `the site lists ${finding.appointments.length} bookings for this client on ${slot} (${listed(finding.appointments)}): cancel all but one on the site` };
    case 'other_name':
      return {
        kind: 'needs_attention',
        reason: `${describeAttempts(open)} was submitted and its outcome is unknown (${args.cause}); the site lists a booking with this client's email on ${slot} under another name (${listed(finding.appointments)}): check whether it is this reservation's before retrying`,
      };
    case 'none': {
      const confirmed = confirmedAttempt(attempts);
      if (confirmed) {
        return {
          kind: 'needs_attention',
          reason: `attempt ${confirmed.attempt} read confirmation code ${confirmed.confirmation_code} for court ${confirmed.court}, but the site does not list that booking (cancelled on the site?): check the site`,
        };
      }
      if (row.slot_at.getTime() <= args.now.getTime()) {
        return {
          kind: 'needs_attention',
          reason: `${describeAttempts(open)} was submitted and its outcome is unknown (${args.cause}); the site lists no booking for this client on ${slot}, but the slot has started and a site may no longer list past appointments: check the site's records`,
        };
      }
      return { kind: 'requeue', why: 'not_on_site' };
    }
  }
}
