import { sql, type Kysely } from 'kysely';
import type { Database, StandingStatus } from '../db/types.js';

/**
 * Queries of standing reservations (migration 0011) and of the rows they create. Every state change names the
 * statuses it expects; materialising is `INSERT ... ON CONFLICT DO NOTHING` on the unique
 * (standing_id, standing_occurrence), so any number of daemons and restarts create each occurrence once.
 */

/** A `standing_reservations` row as the CLI and the materialiser read it. */
export interface StandingRow {
  id: number;
  userId: number;
  venue: string;
  courts: number[];
  cron: string;
  status: StandingStatus;
  /** Venue-local `YYYY-MM-DD`, inclusive; null = no end. */
  untilDate: string | null;
  createdAt: Date;
  /** How many reservation rows it has created so far. */
  createdRows: number;
}

/** Arguments of {@link insertStanding} (validated by `validateStanding` first). */
export interface StandingInsert {
  userId: number;
  venue: string;
  courts: number[];
  cron: string;
  untilDate: string | null;
  /** `created_at`/`updated_at`; occurrences before it are never materialised. */
  now: Date;
}

/** Inserts an `active` standing reservation. @returns its id. @throws pg's foreign-key error for an unknown user. */
export async function insertStanding(db: Kysely<Database>, input: StandingInsert): Promise<number> {
  const row = await db
    .insertInto('standing_reservations')
    .values({ user_id: input.userId, venue: input.venue, courts: input.courts, cron: input.cron, until_date: input.untilDate, created_at: input.now, updated_at: input.now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/** Whether a `booking_users` row with this id exists. */
export async function userExists(db: Kysely<Database>, userId: number): Promise<boolean> {
  return (await db.selectFrom('booking_users').select('id').where('id', '=', String(userId)).executeTakeFirst()) !== undefined;
}

/**
 * Standing reservations, oldest first, with the count of rows each has created.
 * @param filter `statuses` to include (default all but `removed`); `venues` to restrict to.
 */
export async function listStanding(db: Kysely<Database>, filter: { statuses?: StandingStatus[]; venues?: string[] } = {}): Promise<StandingRow[]> {
  const statuses = filter.statuses ?? ['active', 'paused'];
  if (filter.venues?.length === 0) return [];
  let query = db
    .selectFrom('standing_reservations as s')
    .select(['s.id', 's.user_id', 's.venue', 's.courts', 's.cron', 's.status', 's.until_date', 's.created_at'])
    .select((eb) => eb.selectFrom('reservations as r').whereRef('r.standing_id', '=', 's.id').select(sql<string>`count(*)`.as('n')).as('created_rows'))
    .where('s.status', 'in', statuses)
    .orderBy('s.id');
  if (filter.venues) query = query.where('s.venue', 'in', filter.venues);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: Number(r.id),
    userId: Number(r.user_id),
    venue: r.venue,
    courts: r.courts,
    cron: r.cron,
    status: r.status,
    untilDate: r.until_date,
    createdAt: r.created_at,
    createdRows: Number(r.created_rows ?? 0),
  }));
}

/** The status of standing reservation `id`, or null when there is none. */
export async function getStandingStatus(db: Kysely<Database>, id: number): Promise<StandingStatus | null> {
  const row = await db.selectFrom('standing_reservations').select('status').where('id', '=', String(id)).executeTakeFirst();
  return row?.status ?? null;
}

/** Sets `status` to `to` when it is one of `from`. @returns whether the row changed. */
export async function setStandingStatus(db: Kysely<Database>, args: { id: number; from: StandingStatus[]; to: StandingStatus; now: Date }): Promise<boolean> {
  const result = await db
    .updateTable('standing_reservations')
    .set({ status: args.to, updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', 'in', args.from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Marks standing reservation `id` removed (from `active` or `paused`); with `cancelWaiting`, also cancels the
 * rows it created that are still `pending` or `scheduled` (held rows are being booked: they are left alone).
 * @returns whether it was removed, and the ids of the rows cancelled.
 */
export async function removeStanding(db: Kysely<Database>, args: { id: number; now: Date; cancelWaiting: boolean }): Promise<{ removed: boolean; cancelled: number[] }> {
  return db.transaction().execute(async (tx) => {
    const removed = await setStandingStatus(tx, { id: args.id, from: ['active', 'paused'], to: 'removed', now: args.now });
    if (!removed || !args.cancelWaiting) return { removed, cancelled: [] };
    const rows = await tx
      .updateTable('reservations')
      .set({ status: 'cancelled', reason: `standing reservation ${args.id} was removed`, updated_at: args.now })
      .where('standing_id', '=', String(args.id))
      .where('status', 'in', ['pending', 'scheduled'])
      .returning('id')
      .execute();
    return { removed, cancelled: rows.map((r) => Number(r.id)).sort((a, b) => a - b) };
  });
}

/**
 * Creates the `pending` reservation of one occurrence, copying the person and courts from the standing row,
 * only while that row is `active` (a pause or removal committed before this statement creates nothing).
 * @returns the new row's id, or null when the occurrence already has a row (any status) or the row is not active.
 */
export async function insertOccurrence(db: Kysely<Database>, args: { standingId: number; occurrence: string; targetDate: string; targetTime: string; now: Date }): Promise<number | null> {
  const row = await db
    .insertInto('reservations')
    .columns(['user_id', 'venue', 'target_date', 'target_time', 'courts', 'standing_id', 'standing_occurrence', 'created_at', 'updated_at'])
    .expression((eb) =>
      eb
        .selectFrom('standing_reservations')
        .select(['user_id', 'venue', sql<string>`${args.targetDate}::date`.as('target_date'), sql<string>`${args.targetTime}`.as('target_time'), 'courts', 'id', sql<string>`${args.occurrence}`.as('standing_occurrence'), sql<Date>`${args.now}::timestamptz`.as('created_at'), sql<Date>`${args.now}::timestamptz`.as('updated_at')])
        .where('id', '=', String(args.standingId))
        .where('status', '=', 'active'),
    )
    .onConflict((oc) => oc.columns(['standing_id', 'standing_occurrence']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row ? Number(row.id) : null;
}
