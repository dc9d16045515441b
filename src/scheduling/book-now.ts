import type { Kysely } from 'kysely';
import type { BookingExecutor, SiteLookup } from '../booking/session-port.js';
import { createBookingSessions } from '../booking-session/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { buildImmediateRequest, type BookingRequest, type BookingResult } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../telemetry/logger.js';
import { assertBookableAtVenue, type BookableSlot } from './validate-pending.js';

/** What `reservd book-now` asks for. */
export interface ImmediateBookingInput {
  user: { firstName: string; lastName: string; email: string; phone: string };
  venue: string;
  targetDate: string;
  targetTime: string;
  courts: number[];
}

/** A validated immediate booking: the request, and when its slot starts and was released. */
export interface ValidatedImmediateBooking extends BookableSlot {
  request: BookingRequest;
}

/**
 * Validates a `book-now` input exactly as the queue validates a `pending` row: the same builder
 * (`buildImmediateRequest` shares `createBookingRequest`), the same venue checks ({@link assertBookableAtVenue}:
 * courts, slot grid, slot not started at `now`, release before start), the same messages and field names
 * (columns: `target_time`, `booking_users.email`, ...). Pure: no database, no browser, so `reservd book-now`
 * runs it before it opens either.
 *
 * @throws ContractError naming the field, with the same text a queued row would be rejected with.
 */
export function validateImmediateBooking(config: Config, input: ImmediateBookingInput, now: Date): ValidatedImmediateBooking {
  const request = buildImmediateRequest(input, (id) => Object.hasOwn(config.venues, id));
  return { request, ...assertBookableAtVenue(request, config.venues[request.venue]!, now) };
}

/**
 * Books a slot right now through the SAME validation as the queue ({@link validateImmediateBooking}, checked
 * again at the instant of booking: the slot may have started while the caller opened the browser),
 * the same booking session (`src/booking-session/`: lease, heartbeat, guarded intent, the one persistence
 * helper, reconciliation of an unknown outcome) and the same executor as queued bookings. The booking is
 * recorded as a `reservations` row with `source = 'immediate'`, held by `owner` in `booking` and kept alive
 * by the session's heartbeat for as long as the booking takes, so a daemon on the same database never takes
 * it over while it runs.
 *
 * @throws ContractError when the input is invalid (the message names the field, as for a queued row).
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
  siteLookup?: SiteLookup;
}): Promise<{ reservationId: number; result: BookingResult; recorded: boolean }> {
  const { db, config, clock, input } = args;
  const { request, releaseAt, slotAt } = validateImmediateBooking(config, input, new Date(clock.now()));
  const sessions = createBookingSessions({
    db,
    clock,
    logger: args.logger,
    daemonId: args.owner,
    venues: config.venues,
    leaseMs: config.daemon.leaseMs,
    siteBlockedCoolOffMs: config.daemon.siteBlockedCoolOffMs,
    executor: args.executor,
    ...(args.siteLookup ? { siteLookup: args.siteLookup } : {}),
  });
  const session = await sessions.holdImmediate({ request, releaseAt, slotAt });
  args.logger.info({ reservation_id: session.id, venue: request.venue, target_date: request.targetDate, target_time: request.targetTime }, 'immediate booking');
  const { result, recorded } = await session.run({ fireAt: new Date(clock.now()), siteClockOffsetMs: null, signal: args.signal });
  return { reservationId: session.id, result, recorded };
}
