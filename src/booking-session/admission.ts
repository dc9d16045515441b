import type { Kysely } from 'kysely';
import type { VenueConfig } from '../config/schema.js';
import { ContractError, type BookingRequest } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { duplicateReason, findOverlappingBooking, type ClaimedReservation } from '../reservations/index.js';
import { assertBookableAtVenue } from '../scheduling/validate-pending.js';

/**
 * What a claimed row must satisfy before it becomes a booking session: the checks validation applies to a
 * `pending` row, applied again because a row may have been inserted (or edited) straight as `scheduled` with
 * `release_at`/`slot_at` set by hand. A row that fails is `rejected` with the reason, never booked: its
 * attempt would fail the same way after every lease, for ever.
 */

/** Why a claimed row cannot be booked as it stands: the column at fault and the reason (starting with it). */
export interface AdmissionProblem {
  field: string;
  reason: string;
}

/**
 * The first problem of a claimed row, or null when it may be booked:
 * - `assertBookableAtVenue`, as validation: the venue's courts and slot grid, the slot (read from
 *   `target_date`/`target_time` in the venue's zone) exists and has not started at `now`, the venue's rule
 *   releases it before its start;
 * - `slot_at` is that slot's start (it drives the claim and the expiry);
 * - `release_at` is before `slot_at`;
 * - the person has no active reservation ahead of this one whose slot overlaps it (`duplicates.ts`,
 *   `only: 'ahead'`: a row already `booking`/`succeeded`, or an earlier id; of two rows inserted straight as
 *   `scheduled` the first is booked).
 */
export async function admissionProblem(
  db: Kysely<Database>,
  args: { row: ClaimedReservation; request: BookingRequest; venue: VenueConfig; venues: Readonly<Record<string, VenueConfig>>; now: Date },
): Promise<AdmissionProblem | null> {
  const { row, request, venue, now } = args;
  let slotAt: Date;
  try {
    // The one venue check of validation and `book-now`: courts, slot grid, slot exists and not started, release before it.
    ({ slotAt } = assertBookableAtVenue(request, venue, now));
  } catch (err) {
    if (err instanceof ContractError) return { field: err.field, reason: err.message };
    throw err;
  }
  const slot = `${request.targetDate} ${request.targetTime} (${venue.timeZone})`;
  if (row.slot_at.getTime() !== slotAt.getTime()) {
    return {
      field: 'slot_at',
      reason: `slot_at: ${row.slot_at.toISOString()} is not the start of the slot ${slot}, ${slotAt.toISOString()}; insert the row as pending (release_at and slot_at NULL) and the daemon computes both`,
    };
  }
  if (row.release_at.getTime() >= row.slot_at.getTime()) {
    return { field: 'release_at', reason: `release_at: ${row.release_at.toISOString()} is not before the slot's start at ${row.slot_at.toISOString()}` };
  }
  const slotLengthsS = Object.fromEntries(Object.entries(args.venues).map(([id, v]) => [id, v.slotLengthS]));
  const first = await findOverlappingBooking(db, {
    reservationId: row.id,
    userId: row.user_id,
    email: row.email,
    slotAt,
    slotLengthS: venue.slotLengthS,
    slotLengthsS,
    only: 'ahead',
  });
  return first ? { field: 'duplicate', reason: duplicateReason(first) } : null;
}
