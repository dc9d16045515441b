import type { ReservationStatus } from '../db/types.js';
import { withoutContacts } from '../redact.js';

/**
 * Notification texts (README "Notifications"): pure functions from a reservation's final row (and the
 * BookingResult stored in its `result`) to the message each sink sends. No I/O, no clock.
 */

/** The final statuses that notify (the status table of README "Queue a booking"). */
export const NOTIFY_STATUSES = ['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'needs_attention'] as const satisfies readonly ReservationStatus[];

/** A status that notifies; see {@link NOTIFY_STATUSES}. */
export type NotifyStatus = (typeof NOTIFY_STATUSES)[number];

/**
 * Tone of a message, from the final status: `celebrate` (booked), `warn` (a failure that is part of the game:
 * `slot_taken`, `not_open_yet`, or a row that expired or was cancelled), `alert` (a person should look: every
 * other failure, a rejected row, `needs_attention`). The success/failure split follows `notificationTone` of
 * `src/contracts/booking-result.ts`.
 */
export type NotifyTone = 'celebrate' | 'warn' | 'alert';

/** What a message is made from: the reservation row's columns and parts of its stored BookingResult. */
export interface NotificationFacts {
  reservationId: string;
  status: NotifyStatus;
  venue: string;
  /** Venue-local `YYYY-MM-DD`. */
  targetDate: string;
  /** Venue-local `HH:MM`. */
  targetTime: string;
  /** The booked court (`booked_court`), else the court of the result (last tried), else null. */
  court: number | null;
  confirmationCode: string | null;
  /** The site's change/cancel link (`result.metadata.confirmation_url`), when known. */
  confirmationUrl: string | null;
  /** The BookingResult's outcome (`result.outcome`), when a result was stored. */
  outcome: string | null;
  /** The row's `reason` (why it failed, was rejected, expired or needs attention). */
  reason: string | null;
  /** The person's first name (no e-mail or phone: those never leave the database). */
  firstName: string;
}

/** A formatted notification. */
export interface NotificationMessage {
  tone: NotifyTone;
  /** One line, e.g. `Booked: court 2 on 2027-03-10 at 20:00 (la-villa)`. */
  title: string;
  /** Title and detail lines joined with `\n` (what Telegram shows). */
  text: string;
}

const TONE_MARK: Record<NotifyTone, string> = { celebrate: '✅', warn: '⚠️', alert: '🚨' };

/** The tone of {@link NotifyTone} for `facts`. */
export function toneOf(facts: Pick<NotificationFacts, 'status' | 'outcome'>): NotifyTone {
  switch (facts.status) {
    case 'succeeded':
      return 'celebrate';
    case 'failed':
      return facts.outcome === 'slot_taken' || facts.outcome === 'not_open_yet' ? 'warn' : 'alert';
    case 'expired':
    case 'cancelled':
      return 'warn';
    case 'rejected':
    case 'needs_attention':
      return 'alert';
  }
}

function slotOf(f: NotificationFacts): string {
  return `${f.targetDate} at ${f.targetTime} (${f.venue})`;
}

function titleOf(f: NotificationFacts): string {
  switch (f.status) {
    case 'succeeded':
      return `Booked: court ${f.court ?? '?'} on ${slotOf(f)}`;
    case 'failed':
      return `Not booked: ${slotOf(f)}`;
    case 'rejected':
      return `Request rejected: ${slotOf(f)}`;
    case 'expired':
      return `Expired before booking: ${slotOf(f)}`;
    case 'cancelled':
      return `Cancelled: ${slotOf(f)}`;
    case 'needs_attention':
      return `Check needed: ${slotOf(f)}`;
  }
}

/** What a person should check for a `needs_attention` row (README's status table). */
const NEEDS_ATTENTION_CHECK =
  'The site may hold a booking that reservd could not confirm. Check the venue\'s booking page or your e-mail for a confirmation for this slot before booking again; reservd will not resubmit it.';

function detailLines(f: NotificationFacts): string[] {
  const lines: string[] = [];
  if (f.status === 'succeeded' || (f.status === 'needs_attention' && f.court !== null && f.confirmationCode !== null)) {
    if (f.status === 'needs_attention') lines.push(`Court ${f.court} may be booked.`);
    if (f.confirmationCode !== null) lines.push(`Confirmation code: ${f.confirmationCode}`);
    if (f.confirmationUrl !== null) lines.push(`Change or cancel: ${f.confirmationUrl}`);
  }
  if (f.status === 'failed') {
    if (f.outcome !== null) lines.push(`Outcome: ${f.outcome}`);
    if (f.reason !== null) lines.push(`Reason: ${withoutContacts(f.reason)}`);
  }
  if (f.status === 'rejected' || f.status === 'expired') lines.push(`Reason: ${f.reason === null ? 'none recorded' : withoutContacts(f.reason)}`);
  if (f.status === 'needs_attention') {
    if (f.reason !== null) lines.push(`What to check: ${withoutContacts(f.reason)}`);
    lines.push(NEEDS_ATTENTION_CHECK);
  }
  lines.push(`Reservation ${f.reservationId}`);
  return lines;
}

/** Formats the message for `facts`: tone, one-line title, and the text (mark, greeting, title, details). */
export function formatNotification(facts: NotificationFacts): NotificationMessage {
  const tone = toneOf(facts);
  const title = titleOf(facts);
  const text = [`${TONE_MARK[tone]} ${title}`, `Hi ${facts.firstName},`, ...detailLines(facts)].join('\n');
  return { tone, title, text };
}

/** The row columns {@link factsFromRow} reads (`reservations` joined with `booking_users.first_name`). */
export interface NotificationRow {
  id: string;
  status: NotifyStatus;
  venue: string;
  target_date: string;
  target_time: string;
  booked_court: number | null;
  confirmation_code: string | null;
  reason: string | null;
  /** The stored BookingResult JSON (without contact details), or null. */
  result: unknown;
  first_name: string;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

function textOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/**
 * Facts from a row: court and code from the columns first (the row's record), else from the stored result;
 * the change/cancel link from `result.metadata.confirmation_url`; a result that is missing or of another
 * shape gives nulls, never an error (a hand-edited row still notifies).
 */
export function factsFromRow(row: NotificationRow): NotificationFacts {
  const court = field(row.result, 'court');
  return {
    reservationId: row.id,
    status: row.status,
    venue: row.venue,
    targetDate: row.target_date,
    targetTime: row.target_time,
    court: row.booked_court ?? (typeof court === 'number' ? court : null),
    confirmationCode: row.confirmation_code ?? textOrNull(field(row.result, 'confirmationCode')),
    confirmationUrl: textOrNull(field(field(row.result, 'metadata'), 'confirmation_url')),
    outcome: textOrNull(field(row.result, 'outcome')),
    reason: textOrNull(row.reason),
    firstName: row.first_name,
  };
}
