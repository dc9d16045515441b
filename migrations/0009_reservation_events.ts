import { sql, type Kysely } from 'kysely';

/*
 * `reservation_events`: every status a reservation took, written by a trigger in the transaction that changed
 * it, so the daemon's guarded updates and hand edits in psql alike leave their history (`reservd show <id>`).
 * One row per INSERT and per UPDATE that changes `status`: the previous and new status, the row's `reason`
 * after the change (why it was rejected, failed, expired or needs attention), and the actor: the session's
 * `reservd.actor` setting when set (e.g. `SET LOCAL reservd.actor = 'cli'`), else the row's lease owner
 * (the daemon holding it), else NULL (a hand edit). `at` is the row's new `updated_at` when the change set
 * it (the daemon writes its own clock), else the transaction's `now()`.
 * Frozen in time: imports only `kysely`.
 */

/** Creates the table, its index, the function `reservd_record_status_event` and its two AFTER triggers. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE reservation_events (
      id bigserial PRIMARY KEY,
      reservation_id bigint NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,
      at timestamptz NOT NULL DEFAULT now(),
      from_status text,
      to_status text NOT NULL,
      reason text,
      actor text
    )
  `.execute(db);
  await sql`CREATE INDEX reservation_events_by_reservation ON reservation_events (reservation_id, id)`.execute(db);
  await sql`
    CREATE FUNCTION reservd_record_status_event() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      old_status text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
      at_instant timestamptz := CASE
        WHEN TG_OP = 'INSERT' OR NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN NEW.updated_at
        ELSE now() END;
      actor_name text := nullif(current_setting('reservd.actor', true), '');
    BEGIN
      IF actor_name IS NULL THEN
        actor_name := coalesce(NEW.lease_owner, CASE WHEN TG_OP = 'UPDATE' THEN OLD.lease_owner END);
      END IF;
      INSERT INTO reservation_events (reservation_id, at, from_status, to_status, reason, actor)
        VALUES (NEW.id, at_instant, old_status, NEW.status, NEW.reason, actor_name);
      RETURN NULL;
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_status_event_insert AFTER INSERT ON reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_record_status_event()
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_status_event_update AFTER UPDATE ON reservations
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION reservd_record_status_event()
  `.execute(db);
}

/** Drops the triggers, the function and the table. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS reservations_status_event_update ON reservations`.execute(db);
  await sql`DROP TRIGGER IF EXISTS reservations_status_event_insert ON reservations`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_record_status_event()`.execute(db);
  await sql`DROP TABLE IF EXISTS reservation_events`.execute(db);
}
