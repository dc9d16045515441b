import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { markRejected, markScheduled, type PendingAsRead } from './intake.js';

/**
 * One booking per person at a time (docs/architecture.md "Reservation life cycle"): a person — the same
 * `booking_users` row, or the same e-mail on another one, compared case-insensitively — never has two
 * active reservations (`scheduled`, `claimed`, `booking`, `succeeded`) whose slots overlap, at any venue. A
 * slot is `[slot_at, slot_at + the venue's slotLengthS)`.
 *
 * The database enforces the exact case (same `user_id`, same `slot_at`: `migrations/0004_row_guards.ts`);
 * overlaps and e-mails are checked here, serialized per e-mail by a transaction-scoped advisory lock taken by
 * every writer that makes a row active from scratch (validation, `book-now`), so two daemons validating two
 * rows of one person at once end with one `scheduled` and one `rejected`.
 */

/**
 * The white space JavaScript's `String.prototype.trim` removes (ECMA-262 WhiteSpace and LineTerminator: TAB,
 * VT, FF, SP, NBSP, ZWNBSP, the Zs spaces, LF, CR, U+2028, U+2029). Validation trims `booking_users.email`
 * with it (zod's `.trim()`) but stores the column as typed, so `ana@example.com  ` is the same person as
 * `ana@example.com`: the SQL side trims the stored column with `btrim` and these characters (PostgreSQL's
 * `btrim` without a set removes spaces only).
 */
const TRIMMED_WHITE_SPACE = '\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';

/**
 * How a person's e-mail is compared (README "One booking per person at a time"): trimmed as validation trims
 * it, then lower-cased. `booking_users.email` holds the address as typed, white space around it included.
 */
export function personEmailKey(email: string): string {
  return email.trim().toLowerCase();
}

/** Statuses that hold a person's slot. */
const ACTIVE_STATUSES = ['scheduled', 'claimed', 'booking', 'succeeded'] as const;

/** The active row a new one would duplicate. */
export interface OverlappingBooking {
  id: number;
  venue: string;
  targetDate: string;
  targetTime: string;
  status: string;
  /** How it is the same person: the same `booking_users` row, or the same e-mail on another. */
  matchedBy: 'booking_users.id' | 'booking_users.email';
}

/** The slot a row would hold, and whose it is. */
export interface PersonSlot {
  /** The row itself (left out of the search), or null for a row not inserted yet. */
  reservationId: number | null;
  userId: number | null;
  email: string;
  slotAt: Date;
  /** The slot length of its venue, s. */
  slotLengthS: number;
  /**
   * The slot length of each venue, s, for the other rows' slots; a venue not listed counts with
   * `slotLengthS`.
   */
  slotLengthsS: Readonly<Record<string, number>>;
  /**
   * Which active rows count: all of them (validation, `book-now`), or only those ahead of this row
   * (admission of a claimed row: `booking`/`succeeded` rows and `scheduled`/`claimed` rows with a lower id).
   */
  only?: 'all' | 'ahead';
}

/** The longest slot a venue may have (`slotLengthS` at most 4 h in the config schema), s. */
const LONGEST_SLOT_S = 4 * 3600;

/** A positive slot length, else `fallbackS` (a venue without one counts 1 s: only the same start overlaps). */
const sane = (lengthS: number | undefined, fallbackS: number): number => (typeof lengthS === 'number' && Number.isFinite(lengthS) && lengthS > 0 ? lengthS : fallbackS);

/** The end of `slot` (`slot_end_at`): its start + its venue's slot length, or null when that length is not known. */
export function slotEndOf(slot: Pick<PersonSlot, 'slotAt' | 'slotLengthS'>): Date | null {
  const lengthS = sane(slot.slotLengthS, 0);
  return lengthS > 0 ? new Date(slot.slotAt.getTime() + lengthS * 1000) : null;
}

/** Locks the person (their e-mail, trimmed and case-insensitive: {@link personEmailKey}) until the end of the transaction `trx`. */
export async function lockPerson(trx: Kysely<Database>, email: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('reservd.person'), hashtext(${personEmailKey(email)}::text))`.execute(trx);
}

/**
 * The first active reservation of the same person whose slot overlaps `slot`, earliest slot first, or null.
 * Call it inside a transaction holding {@link lockPerson} to act on the answer.
 */
export async function findOverlappingBooking(db: Kysely<Database>, slot: PersonSlot): Promise<OverlappingBooking | null> {
  const ownS = sane(slot.slotLengthS, 1);
  const lengthOfS = (venue: string): number => sane(slot.slotLengthsS[venue], ownS);
  const endAt = new Date(slot.slotAt.getTime() + ownS * 1000);
  const rows = await db
    .selectFrom('reservations as r')
    .innerJoin('booking_users as u', 'u.id', 'r.user_id')
    .select(['r.id', 'r.venue', 'r.target_date', 'r.target_time', 'r.status', 'r.slot_at', 'r.slot_end_at', 'r.user_id'])
    .where('r.status', 'in', [...ACTIVE_STATUSES])
    .where('r.slot_at', '<', endAt)
    .where('r.slot_at', '>', new Date(slot.slotAt.getTime() - Math.max(ownS, LONGEST_SLOT_S) * 1000))
    .where((eb) => {
      const same = [eb(sql`lower(btrim(u.email, ${TRIMMED_WHITE_SPACE}::text))`, '=', personEmailKey(slot.email))];
      if (slot.userId !== null) same.push(eb('r.user_id', '=', String(slot.userId)));
      return eb.or(same);
    })
    .$if(slot.reservationId !== null, (qb) => qb.where('r.id', '<>', String(slot.reservationId)))
    .$if(slot.only === 'ahead', (qb) =>
      qb.where((eb) => eb.or([eb('r.status', 'in', ['booking', 'succeeded']), eb('r.id', '<', String(slot.reservationId ?? 0))])),
    )
    .orderBy('r.slot_at')
    .orderBy('r.id')
    .execute();
  for (const row of rows) {
    // Its end as its scheduler wrote it (a venue of another daemon included), else its venue's length as known here.
    const rowEndMs = row.slot_end_at?.getTime() ?? (row.slot_at === null ? null : row.slot_at.getTime() + lengthOfS(row.venue) * 1000);
    if (rowEndMs === null || rowEndMs <= slot.slotAt.getTime()) continue;
    const matchedBy = slot.userId !== null && Number(row.user_id) === slot.userId ? 'booking_users.id' : 'booking_users.email';
    return { id: Number(row.id), venue: row.venue, targetDate: row.target_date, targetTime: row.target_time, status: row.status, matchedBy };
  }
  return null;
}

/**
 * The rejection reason for a duplicate: `duplicate: reservation 12 already books this person
 * (booking_users.email) for 2026-12-03 19:00 at la-villa, overlapping this slot; one booking per person at a time`.
 */
export function duplicateReason(first: OverlappingBooking): string {
  return `duplicate: reservation ${first.id} already books this person (${first.matchedBy}) for ${first.targetDate} ${first.targetTime} at ${first.venue}, overlapping this slot; one booking per person at a time`;
}

/** What {@link scheduleUnlessDuplicate} did. */
export type ScheduleVerdict =
  | { kind: 'scheduled'; changed: boolean }
  | { kind: 'duplicate'; reason: string; changed: boolean };

/**
 * `pending → scheduled` unless the person already has an overlapping active row (then `pending → rejected`
 * with {@link duplicateReason}), in one transaction under {@link lockPerson}. A row inserted meanwhile as
 * `scheduled` by hand for the same person and slot (it takes no lock) makes the UNIQUE index refuse the
 * update: the row is then rejected naming that row, never left pending to fail again.
 *
 * @returns the verdict; `changed` is false when the row was no longer `pending`.
 */
export async function scheduleUnlessDuplicate(
  db: Kysely<Database>,
  args: { slot: PersonSlot & { reservationId: number }; releaseAt: Date; now: Date; asRead?: PendingAsRead },
): Promise<ScheduleVerdict> {
  const { slot, now, asRead } = args;
  const attempt = () =>
    db.transaction().execute(async (trx): Promise<ScheduleVerdict> => {
      await lockPerson(trx, slot.email);
      const first = await findOverlappingBooking(trx, slot);
      if (first) {
        const reason = duplicateReason(first);
        return { kind: 'duplicate', reason, changed: await markRejected(trx, { id: slot.reservationId, reason, now, asRead }) };
      }
      const slotEndAt = slotEndOf(slot);
      return { kind: 'scheduled', changed: await markScheduled(trx, { id: slot.reservationId, releaseAt: args.releaseAt, slotAt: slot.slotAt, slotEndAt, now, asRead }) };
    });
  try {
    return await attempt();
  } catch (err) {
    // 23505: the exact duplicate the index (or its trigger) refused; the next look finds that row.
    if ((err as { code?: unknown }).code !== '23505') throw err;
    return attempt();
  }
}
