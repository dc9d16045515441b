import { sql, type Kysely } from 'kysely';

/*
 * Initial schema: booking_users, reservations, booking_attempts (life cycle in docs/architecture.md).
 * Frozen in time: imports only `kysely`, never `src/`. Every instant is `timestamptz` (case C09).
 */

const STATUSES = `'pending','scheduled','claimed','booking','succeeded','failed','rejected','expired','cancelled','needs_attention'`;
const OUTCOMES = `'booked','slot_taken','not_open_yet','site_blocked','site_changed','timeout','interrupted','invalid_request','error'`;

/** Creates the three tables, their indexes and triggers. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION reservd_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Hand-written UPDATEs (a person cancelling in psql) get an audit time; the daemon sets its own.
      IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);

  await sql`
    CREATE TABLE booking_users (
      id bigserial PRIMARY KEY,
      first_name text NOT NULL,
      last_name text NOT NULL,
      email text NOT NULL,
      phone text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )
  `.execute(db);
  await sql`CREATE INDEX booking_users_email ON booking_users (email)`.execute(db);

  await sql`
    CREATE TABLE reservations (
      id bigserial PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES booking_users (id),
      venue text NOT NULL,
      target_date date NOT NULL,
      target_time text NOT NULL CONSTRAINT reservations_target_time_hhmm CHECK (target_time ~ '^[0-9]{2}:[0-9]{2}$'),
      courts int[] NOT NULL
        CONSTRAINT reservations_courts_nonempty CHECK (cardinality(courts) >= 1)
        CONSTRAINT reservations_courts_no_nulls CHECK (array_position(courts, NULL) IS NULL),
      status text NOT NULL DEFAULT 'pending' CONSTRAINT reservations_status_known CHECK (status IN (${sql.raw(STATUSES)})),
      source text NOT NULL DEFAULT 'queue' CONSTRAINT reservations_source_known CHECK (source IN ('queue', 'immediate')),
      idempotency_key text UNIQUE,
      release_at timestamptz,
      slot_at timestamptz,
      reason text,
      lease_owner text,
      lease_expires_at timestamptz,
      attempt_count int NOT NULL DEFAULT 0,
      booked_court int,
      confirmation_code text,
      result jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      CONSTRAINT reservations_scheduled_has_instants
        CHECK (status NOT IN ('scheduled', 'claimed', 'booking') OR (release_at IS NOT NULL AND slot_at IS NOT NULL)),
      CONSTRAINT reservations_held_has_lease
        CHECK (status NOT IN ('claimed', 'booking') OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
    )
  `.execute(db);
  // "What is due next" and "what can be claimed" stay cheap however many finished rows pile up.
  await sql`CREATE INDEX reservations_due ON reservations (release_at) WHERE status IN ('scheduled', 'claimed')`.execute(db);
  await sql`CREATE INDEX reservations_pending ON reservations (id) WHERE status = 'pending'`.execute(db);
  await sql`CREATE INDEX reservations_leases ON reservations (lease_expires_at) WHERE status IN ('claimed', 'booking')`.execute(db);
  await sql`CREATE INDEX reservations_user_id ON reservations (user_id)`.execute(db);

  await sql`
    CREATE FUNCTION reservd_notify_reservation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('reservd_reservations', NEW.id::text);
      RETURN NULL;
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_notify_insert AFTER INSERT ON reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_notify_reservation()
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_notify_status AFTER UPDATE OF status ON reservations
      FOR EACH ROW WHEN (NEW.status IN ('pending', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
      EXECUTE FUNCTION reservd_notify_reservation()
  `.execute(db);

  await sql`
    CREATE TABLE booking_attempts (
      id bigserial PRIMARY KEY,
      reservation_id bigint NOT NULL REFERENCES reservations (id),
      attempt int NOT NULL CONSTRAINT booking_attempts_attempt_positive CHECK (attempt >= 1),
      court int NOT NULL,
      daemon_id text NOT NULL,
      browser_id text,
      flow text NOT NULL,
      started_at timestamptz NOT NULL,
      submitted_at timestamptz,
      finished_at timestamptz,
      outcome text CONSTRAINT booking_attempts_outcome_known CHECK (outcome IN (${sql.raw(OUTCOMES)})),
      confirmation_code text,
      error text,
      metadata jsonb NOT NULL DEFAULT '{}',
      CONSTRAINT booking_attempts_reservation_attempt UNIQUE (reservation_id, attempt)
    )
  `.execute(db);
  await sql`CREATE INDEX booking_attempts_reservation_id ON booking_attempts (reservation_id)`.execute(db);

  for (const table of ['booking_users', 'reservations']) {
    await sql`
      CREATE TRIGGER ${sql.id(`${table}_touch_updated_at`)} BEFORE UPDATE ON ${sql.table(table)}
        FOR EACH ROW EXECUTE FUNCTION reservd_touch_updated_at()
    `.execute(db);
  }
}

/** Drops everything {@link up} created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS booking_attempts`.execute(db);
  await sql`DROP TABLE IF EXISTS reservations`.execute(db);
  await sql`DROP TABLE IF EXISTS booking_users`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_notify_reservation()`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_touch_updated_at()`.execute(db);
}
