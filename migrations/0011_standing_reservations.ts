import { sql, type Kysely } from 'kysely';

/*
 * Standing reservations: a person's recurring wish (a cron pattern read in the venue's zone, an ordered court
 * list, optionally an end date), which the daemon materialises into ordinary `reservations` rows (status
 * `pending`, validated like any other) before each occurrence's release (`src/standing/`).
 *
 * - `standing_reservations.status`: `active` (materialised), `paused` (no new rows), `removed` (kept for the
 *   link of the rows it created; never materialised again).
 * - `reservations.standing_id` + `reservations.standing_occurrence` (venue-local `YYYY-MM-DDTHH:MM`): the row
 *   an occurrence became. UNIQUE (standing_id, standing_occurrence) makes materialising exactly once per
 *   occurrence across restarts, DST changes and several daemons (`INSERT ... ON CONFLICT DO NOTHING`). Both
 *   columns are set together or not at all, and never change after the insert (a cleared link would let the
 *   occurrence be created a second time).
 * Frozen in time: imports only `kysely`.
 */

/** Creates `standing_reservations`, the link columns on `reservations` and their guard. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE standing_reservations (
      id bigserial PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES booking_users (id),
      venue text NOT NULL,
      courts int[] NOT NULL
        CONSTRAINT standing_reservations_courts_nonempty CHECK (cardinality(courts) >= 1)
        CONSTRAINT standing_reservations_courts_one_dimensional CHECK (array_ndims(courts) = 1)
        CONSTRAINT standing_reservations_courts_no_nulls CHECK (CASE WHEN array_ndims(courts) = 1 THEN array_position(courts, NULL) IS NULL ELSE true END),
      cron text NOT NULL CONSTRAINT standing_reservations_cron_nonempty CHECK (btrim(cron) <> ''),
      status text NOT NULL DEFAULT 'active' CONSTRAINT standing_reservations_status_known CHECK (status IN ('active', 'paused', 'removed')),
      until_date date,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `.execute(db);
  await sql`CREATE INDEX standing_reservations_active ON standing_reservations (venue) WHERE status = 'active'`.execute(db);
  await sql`
    CREATE TRIGGER standing_reservations_touch_updated_at BEFORE UPDATE ON standing_reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_touch_updated_at()
  `.execute(db);

  await sql`
    ALTER TABLE reservations
      ADD COLUMN standing_id bigint REFERENCES standing_reservations (id),
      ADD COLUMN standing_occurrence text
        CONSTRAINT reservations_standing_occurrence_local CHECK (standing_occurrence ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}$'),
      ADD CONSTRAINT reservations_standing_link_whole CHECK ((standing_id IS NULL) = (standing_occurrence IS NULL)),
      ADD CONSTRAINT reservations_standing_once UNIQUE (standing_id, standing_occurrence)
  `.execute(db);
  await sql`
    CREATE FUNCTION reservd_standing_link_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.standing_id IS DISTINCT FROM OLD.standing_id OR NEW.standing_occurrence IS DISTINCT FROM OLD.standing_occurrence THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', CONSTRAINT = 'reservations_standing_link_fixed',
          MESSAGE = format('standing_id: reservation %s was created for standing reservation %s (occurrence %s); that link cannot change',
            OLD.id, coalesce(OLD.standing_id::text, 'none'), coalesce(OLD.standing_occurrence, 'none'));
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_standing_link_fixed BEFORE UPDATE OF standing_id, standing_occurrence ON reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_standing_link_fixed()
  `.execute(db);
}

/** Drops everything {@link up} created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS reservations_standing_link_fixed ON reservations`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_standing_link_fixed()`.execute(db);
  await sql`
    ALTER TABLE reservations
      DROP CONSTRAINT IF EXISTS reservations_standing_once,
      DROP CONSTRAINT IF EXISTS reservations_standing_link_whole,
      DROP COLUMN IF EXISTS standing_occurrence,
      DROP COLUMN IF EXISTS standing_id
  `.execute(db);
  await sql`DROP TABLE IF EXISTS standing_reservations`.execute(db);
}
