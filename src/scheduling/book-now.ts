import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { buildImmediateRequest, withReservationId, type BookingResult } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { createImmediateReservation } from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import { runBookingJob, type BookingExecutor } from './booking-job.js';
import { computeReleaseAt, slotStartAt } from './release-time.js';
import { assertBookableAtVenue } from './validate-pending.js';

/** What `reservd book-now` asks for. */
export interface ImmediateBookingInput {
  user: { firstName: string; lastName: string; email: string; phone: string };
  venue: string;
  targetDate: string;
  targetTime: string;
  courts: number[];
}

/**
 * Books a slot right now through the SAME builder (`buildImmediateRequest` shares the queue's validation),
 * the same executor and the same persistence helper as queued bookings (DESIGN.md). The booking is
 * recorded as a `reservations` row with `source = 'immediate'`, held by `owner` in `booking`.
 *
 * @throws ContractError / SlotTimeError when the input is invalid (the message names the field).
 */
export async function bookNow(args: {
  db: Kysely<Database>;
  config: Config;
  clock: Clock;
  logger: Logger;
  executor: BookingExecutor;
  owner: string;
  input: ImmediateBookingInput;
  signal: AbortSignal;
}): Promise<{ reservationId: number; result: BookingResult; recorded: boolean }> {
  const { db, config, clock, input } = args;
  const draft = buildImmediateRequest(input, (id) => Object.hasOwn(config.venues, id));
  const venue = config.venues[draft.venue]!;
  const slotAt = slotStartAt(draft.targetDate, draft.targetTime, venue.timeZone);
  assertBookableAtVenue(draft, venue, { courts: 'courts', targetTime: 'targetTime' });
  const releaseAt = computeReleaseAt(venue.releaseRule, draft.targetDate, draft.targetTime, venue.timeZone);
  const now = new Date(clock.now());
  const reservationId = await createImmediateReservation(db, {
    user: draft.user,
    venue: draft.venue,
    targetDate: draft.targetDate,
    targetTime: draft.targetTime,
    courts: draft.courtPreference.asList(),
    releaseAt,
    slotAt,
    owner: args.owner,
    now,
    leaseMs: config.daemon.leaseMs,
  });
  const request = withReservationId(draft, reservationId);
  args.logger.info({ reservation_id: reservationId, venue: draft.venue, target_date: draft.targetDate, target_time: draft.targetTime }, 'immediate booking');
  const { result, recorded } = await runBookingJob({
    db,
    clock,
    logger: args.logger,
    executor: args.executor,
    owner: args.owner,
    reservationId,
    request,
    venue,
    fireAt: now,
    releaseAt,
    signal: args.signal,
  });
  return { reservationId, result, recorded };
}
