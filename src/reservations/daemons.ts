import { sql, type Expression, type Kysely, type Selectable, type SqlBool } from 'kysely';
import type { DaemonsTable, Database } from '../db/types.js';
import { changedRow, LEASE_CLOCK_TOLERANCE_MS, MAX_LEASE_MS } from './rows.js';

/**
 * The `daemons` table (migration 0005): who runs on this database and which venues each serves. A daemon is
 * **live** while it has not stopped and its last beat is younger than two of its own leases
 * (`seen_at > now − 2 × lease_ms`). Why two leases: it beats every third of its lease, so that is six missed
 * beats, longer than any database outage its own lease heartbeats survive (a daemon late by a whole lease has
 * lost every row it held anyway); and each daemon is judged by its own cadence, so daemons configured with
 * different `daemon.leaseMs` agree on who is live. Default lease 30 s → live within 60 s.
 */

/** How many of its own leases a daemon's last beat may be old and it still counts as live. */
export const LIVE_LEASES = 2;

/** One row of `daemons`. */
export interface DaemonRow {
  id: string;
  host: string;
  pid: number;
  venues: string[];
  leaseMs: number;
  startedAt: Date;
  seenAt: Date;
  stoppedAt: Date | null;
}

/** A daemon's own record, written at start and on each beat. */
export interface DaemonRecord {
  /** Its lease owner id. */
  id: string;
  host: string;
  pid: number;
  /** The venue ids it serves (its config's `venues`). */
  venues: readonly string[];
  /** Its `daemon.leaseMs`. */
  leaseMs: number;
}

function toDaemonRow(r: Selectable<DaemonsTable>): DaemonRow {
  return { id: r.id, host: r.host, pid: r.pid, venues: r.venues, leaseMs: r.lease_ms, startedAt: r.started_at, seenAt: r.seen_at, stoppedAt: r.stopped_at };
}

/**
 * SQL: the `daemons` row (alias `d`) is live at `now` ({@link LIVE_LEASES}; `lease_ms` capped at
 * {@link MAX_LEASE_MS}, the longest `daemon.leaseMs`: a row written by hand with a longer one cannot keep a
 * venue served for days after its last beat; a `seen_at` further ahead of `now` than
 * {@link LEASE_CLOCK_TOLERANCE_MS}, which no daemon's beat can write, does not count as live either: it would
 * keep a venue "served" for ever). Computed in double precision: `2 × lease_ms` in `integer` overflows for a
 * `lease_ms` above 2^30 (a hand-made row), and that error would fail every scheduler tick of every daemon.
 */
export function isLiveDaemon(now: Date): Expression<SqlBool> {
  const leaseS = sql`least(d.lease_ms, ${MAX_LEASE_MS}::integer)::double precision / 1000.0`;
  const latest = new Date(now.getTime() + LEASE_CLOCK_TOLERANCE_MS);
  return sql<SqlBool>`(d.stopped_at IS NULL AND d.seen_at > ${now}::timestamptz - make_interval(secs => ${LIVE_LEASES}::integer * ${leaseS})
    AND d.seen_at <= ${latest}::timestamptz)`;
}

/**
 * Records a daemon at its start (`started_at = seen_at = now`, `stopped_at` null). Repeating it for the same id
 * (a retried write whose reply was lost) refreshes the record and keeps the first `started_at`.
 */
export async function registerDaemon(db: Kysely<Database>, args: DaemonRecord & { now: Date }): Promise<void> {
  const values = { id: args.id, host: args.host, pid: args.pid, venues: [...args.venues], lease_ms: args.leaseMs, started_at: args.now, seen_at: args.now, stopped_at: null };
  await db
    .insertInto('daemons')
    .values(values)
    .onConflict((oc) => oc.column('id').doUpdateSet({ host: args.host, pid: args.pid, venues: [...args.venues], lease_ms: args.leaseMs, seen_at: args.now, stopped_at: null }))
    .execute();
}

/**
 * A beat: `seen_at = now` for daemon `id` while it has not stopped.
 *
 * @returns false when there is no such running record (someone deleted it, or it was marked stopped): the
 *   caller registers again.
 */
export async function touchDaemon(db: Kysely<Database>, args: { id: string; now: Date }): Promise<boolean> {
  const result = await db.updateTable('daemons').set({ seen_at: args.now }).where('id', '=', args.id).where('stopped_at', 'is', null).executeTakeFirst();
  return changedRow(result);
}

/** A clean stop: `seen_at = stopped_at = now` for daemon `id` (the row is kept). @returns false when it was not running. */
export async function markDaemonStopped(db: Kysely<Database>, args: { id: string; now: Date }): Promise<boolean> {
  const result = await db.updateTable('daemons').set({ seen_at: args.now, stopped_at: args.now }).where('id', '=', args.id).where('stopped_at', 'is', null).executeTakeFirst();
  return changedRow(result);
}

/**
 * Deletes the rows of daemons gone for longer than `olderThanMs`: stopped before `now − olderThanMs`, or never
 * stopped (killed) and last seen before then.
 *
 * @returns how many rows were deleted.
 */
export async function pruneGoneDaemons(db: Kysely<Database>, args: { now: Date; olderThanMs: number }): Promise<number> {
  const before = new Date(args.now.getTime() - args.olderThanMs);
  const result = await db
    .deleteFrom('daemons')
    .where((eb) => eb.or([eb('stopped_at', '<', before), eb.and([eb('stopped_at', 'is', null), eb('seen_at', '<', before)])]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The live daemons at `now` serving any of `venues` (all live daemons when omitted), by id. */
export async function listLiveDaemons(db: Kysely<Database>, args: { now: Date; venues?: readonly string[] }): Promise<DaemonRow[]> {
  let query = db.selectFrom('daemons as d').selectAll('d').where(isLiveDaemon(args.now));
  if (args.venues) query = query.where(sql<SqlBool>`d.venues && ${sql.val([...args.venues])}::text[]`);
  const rows = await query.orderBy('d.id').execute();
  return rows.map(toDaemonRow);
}

/** Every row of `daemons` (running, stale and stopped), by `started_at` then id: for operators and tests. */
export async function listDaemons(db: Kysely<Database>): Promise<DaemonRow[]> {
  const rows = await db.selectFrom('daemons as d').selectAll('d').orderBy('d.started_at').orderBy('d.id').execute();
  return rows.map(toDaemonRow);
}
