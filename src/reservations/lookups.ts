import type { Kysely } from 'kysely';
import { parseStoredResult, type BookingResult } from '../contracts/index.js';
import type { Database, ReservationStatus } from '../db/types.js';
import { RESERVATION_COLUMNS, withNumericIds, type ReservationRow } from './rows.js';

/** The current status of reservation `id`, or null when there is no such row. */
export async function getStatus(db: Kysely<Database>, id: number): Promise<ReservationStatus | null> {
  const row = await db.selectFrom('reservations').select('status').where('id', '=', String(id)).executeTakeFirst();
  return row?.status ?? null;
}

/** Reservation `id` with every column, or null when there is no such row. */
export async function getReservation(db: Kysely<Database>, id: number): Promise<ReservationRow | null> {
  const row = await db.selectFrom('reservations as r').select(RESERVATION_COLUMNS).where('r.id', '=', String(id)).executeTakeFirst();
  return row ? withNumericIds(row) : null;
}

/**
 * The reservations with the given ids (missing ids are skipped), ascending by id: status, `booked_court`,
 * `confirmation_code`, `reason` and the rest (demo and CLI reports).
 */
export async function listReservationOutcomes(db: Kysely<Database>, ids: readonly number[]): Promise<ReservationRow[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('reservations as r')
    .select(RESERVATION_COLUMNS)
    .where('r.id', 'in', ids.map(String))
    .orderBy('r.id')
    .execute();
  return rows.map(withNumericIds);
}

/**
 * The stored result of reservation `id` as a full {@link BookingResult}: `reservations.result` (which keeps no
 * e-mail or phone) with its `user` rebuilt from the reservation's `booking_users` row (`parseStoredResult`).
 * Null when there is no such row or it has no result yet.
 *
 * @throws ContractError (`result.<key>`) when the stored result breaks a BookingResult rule.
 */
export async function getBookingResult(db: Kysely<Database>, id: number): Promise<BookingResult | null> {
  const row = await db
    .selectFrom('reservations as r')
    .innerJoin('booking_users as u', 'u.id', 'r.user_id')
    .select(['r.result', 'u.first_name', 'u.last_name', 'u.email', 'u.phone'])
    .where('r.id', '=', String(id))
    .executeTakeFirst();
  if (!row || row.result === null) return null;
  return parseStoredResult(row.result, { firstName: row.first_name, lastName: row.last_name, email: row.email, phone: row.phone });
}
