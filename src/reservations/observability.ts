import { sql, type Kysely } from 'kysely';
import type { Database, ReservationStatus } from '../db/types.js';

/**
 * Read-only queries behind the observability endpoint (README "Observability"): health, the status gauge and
 * the status page. None returns e-mail or phone: the page must not show contact details.
 */

/** Statuses of reservations still to be booked (the status page's "upcoming"). */
const UPCOMING: readonly ReservationStatus[] = ['pending', 'scheduled', 'claimed', 'booking'];
/** Statuses a reservation ends in (the status page's "recent outcomes"). */
const FINISHED: readonly ReservationStatus[] = ['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'needs_attention'];

/** One reservation as the status page shows it: who, what, when, and how it ended. */
export interface StatusPageRow {
  id: number;
  venue: string;
  targetDate: string;
  targetTime: string;
  courts: number[];
  status: ReservationStatus;
  releaseAt: Date | null;
  finishedAt: Date | null;
  bookedCourt: number | null;
  confirmationCode: string | null;
  reason: string | null;
  firstName: string;
  lastName: string;
}

/** Runs `SELECT 1`: resolves when the database answers, rejects with the driver's error otherwise. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`SELECT 1`.execute(db);
}

/** How many reservations are in each status (statuses with none are absent). */
export async function countReservationsByStatus(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db.selectFrom('reservations').select(['status', (eb) => eb.fn.countAll<string>().as('n')]).groupBy('status').execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

function statusPageQuery(db: Kysely<Database>) {
  return db
    .selectFrom('reservations as r')
    .innerJoin('booking_users as u', 'u.id', 'r.user_id')
    .select(['r.id', 'r.venue', 'r.target_date', 'r.target_time', 'r.courts', 'r.status', 'r.release_at', 'r.finished_at', 'r.booked_court', 'r.confirmation_code', 'r.reason', 'u.first_name', 'u.last_name']);
}

type StatusPageQueryRow = Awaited<ReturnType<ReturnType<typeof statusPageQuery>['execute']>>[number];

function toStatusPageRow(r: StatusPageQueryRow): StatusPageRow {
  return {
    id: Number(r.id), venue: r.venue, targetDate: r.target_date, targetTime: r.target_time, courts: r.courts, status: r.status, releaseAt: r.release_at,
    finishedAt: r.finished_at, bookedCourt: r.booked_court, confirmationCode: r.confirmation_code, reason: r.reason, firstName: r.first_name, lastName: r.last_name,
  };
}

/** Up to `limit` reservations still to be booked, soonest release first (rows without a release last). */
export async function listUpcomingReleases(db: Kysely<Database>, limit: number): Promise<StatusPageRow[]> {
  const rows = await statusPageQuery(db).where('r.status', 'in', UPCOMING).orderBy(sql`r.release_at ASC NULLS LAST`).orderBy('r.id').limit(limit).execute();
  return rows.map(toStatusPageRow);
}

/** Up to `limit` reservations that have ended, latest first. */
export async function listRecentOutcomes(db: Kysely<Database>, limit: number): Promise<StatusPageRow[]> {
  const rows = await statusPageQuery(db).where('r.status', 'in', FINISHED).orderBy(sql`coalesce(r.finished_at, r.updated_at) DESC`).orderBy('r.id', 'desc').limit(limit).execute();
  return rows.map(toStatusPageRow);
}
