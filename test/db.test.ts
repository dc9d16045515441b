import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../src/db/create-database.js';
import { migrateAllDown, migrateToLatest } from '../src/db/migrate.js';
import { getReservation, insertReservation, insertUser } from '../src/reservations/index.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';

let t: TestDatabase;
let handle: DatabaseHandle;

beforeAll(async () => {
  t = await createTestDatabase();
  handle = await openDatabase({ url: t.url, embeddedDataDir: 'unused', embeddedPort: 54329, poolMax: 2 }, silentDbLogger);
});
afterAll(async () => {
  await handle?.close();
  await t?.drop();
});
beforeEach(() => t.truncate());

/** Collects notifications and hands them out in arrival order (waits on the event, never a fixed sleep). */
function createInbox() {
  const payloads: string[] = [];
  let waiter: (() => void) | null = null;
  return {
    push(payload: string) {
      payloads.push(payload);
      waiter?.();
    },
    async next(timeoutMs = 5_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (payloads.length === 0) {
        if (Date.now() > deadline) throw new Error('no notification arrived');
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 100);
        });
        waiter = null;
      }
      return payloads.shift()!;
    },
  };
}

async function newUser(): Promise<number> {
  return insertUser(t.db, { firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' });
}

function insertRaw(courts: string, overrides: { status?: string; time?: string } = {}) {
  return sql`
    INSERT INTO reservations (user_id, venue, target_date, target_time, courts, status)
    VALUES (1, 'la-villa', '2026-12-03', ${overrides.time ?? '07:00'}, ${courts}::int[], ${overrides.status ?? 'pending'})
  `.execute(t.db);
}

describe('migrations', () => {
  it('go up, down and up again', async () => {
    const tables = async () =>
      (await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely%' ORDER BY 1`.execute(t.db)).rows.map((r) => r.tablename);
    expect(await tables()).toEqual(['booking_attempts', 'booking_users', 'daemons', 'notification_outbox', 'notification_sinks', 'reservation_events', 'reservations', 'site_blocks', 'standing_reservations']);
    expect(await migrateAllDown(t.db, silentDbLogger)).toEqual(['0011_standing_reservations', '0010_notification_outbox', '0009_reservation_events', '0008_slot_end', '0007_booked_rows_final', '0006_result_without_contact', '0005_daemons', '0004_row_guards', '0003_site_outcomes', '0002_unknown_outcome', '0001_initial']);
    expect(await tables()).toEqual([]);
    expect(await migrateToLatest(t.db, silentDbLogger)).toEqual(['0001_initial', '0002_unknown_outcome', '0003_site_outcomes', '0004_row_guards', '0005_daemons', '0006_result_without_contact', '0007_booked_rows_final', '0008_slot_end', '0009_reservation_events', '0010_notification_outbox', '0011_standing_reservations']);
    expect(await tables()).toEqual(['booking_attempts', 'booking_users', 'daemons', 'notification_outbox', 'notification_sinks', 'reservation_events', 'reservations', 'site_blocks', 'standing_reservations']);
    expect(await migrateToLatest(t.db, silentDbLogger)).toEqual([]);
  });
});

describe('instants and dates (C08, C09)', () => {
  it.each(['UTC', 'America/New_York', 'Asia/Kolkata'])('release_at round-trips exactly with process TZ %s', async (zone) => {
    const saved = process.env.TZ;
    process.env.TZ = zone;
    try {
      const offsetMin = new Date('2027-07-13T12:00:00Z').getTimezoneOffset();
      expect(offsetMin).toBe({ UTC: 0, 'America/New_York': 240, 'Asia/Kolkata': -330 }[zone]);
      const userId = await newUser();
      const id = await insertReservation(t.db, {
        userId,
        venue: 'la-villa',
        targetDate: '2027-07-15',
        targetTime: '07:00',
        courts: [1],
        status: 'scheduled',
        releaseAt: new Date('2027-07-13T12:00:00Z'),
        slotAt: new Date('2027-07-15T13:00:00Z'),
      });
      const row = await getReservation(t.db, id);
      expect(row?.release_at?.toISOString()).toBe('2027-07-13T12:00:00.000Z');
      expect(row?.target_date).toBe('2027-07-15');
      const text = await sql<{ iso: string }>`SELECT to_char(release_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS iso FROM reservations WHERE id = ${id}`.execute(t.db);
      expect(text.rows[0]?.iso).toBe('2027-07-13T12:00:00');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('stores every instant column as timestamp with time zone', async () => {
    const columns = await sql<{ table_name: string; column_name: string; data_type: string }>`
      SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name IN ('booking_users', 'reservations', 'booking_attempts')
        AND (column_name LIKE '%\_at' OR data_type LIKE 'timestamp%')
    `.execute(t.db);
    const names = columns.rows.map((c) => `${c.table_name}.${c.column_name}`).sort();
    expect(names).toEqual([
      'booking_attempts.finished_at',
      'booking_attempts.started_at',
      'booking_attempts.submitted_at',
      'booking_users.created_at',
      'booking_users.updated_at',
      'reservations.created_at',
      'reservations.finished_at',
      'reservations.lease_expires_at',
      'reservations.release_at',
      'reservations.slot_at',
      'reservations.slot_end_at',
      'reservations.updated_at',
    ]);
    for (const column of columns.rows) {
      expect(`${column.table_name}.${column.column_name}: ${column.data_type}`).toBe(`${column.table_name}.${column.column_name}: timestamp with time zone`);
    }
  });
});

describe('plain SQL', () => {
  it('accepts the minimal insert and NOTIFYs on insert, pending and cancelled', async () => {
    const inbox = createInbox();
    const listener = await handle.listen('reservd_reservations', (payload) => inbox.push(payload));
    try {
      await newUser();
      await sql`INSERT INTO reservations (user_id, venue, target_date, target_time, courts) VALUES (1, 'la-villa', '2026-12-03', '07:00', '{2,1}')`.execute(t.db);
      expect(await inbox.next()).toBe('1');
      const row = await getReservation(t.db, 1);
      expect(row).toMatchObject({ status: 'pending', source: 'queue', courts: [2, 1], target_date: '2026-12-03', attempt_count: 0 });
      await insertRaw('{3}');
      expect(await inbox.next()).toBe('2');
      // A change to any other status does not notify; `cancelled` and back to `pending` do.
      await sql`UPDATE reservations SET status = 'rejected' WHERE id = 1`.execute(t.db);
      await sql`UPDATE reservations SET status = 'cancelled' WHERE id = 2`.execute(t.db);
      expect(await inbox.next()).toBe('2');
      await sql`UPDATE reservations SET status = 'pending' WHERE id = 1`.execute(t.db);
      expect(await inbox.next()).toBe('1');
    } finally {
      await listener.close();
      await listener.close();
    }
  });

  it('LISTEN reconnects after its connection is killed and asks for a rescan', async () => {
    const inbox = createInbox();
    const listener = await handle.listen('reservd_reservations', (payload) => inbox.push(payload));
    try {
      const killed = await sql<{ ok: boolean }>`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%'
      `.execute(t.db);
      expect(killed.rows).toEqual([{ ok: true }]);
      expect(await inbox.next()).toBe('');
      await newUser();
      await insertRaw('{1}');
      expect(await inbox.next()).toBe('1');
    } finally {
      await listener.close();
    }
  });

  it.each([
    ['{}', {}, 'reservations_courts_nonempty'],
    ['{1,NULL}', {}, 'reservations_courts_no_nulls'],
    ['{1}', { status: 'done' }, 'reservations_status_known'],
    ['{1}', { time: '7:00' }, 'reservations_target_time_hhmm'],
    ['{1}', { status: 'scheduled' }, 'reservations_scheduled_has_instants'],
  ])('refuses courts %s %o (%s)', async (courts, overrides, constraint) => {
    await newUser();
    await expect(insertRaw(courts, overrides)).rejects.toThrow(constraint);
  });

  it('leaves value checks such as 25:00 to the daemon', async () => {
    await newUser();
    await insertRaw('{1}', { time: '25:00' });
    expect((await getReservation(t.db, 1))?.target_time).toBe('25:00');
  });
});
