import { sql, type Kysely } from 'kysely';

/*
 * Attempt outcome `unknown`: a submit whose answer was lost (timeout or crash after the POST). It is its own
 * outcome, distinct from a failure: the site may hold the booking, so it is looked up, never resubmitted.
 * Frozen in time: imports only `kysely`.
 */

const OUTCOMES = `'booked','slot_taken','not_open_yet','site_blocked','site_changed','timeout','interrupted','invalid_request','error','unknown'`;
const OLD_OUTCOMES = `'booked','slot_taken','not_open_yet','site_blocked','site_changed','timeout','interrupted','invalid_request','error'`;

/** Widens `booking_attempts.outcome` to accept `unknown`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE booking_attempts DROP CONSTRAINT booking_attempts_outcome_known`.execute(db);
  await sql`ALTER TABLE booking_attempts ADD CONSTRAINT booking_attempts_outcome_known CHECK (outcome IN (${sql.raw(OUTCOMES)}))`.execute(db);
}

/** Narrows it back (attempts recorded `unknown` become `error`). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`UPDATE booking_attempts SET outcome = 'error' WHERE outcome = 'unknown'`.execute(db);
  await sql`ALTER TABLE booking_attempts DROP CONSTRAINT booking_attempts_outcome_known`.execute(db);
  await sql`ALTER TABLE booking_attempts ADD CONSTRAINT booking_attempts_outcome_known CHECK (outcome IN (${sql.raw(OLD_OUTCOMES)}))`.execute(db);
}
