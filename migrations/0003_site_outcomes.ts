import { sql, type Kysely } from 'kysely';

/*
 * The site's own refusals: attempt outcomes `rate_limited` (HTTP 429) and `form_rejected` (a field the site
 * refused), and the table `site_blocks` (a venue whose site flagged the bookings as irregular usage, and until
 * when no booking is attempted there). `reservations` has no outcome CHECK (its outcome lives in the `result`
 * jsonb), so only `booking_attempts_outcome_known` is widened. Frozen in time: imports only `kysely`.
 */

const OUTCOMES = `'booked','slot_taken','not_open_yet','site_blocked','site_changed','timeout','interrupted','invalid_request','error','unknown','rate_limited','form_rejected'`;
const OLD_OUTCOMES = `'booked','slot_taken','not_open_yet','site_blocked','site_changed','timeout','interrupted','invalid_request','error','unknown'`;

/** Widens `booking_attempts.outcome` to accept the two new outcomes and creates `site_blocks`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE booking_attempts DROP CONSTRAINT booking_attempts_outcome_known`.execute(db);
  await sql`ALTER TABLE booking_attempts ADD CONSTRAINT booking_attempts_outcome_known CHECK (outcome IN (${sql.raw(OUTCOMES)}))`.execute(db);
  await sql`
    CREATE TABLE site_blocks (
      venue text PRIMARY KEY,
      blocked_at timestamptz NOT NULL,
      blocked_until timestamptz NOT NULL,
      reason text NOT NULL,
      CONSTRAINT site_blocks_until_after_at CHECK (blocked_until >= blocked_at)
    )
  `.execute(db);
}

/** Drops `site_blocks` and narrows the outcomes back (attempts recorded with a new outcome become `error`). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS site_blocks`.execute(db);
  await sql`UPDATE booking_attempts SET outcome = 'error' WHERE outcome IN ('rate_limited', 'form_rejected')`.execute(db);
  await sql`ALTER TABLE booking_attempts DROP CONSTRAINT booking_attempts_outcome_known`.execute(db);
  await sql`ALTER TABLE booking_attempts ADD CONSTRAINT booking_attempts_outcome_known CHECK (outcome IN (${sql.raw(OLD_OUTCOMES)}))`.execute(db);
}
