import { sql, type Kysely } from 'kysely';
import type { Database, NotificationSink } from '../db/types.js';
import type { NotificationRow } from './message.js';

/**
 * Queries of the notification outbox (migration 0010). Rows are queued by the database's trigger in the
 * transaction of the status change; this module only syncs the sink list, claims, records and counts.
 */

/**
 * Makes `notification_sinks` hold exactly `sinks`: from then on the trigger queues one message per final
 * status for each. Rows already queued for a sink no longer configured stay (they are left pending).
 */
export async function syncSinks(db: Kysely<Database>, sinks: readonly NotificationSink[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (sinks.length === 0) await tx.deleteFrom('notification_sinks').execute();
    else await tx.deleteFrom('notification_sinks').where('name', 'not in', [...sinks]).execute();
    if (sinks.length > 0) await tx.insertInto('notification_sinks').values(sinks.map((name) => ({ name }))).onConflict((oc) => oc.column('name').doNothing()).execute();
  });
}

/** One claimed outbox row with what its message is made from. */
export interface ClaimedNotification {
  outboxId: string;
  sink: NotificationSink;
  /** Attempts made before this one. */
  attempts: number;
  row: NotificationRow;
  /** `booking_users.telegram_chat_id`. */
  telegramChatId: string | null;
}

/**
 * Claims up to `limit` due pending rows of `sinks` (`next_attempt_at` ≤ `now`) with FOR UPDATE SKIP LOCKED
 * and pushes their `next_attempt_at` to `leaseUntil`, so another dispatcher (or this one after a crash) takes
 * a row only once that lease has passed. The attempt count is raised when the result is recorded.
 */
export async function claimDue(db: Kysely<Database>, args: { now: Date; leaseUntil: Date; limit: number; sinks: readonly NotificationSink[] }): Promise<ClaimedNotification[]> {
  if (args.sinks.length === 0) return [];
  const result = await sql<{
    outbox_id: string; sink: NotificationSink; attempts: number; id: string; status: NotificationRow['status']; venue: string; target_date: string; target_time: string;
    booked_court: number | null; confirmation_code: string | null; reason: string | null; result: unknown; first_name: string; telegram_chat_id: string | null;
  }>`
    WITH due AS (
      SELECT id FROM notification_outbox
      WHERE state = 'pending' AND next_attempt_at <= ${args.now} AND sink IN (${sql.join([...args.sinks])})
      ORDER BY next_attempt_at, id LIMIT ${args.limit}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE notification_outbox AS o SET next_attempt_at = ${args.leaseUntil} FROM due WHERE o.id = due.id
      RETURNING o.id, o.reservation_id, o.sink, o.attempts, o.status
    )
    SELECT c.id AS outbox_id, c.sink, c.attempts, r.id, c.status, r.venue, r.target_date, r.target_time, r.booked_court,
      r.confirmation_code, r.reason, r.result, u.first_name, u.telegram_chat_id
    FROM claimed AS c JOIN reservations AS r ON r.id = c.reservation_id JOIN booking_users AS u ON u.id = r.user_id
    ORDER BY c.id
  `.execute(db);
  return result.rows.map((r) => ({
    outboxId: String(r.outbox_id),
    sink: r.sink,
    attempts: r.attempts,
    telegramChatId: r.telegram_chat_id,
    row: { id: String(r.id), status: r.status, venue: r.venue, target_date: r.target_date, target_time: r.target_time, booked_court: r.booked_court, confirmation_code: r.confirmation_code, reason: r.reason, result: r.result, first_name: r.first_name },
  }));
}

/** How one delivery attempt ended, as recorded by {@link recordAttempt}. */
export type AttemptRecord =
  | { kind: 'delivered'; at: Date }
  | { kind: 'skipped'; at: Date; why: string }
  | { kind: 'retry'; error: string; nextAttemptAt: Date }
  | { kind: 'failed'; error: string };

/** Records one attempt of row `outboxId`: attempts + 1, and its new state. */
export async function recordAttempt(db: Kysely<Database>, outboxId: string, rec: AttemptRecord): Promise<void> {
  const q = db.updateTable('notification_outbox').set((eb) => ({ attempts: eb('attempts', '+', 1) })).where('id', '=', outboxId);
  switch (rec.kind) {
    case 'delivered':
      await q.set({ state: 'delivered', delivered_at: rec.at, last_error: null }).execute();
      return;
    case 'skipped':
      await q.set({ state: 'skipped', last_error: rec.why }).execute();
      return;
    case 'retry':
      await q.set({ last_error: rec.error, next_attempt_at: rec.nextAttemptAt }).execute();
      return;
    case 'failed':
      await q.set({ state: 'failed', last_error: rec.error }).execute();
  }
}

/**
 * Messages not yet delivered nor given up (`state = 'pending'`), all sinks together: the metric hook of
 * /metrics (`createApp`'s `outboxDepth`, gauge `reservd_notification_outbox_depth`).
 */
export async function outboxDepth(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('notification_outbox').select((eb) => eb.fn.countAll<string>().as('n')).where('state', '=', 'pending').executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The earliest `next_attempt_at` of a pending row of `sinks`, or null when none is pending. */
export async function nextDueAt(db: Kysely<Database>, sinks: readonly NotificationSink[]): Promise<Date | null> {
  if (sinks.length === 0) return null;
  const row = await db.selectFrom('notification_outbox').select((eb) => eb.fn.min('next_attempt_at').as('at')).where('state', '=', 'pending').where('sink', 'in', [...sinks]).executeTakeFirst();
  return (row?.at as Date | null | undefined) ?? null;
}

/**
 * Messages not yet delivered nor given up (`state = 'pending'`), per sink (sinks with none are absent).
 */
export async function outboxDepthBySink(db: Kysely<Database>): Promise<Partial<Record<NotificationSink, number>>> {
  const rows = await db.selectFrom('notification_outbox').select(['sink', (eb) => eb.fn.countAll<string>().as('n')]).where('state', '=', 'pending').groupBy('sink').execute();
  return Object.fromEntries(rows.map((r) => [r.sink, Number(r.n)]));
}
