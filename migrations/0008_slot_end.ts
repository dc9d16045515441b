import { sql, type Kysely } from 'kysely';

/*
 * `reservations.slot_end_at`: when the slot ends (its start + the venue's slot length), written with `slot_at`
 * by whoever schedules the row. One booking per person at a time compares slots across venues, and a daemon
 * knows the slot lengths of its own venues only: a row of another daemon's venue carries its end. A trigger
 * clears the end whenever the start is cleared or changed without it (an edit sends a scheduled row back to
 * pending). Rows scheduled before this migration have none (their venue's length is used, when known).
 * Frozen in time: imports only `kysely`.
 */

/** Adds the column, its CHECK and the trigger `reservations_slot_end_follows`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE reservations ADD COLUMN slot_end_at timestamptz`.execute(db);
  await sql`
    ALTER TABLE reservations ADD CONSTRAINT reservations_slot_end_after_start
      CHECK (slot_end_at IS NULL OR (slot_at IS NOT NULL AND slot_end_at > slot_at))
  `.execute(db);
  await sql`
    CREATE FUNCTION reservd_slot_end_follows() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.slot_at IS NULL THEN
        NEW.slot_end_at := NULL;
      ELSIF TG_OP = 'UPDATE' AND NEW.slot_at IS DISTINCT FROM OLD.slot_at AND NEW.slot_end_at IS NOT DISTINCT FROM OLD.slot_end_at THEN
        NEW.slot_end_at := NULL;
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
  // Named to fire after `reservations_guard_edit` (0004), which may clear `slot_at` (triggers fire in name order).
  await sql`
    CREATE TRIGGER reservations_slot_end_follows BEFORE INSERT OR UPDATE ON reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_slot_end_follows()
  `.execute(db);
}

/** Drops the trigger, its function and the column. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS reservations_slot_end_follows ON reservations`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_slot_end_follows()`.execute(db);
  await sql`ALTER TABLE reservations DROP COLUMN IF EXISTS slot_end_at`.execute(db);
}
