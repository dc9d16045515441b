import { sql, type Kysely } from 'kysely';

/*
 * Row guards: no row, edit or second daemon can wedge a reservation or book a person twice.
 *
 * - `reservations_courts_one_dimensional`: `courts` is a flat list. `{{1,2}}` passed `cardinality >= 1` and
 *   was refused only by accident: `reservations_courts_no_nulls`'s `array_position` raises "searching for
 *   elements in multidimensional arrays is not supported" (SQLSTATE 0A000), which names no constraint and no
 *   column. `reservations_courts_no_nulls` is redefined to look for NULLs only in a flat list.
 * - `reservations_lease_bounded`: a held row's lease ends at most 1 hour after the row's `updated_at` (every
 *   daemon write of a lease stamps `updated_at` with the same clock; `daemon.leaseMs` is at most 1 hour). A row
 *   inserted or edited by hand as `claimed`/`booking` under a made-up owner with a far-future lease is refused:
 *   it would otherwise be held forever. The audit trigger `reservd_touch_updated_at` now never moves
 *   `updated_at` back: a write that leaves it unchanged gets `greatest(now(), its old value)` (a daemon on a
 *   clock ahead of the server's, or a test clock, keeps its own time, and its lease stays within the bound).
 * - `reservations_guard_edit` (BEFORE UPDATE): the slot, venue, courts or person of a held row cannot be
 *   edited (cancel it and insert a new row); editing them on a `scheduled` row puts it back to `pending` (its
 *   stale `release_at`/`slot_at` cleared) so it is validated again. `reservations_notify_status` now fires on
 *   that status change too (a change made by a BEFORE trigger does not count for `UPDATE OF status`).
 * - `booking_users_guard_edit` (BEFORE UPDATE): a person's contact columns cannot change while one of their
 *   reservations is held (the booking in flight submits the old ones).
 * - One booking per person at a time, exact slot: `reservations_one_booking_per_user_slot`, a partial UNIQUE
 *   index on (user_id, slot_at) over the active statuses, with a BEFORE INSERT/UPDATE trigger that refuses the
 *   same duplicate with a sentence naming the first row (pg's own unique-violation text names no row).
 *   Overlapping slots of different lengths and the same e-mail on two `booking_users` rows are checked by the
 *   daemon under an advisory lock on the e-mail (slot lengths live in the config, not in the schema; an
 *   exclusion constraint would need a stored slot end and would still not see the e-mail).
 *
 * Rows that already break a new rule are settled first, so the migration never fails on old data: a
 * multi-dimensional `courts` (none can have been inserted, see above: a safety net) is flattened (a
 * `pending`/`scheduled` one is rejected, naming `courts`), a lease
 * beyond the bound is cut to it (so it runs out and is taken over), and of the active rows of one person and
 * slot the first is kept: later `scheduled` ones are rejected, later `succeeded` ones need attention.
 * Frozen in time: imports only `kysely`.
 */

const ACTIVE = `'scheduled','claimed','booking','succeeded'`;

/** Settles old rows that break the new rules, then adds the constraints, index and triggers. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await touchUpdatedAt(db, 'greatest(now(), OLD.updated_at)');
  await settleOldRows(db);
  await sql`
    ALTER TABLE reservations
      DROP CONSTRAINT reservations_courts_no_nulls,
      ADD CONSTRAINT reservations_courts_no_nulls
        CHECK (CASE WHEN array_ndims(courts) = 1 THEN array_position(courts, NULL) IS NULL ELSE true END),
      ADD CONSTRAINT reservations_courts_one_dimensional CHECK (array_ndims(courts) = 1),
      ADD CONSTRAINT reservations_lease_bounded
        CHECK (status NOT IN ('claimed', 'booking') OR lease_expires_at <= updated_at + interval '1 hour')
  `.execute(db);
  await sql`
    CREATE UNIQUE INDEX reservations_one_booking_per_user_slot ON reservations (user_id, slot_at)
      WHERE status IN (${sql.raw(ACTIVE)})
  `.execute(db);
  await createEditGuard(db);
  await createOneBookingGuard(db);
  await createUserGuard(db);
  // The notify fires on any status change to pending/cancelled, including the edit guard's `scheduled → pending`.
  await sql`DROP TRIGGER reservations_notify_status ON reservations`.execute(db);
  await sql`
    CREATE TRIGGER reservations_notify_status AFTER UPDATE ON reservations
      FOR EACH ROW WHEN (NEW.status IN ('pending', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
      EXECUTE FUNCTION reservd_notify_reservation()
  `.execute(db);
}

/** (Re)defines the audit trigger's function: an UPDATE that leaves `updated_at` unchanged gets `value`. */
async function touchUpdatedAt(db: Kysely<unknown>, value: string): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION reservd_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Hand-written UPDATEs (a person cancelling in psql) get an audit time; the daemon sets its own.
      IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := ${sql.raw(value)};
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
}

async function settleOldRows(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE reservations SET
      status = CASE WHEN status IN ('pending', 'scheduled') THEN 'rejected' ELSE status END,
      reason = CASE WHEN status IN ('pending', 'scheduled')
        THEN 'courts: ' || courts::text || ' is not a one-dimensional list of court numbers' ELSE reason END,
      finished_at = CASE WHEN status IN ('pending', 'scheduled') THEN now() ELSE finished_at END,
      courts = ARRAY(SELECT unnest(courts))
    WHERE array_ndims(courts) > 1
  `.execute(db);
  await sql`
    UPDATE reservations SET lease_expires_at = updated_at + interval '1 hour'
    WHERE status IN ('claimed', 'booking') AND lease_expires_at > updated_at + interval '1 hour'
  `.execute(db);
  await sql`
    WITH ranked AS (
      SELECT id, first_value(id) OVER w AS first_id,
             row_number() OVER w AS n
      FROM reservations WHERE status IN (${sql.raw(ACTIVE)}) AND slot_at IS NOT NULL
      WINDOW w AS (PARTITION BY user_id, slot_at
                   ORDER BY (status IN ('claimed', 'booking', 'succeeded')) DESC, id)
    )
    UPDATE reservations r SET
      status = CASE WHEN r.status IN ('scheduled', 'claimed') THEN 'rejected' ELSE 'needs_attention' END,
      reason = 'duplicate: reservation ' || ranked.first_id || ' already books this person (booking_users.id) for this slot; '
        || CASE WHEN r.status = 'succeeded' THEN 'both are booked on the site: cancel one there'
                WHEN r.status = 'booking' THEN 'it was being booked too: check the site for its booking' ELSE 'one booking per person at a time' END,
      lease_owner = NULL, lease_expires_at = NULL, finished_at = coalesce(r.finished_at, now())
    FROM ranked WHERE r.id = ranked.id AND ranked.n > 1
  `.execute(db);
}

async function createEditGuard(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION reservd_guard_reservation_edit() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      changed text;
    BEGIN
      changed := CASE
        WHEN NEW.user_id IS DISTINCT FROM OLD.user_id THEN 'user_id'
        WHEN NEW.venue IS DISTINCT FROM OLD.venue THEN 'venue'
        WHEN NEW.target_date IS DISTINCT FROM OLD.target_date THEN 'target_date'
        WHEN NEW.target_time IS DISTINCT FROM OLD.target_time THEN 'target_time'
        WHEN NEW.courts IS DISTINCT FROM OLD.courts THEN 'courts'
      END;
      IF changed IS NULL THEN
        RETURN NEW;
      END IF;
      IF OLD.status IN ('claimed', 'booking') THEN
        RAISE EXCEPTION USING
          ERRCODE = 'check_violation',
          CONSTRAINT = 'reservations_held_not_editable',
          TABLE = 'reservations',
          COLUMN = changed,
          MESSAGE = format('%s: reservation %s is being booked (status %s) and cannot be edited; cancel it instead (UPDATE reservations SET status = ''cancelled'' WHERE id = %s), then insert a new row',
                           changed, OLD.id, OLD.status, OLD.id);
      END IF;
      IF OLD.status = 'scheduled' AND NEW.status = 'scheduled' THEN
        -- Its release instant was computed for the old slot: validate the row again.
        NEW.status := 'pending';
        NEW.release_at := NULL;
        NEW.slot_at := NULL;
        NEW.reason := NULL;
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_guard_edit BEFORE UPDATE ON reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_guard_reservation_edit()
  `.execute(db);
}

async function createOneBookingGuard(db: Kysely<unknown>): Promise<void> {
  // Named to run after `reservations_guard_edit` (triggers of one event fire in name order).
  await sql`
    CREATE FUNCTION reservd_guard_one_booking() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      first_id bigint;
    BEGIN
      IF NEW.status NOT IN (${sql.raw(ACTIVE)}) OR NEW.slot_at IS NULL THEN
        RETURN NEW;
      END IF;
      SELECT id INTO first_id FROM reservations
        WHERE user_id = NEW.user_id AND slot_at = NEW.slot_at AND id <> NEW.id AND status IN (${sql.raw(ACTIVE)})
        ORDER BY id LIMIT 1;
      IF first_id IS NOT NULL THEN
        RAISE EXCEPTION USING
          ERRCODE = 'unique_violation',
          CONSTRAINT = 'reservations_one_booking_per_user_slot',
          TABLE = 'reservations',
          COLUMN = 'slot_at',
          MESSAGE = format('duplicate: reservation %s already books this person (booking_users.id %s) for the slot starting %s; one booking per person at a time',
                           first_id, NEW.user_id, to_char(NEW.slot_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER reservations_guard_one_booking BEFORE INSERT OR UPDATE ON reservations
      FOR EACH ROW EXECUTE FUNCTION reservd_guard_one_booking()
  `.execute(db);
}

async function createUserGuard(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION reservd_guard_user_edit() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      changed text;
      held record;
    BEGIN
      changed := CASE
        WHEN NEW.first_name IS DISTINCT FROM OLD.first_name THEN 'first_name'
        WHEN NEW.last_name IS DISTINCT FROM OLD.last_name THEN 'last_name'
        WHEN NEW.email IS DISTINCT FROM OLD.email THEN 'email'
        WHEN NEW.phone IS DISTINCT FROM OLD.phone THEN 'phone'
      END;
      IF changed IS NULL THEN
        RETURN NEW;
      END IF;
      SELECT id, status INTO held FROM reservations
        WHERE user_id = OLD.id AND status IN ('claimed', 'booking') ORDER BY id LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION USING
          ERRCODE = 'check_violation',
          CONSTRAINT = 'booking_users_held_not_editable',
          TABLE = 'booking_users',
          COLUMN = changed,
          MESSAGE = format('booking_users.%s: reservation %s of this person is being booked (status %s) with the current details; edit them once it has ended, or cancel it first (UPDATE reservations SET status = ''cancelled'' WHERE id = %s)',
                           changed, held.id, held.status, held.id);
      END IF;
      RETURN NEW;
    END $$
  `.execute(db);
  await sql`
    CREATE TRIGGER booking_users_guard_edit BEFORE UPDATE ON booking_users
      FOR EACH ROW EXECUTE FUNCTION reservd_guard_user_edit()
  `.execute(db);
}

/** Drops what {@link up} added (the rows it settled stay settled). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS reservations_notify_status ON reservations`.execute(db);
  await sql`
    CREATE TRIGGER reservations_notify_status AFTER UPDATE OF status ON reservations
      FOR EACH ROW WHEN (NEW.status IN ('pending', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
      EXECUTE FUNCTION reservd_notify_reservation()
  `.execute(db);
  await sql`DROP TRIGGER IF EXISTS booking_users_guard_edit ON booking_users`.execute(db);
  await sql`DROP TRIGGER IF EXISTS reservations_guard_one_booking ON reservations`.execute(db);
  await sql`DROP TRIGGER IF EXISTS reservations_guard_edit ON reservations`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_guard_user_edit()`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_guard_one_booking()`.execute(db);
  await sql`DROP FUNCTION IF EXISTS reservd_guard_reservation_edit()`.execute(db);
  await sql`DROP INDEX IF EXISTS reservations_one_booking_per_user_slot`.execute(db);
  await sql`ALTER TABLE reservations DROP CONSTRAINT IF EXISTS reservations_lease_bounded`.execute(db);
  await sql`ALTER TABLE reservations DROP CONSTRAINT IF EXISTS reservations_courts_one_dimensional`.execute(db);
  await sql`
    ALTER TABLE reservations
      DROP CONSTRAINT reservations_courts_no_nulls,
      ADD CONSTRAINT reservations_courts_no_nulls CHECK (array_position(courts, NULL) IS NULL)
  `.execute(db);
  await touchUpdatedAt(db, 'now()');
}
