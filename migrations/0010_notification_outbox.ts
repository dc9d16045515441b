import { sql, type Kysely } from 'kysely';

/*
 * Notifications (README "Notifications"): an outbox written in the transaction that gives a reservation its
 * final status, so a crash never loses or repeats a notification.
 * - `notification_sinks`: the sinks this installation sends to (`webhook`, `telegram`), kept in step with the
 *   config by the daemon at start; empty (nothing queued) while `notify` is off.
 * - `notification_outbox`: one row per reservation, final status and sink, inserted by the trigger
 *   `reservations_notify_outbox` whenever a row's status becomes `succeeded`, `failed`, `rejected`, `expired`,
 *   `cancelled` or `needs_attention` — by the daemon or by a hand edit alike. UNIQUE (reservation_id, status,
 *   sink): the same status twice never queues a second message. The dispatcher claims due rows
 *   (`next_attempt_at`), counts `attempts`, records `delivered_at` or `last_error`, and gives up
 *   (`state = 'failed'`) after its attempt limit. Each insert NOTIFYs `reservd_notifications`.
 * - `booking_users.telegram_chat_id`: the Telegram chat a person's messages go to (null: none).
 * Frozen in time: imports only `kysely`.
 */

/** Creates the two tables, the column, the trigger function and its triggers. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE booking_users ADD COLUMN telegram_chat_id text`.execute(db);
  await sql`CREATE TABLE notification_sinks (name text PRIMARY KEY CONSTRAINT notification_sinks_known CHECK (name IN ('webhook', 'telegram')))`.execute(db);
  await sql`
    CREATE TABLE notification_outbox (
      id bigserial PRIMARY KEY,
      reservation_id bigint NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,
      status text NOT NULL,
      sink text NOT NULL,
      state text NOT NULL DEFAULT 'pending' CONSTRAINT notification_outbox_state_known CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
      attempts int NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      delivered_at timestamptz,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT notification_outbox_once UNIQUE (reservation_id, status, sink)
    )
  `.execute(db);
  await sql`CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'pending'`.execute(db);
  await sql`
    CREATE FUNCTION reservd_queue_notification() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status IN ('succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'needs_attention') THEN
        INSERT INTO notification_outbox (reservation_id, status, sink)
          SELECT NEW.id, NEW.status, s.name FROM notification_sinks AS s
          ON CONFLICT ON CONSTRAINT notification_outbox_once DO NOTHING;
        IF FOUND THEN
          PERFORM pg_notify('reservd_notifications', NEW.id::text);
        END IF;
      END IF;
      RETURN NULL;
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_notify_outbox_insert AFTER INSERT ON reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_queue_notification()
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_notify_outbox_update AFTER UPDATE ON reservations
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION reservd_queue_notification()
  `.execute(db);
}

/** Drops the triggers, the function, the tables and the column. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS reservations_notify_outbox_update ON reservations`.execute(db);
  await sql`DROP TRIGGER IF EXISTS reservations_notify_outbox_insert ON reservations`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_queue_notification()`.execute(db);
  await sql`DROP TABLE IF EXISTS notification_outbox`.execute(db);
  await sql`DROP TABLE IF EXISTS notification_sinks`.execute(db);
  await sql`ALTER TABLE booking_users DROP COLUMN IF EXISTS telegram_chat_id`.execute(db);
}
