import { sql, type Kysely } from 'kysely';
import type { AttemptOutcome, Database, JsonValue } from '../db/types.js';
import { changedRow, type AttemptRow } from './rows.js';

/** Arguments of {@link startAttempt}. */
export interface StartAttemptArgs {
  reservationId: number;
  court: number;
  /** The daemon making the attempt (its lease owner id). */
  daemonId: string;
  browserId: string | null;
  /** Flow name, e.g. `acuity`. */
  flow: string;
  now: Date;
}

/**
 * Appends a `booking_attempts` row (`started_at = now`) numbered after every earlier attempt of the
 * reservation (`reservations.attempt_count + 1`, incremented in the same transaction under the row lock, so
 * a requeued or taken-over reservation continues its numbering instead of colliding with the UNIQUE
 * `(reservation_id, attempt)`). Not guarded on the reservation's status: the log records whatever was tried.
 * Not safe to repeat blindly: a retry after a lost reply looks for the attempt first ({@link findStartedAttempt}).
 *
 * @returns the new attempt's id and its 1-based number.
 * @throws Error when the reservation does not exist.
 */
export async function startAttempt(db: Kysely<Database>, args: StartAttemptArgs): Promise<{ id: number; attempt: number }> {
  return db.transaction().execute(async (trx) => {
    const counted = await trx
      .updateTable('reservations')
      .set({ attempt_count: sql<number>`attempt_count + 1`, updated_at: args.now })
      .where('id', '=', String(args.reservationId))
      .returning('attempt_count')
      .executeTakeFirst();
    if (!counted) throw new Error(`reservation ${args.reservationId}: cannot start an attempt, the reservation does not exist`);
    const inserted = await trx
      .insertInto('booking_attempts')
      .values({
        reservation_id: args.reservationId,
        attempt: counted.attempt_count,
        court: args.court,
        daemon_id: args.daemonId,
        browser_id: args.browserId,
        flow: args.flow,
        started_at: args.now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: Number(inserted.id), attempt: counted.attempt_count };
  });
}

/**
 * The attempt a {@link startAttempt} with these very `args` created, if it is still open and unsubmitted, or
 * null. For a retry after a lost reply (the first try may have committed: starting again would log a second,
 * never-used attempt): the same reservation, daemon, court, flow, browser and `started_at = now`. An earlier
 * attempt with the same values is finished before another starts (one session per row, one court at a time),
 * so a match is the lost one.
 */
export async function findStartedAttempt(db: Kysely<Database>, args: StartAttemptArgs): Promise<{ id: number; attempt: number } | null> {
  const row = await db
    .selectFrom('booking_attempts')
    .select(['id', 'attempt'])
    .where('reservation_id', '=', String(args.reservationId))
    .where('daemon_id', '=', args.daemonId)
    .where('court', '=', args.court)
    .where('flow', '=', args.flow)
    .where('browser_id', args.browserId === null ? 'is' : '=', args.browserId)
    .where('started_at', '=', args.now)
    .where('submitted_at', 'is', null)
    .where('finished_at', 'is', null)
    .orderBy('attempt', 'desc')
    .executeTakeFirst();
  return row ? { id: Number(row.id), attempt: row.attempt } : null;
}

/**
 * Writes the intent (`submitted_at = now`, kept if already set) BEFORE the submit is pressed — only while the
 * attempt is still open (`finished_at IS NULL`) AND its reservation is in `booking` held by `owner`
 * (docs/architecture.md "Intent before submit"). One statement: the reservation row is locked `FOR SHARE`, so
 * a concurrent take-over of the row (which changes `lease_owner`) either commits first — and the intent is
 * refused — or waits until the intent is committed, and then finds it and reconciles instead of re-queuing.
 * Safe to repeat: a "not open yet" retry of the same attempt records the same intent again.
 *
 * @returns false when nothing may be submitted: the attempt is closed or missing, or the row is no longer held.
 */
export async function recordIntent(db: Kysely<Database>, args: { attemptId: number; reservationId: number; owner: string; now: Date }): Promise<boolean> {
  const result = await db
    .with('held', (qb) =>
      qb
        .selectFrom('reservations')
        .select('id')
        .where('id', '=', String(args.reservationId))
        .where('status', '=', 'booking')
        .where('lease_owner', '=', args.owner)
        .forShare(),
    )
    .updateTable('booking_attempts as a')
    .from('held')
    .set({ submitted_at: sql<Date>`coalesce(a.submitted_at, ${args.now}::timestamptz)` })
    .where('a.id', '=', String(args.attemptId))
    .whereRef('a.reservation_id', '=', 'held.id')
    .where('a.finished_at', 'is', null)
    .executeTakeFirst();
  return changedRow(result);
}

/**
 * Stores the site's appointment hash on an attempt whose answer just arrived (`confirmation_code = hash`),
 * while its outcome is still open (`outcome IS NULL`, `finished_at IS NULL`). Not guarded by the lease: the
 * hash is the site's word, useful to whoever reconciles the row. After a crash, an attempt with an intent,
 * no outcome and a code is "the site answered with this hash, its outcome was never recorded". Safe to
 * repeat (writes the same value).
 *
 * @returns false when the attempt is missing or already finished (nothing written).
 */
export async function recordSiteAnswer(db: Kysely<Database>, args: { attemptId: number; hash: string }): Promise<boolean> {
  const result = await db
    .updateTable('booking_attempts')
    .set({ confirmation_code: args.hash })
    .where('id', '=', String(args.attemptId))
    .where('outcome', 'is', null)
    .where('finished_at', 'is', null)
    .executeTakeFirst();
  return changedRow(result);
}

/** Arguments of {@link finishAttempt}. */
export interface FinishAttemptArgs {
  attemptId: number;
  outcome: AttemptOutcome;
  confirmationCode: string | null;
  error: string | null;
  /** JSON object stored in `booking_attempts.metadata` (jsonb). */
  metadata: { [key: string]: JsonValue };
  now: Date;
}

/**
 * Records how an attempt ended (`finished_at = now`, outcome, confirmation code, error, metadata). A null
 * `confirmationCode` keeps a hash {@link recordSiteAnswer} stored (an answer the flow then judged not a
 * booking, e.g. for another slot, is still the site's appointment: reconciliation looks it up).
 *
 * @returns false when the attempt does not exist or was already finished (an attempt ends once).
 */
export async function finishAttempt(db: Kysely<Database>, args: FinishAttemptArgs): Promise<boolean> {
  const result = await db
    .updateTable('booking_attempts')
    .set({
      finished_at: args.now,
      outcome: args.outcome,
      confirmation_code: args.confirmationCode ?? sql<string | null>`confirmation_code`,
      error: args.error,
      metadata: JSON.stringify(args.metadata),
    })
    .where('id', '=', String(args.attemptId))
    .where('finished_at', 'is', null)
    .executeTakeFirst();
  return changedRow(result);
}

/** Every attempt of a reservation, in attempt order. */
export async function listAttempts(db: Kysely<Database>, reservationId: number): Promise<AttemptRow[]> {
  const rows = await db
    .selectFrom('booking_attempts')
    .selectAll()
    .where('reservation_id', '=', String(reservationId))
    .orderBy('attempt')
    .execute();
  return rows.map((row) => ({ ...row, id: Number(row.id), reservation_id: Number(row.reservation_id) }));
}
