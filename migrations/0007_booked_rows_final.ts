import { sql, type Kysely } from 'kysely';

/*
 * A booked row is the record of a booking the site holds: its status, slot, courts, venue, user, booked court
 * and confirmation code can no longer change. Cancelling the row would not cancel the booking on the site,
 * and it would free the person's slot for a second booking (one booking per person at a time counts active
 * rows): the site would then hold two bookings of one person at one time, which clubs delete. The remedy is
 * the site's own change/cancel link (`result.metadata.confirmation_url`). Likewise a held row (`claimed`,
 * `booking`) cannot be sent back to `pending` by hand: a submit may be under way, and validating the row again
 * would book it a second time (no daemon ever writes `pending`; cancel instead). Frozen in time: imports only
 * `kysely`.
 */

/** Creates the triggers `reservations_booked_final` and `reservations_held_not_requeued`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION reservd_guard_booked() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      changed text;
    BEGIN
      changed := CASE
        WHEN NEW.status IS DISTINCT FROM OLD.status THEN 'status'
        WHEN NEW.user_id IS DISTINCT FROM OLD.user_id THEN 'user_id'
        WHEN NEW.venue IS DISTINCT FROM OLD.venue THEN 'venue'
        WHEN NEW.target_date IS DISTINCT FROM OLD.target_date THEN 'target_date'
        WHEN NEW.target_time IS DISTINCT FROM OLD.target_time THEN 'target_time'
        WHEN NEW.courts IS DISTINCT FROM OLD.courts THEN 'courts'
        WHEN NEW.slot_at IS DISTINCT FROM OLD.slot_at THEN 'slot_at'
        WHEN NEW.booked_court IS DISTINCT FROM OLD.booked_court THEN 'booked_court'
        WHEN NEW.confirmation_code IS DISTINCT FROM OLD.confirmation_code THEN 'confirmation_code'
      END;
      IF changed IS NULL THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        CONSTRAINT = 'reservations_booked_final',
        TABLE = 'reservations',
        COLUMN = changed,
        MESSAGE = format('%s: reservation %s is booked on the site (court %s, code %s) and its row is the record of it; changing the row would not cancel the booking there: cancel it with the site''s change/cancel link (result->''metadata''->>''confirmation_url'')',
                         changed, OLD.id, OLD.booked_court, OLD.confirmation_code);
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_booked_final BEFORE UPDATE ON reservations
      FOR EACH ROW WHEN (OLD.status = 'succeeded')
      EXECUTE FUNCTION reservd_guard_booked()
  `.execute(db);
  await sql`
    CREATE FUNCTION reservd_guard_held_requeue() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING
        ERRCODE = 'check_violation',
        CONSTRAINT = 'reservations_held_not_requeued',
        TABLE = 'reservations',
        COLUMN = 'status',
        MESSAGE = format('status: reservation %s is being booked (status %s): sending it back to pending could book it a second time; cancel it instead (UPDATE reservations SET status = ''cancelled'' WHERE id = %s)',
                         OLD.id, OLD.status, OLD.id);
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_held_not_requeued BEFORE UPDATE OF status ON reservations
      FOR EACH ROW WHEN (OLD.status IN ('claimed', 'booking') AND NEW.status = 'pending')
      EXECUTE FUNCTION reservd_guard_held_requeue()
  `.execute(db);
}

/** Drops the triggers and their functions. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS reservations_held_not_requeued ON reservations`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_guard_held_requeue()`.execute(db);
  await sql`DROP TRIGGER IF EXISTS reservations_booked_final ON reservations`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_guard_booked()`.execute(db);
}
