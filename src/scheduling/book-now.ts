import type { Kysely } from 'kysely';
import type { BookingExecutor, SiteLookup } from '../booking/session-port.js';
import { createBookingSessions } from '../booking-session/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { buildImmediateRequest, type BookingResult } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import type { Logger } from '../telemetry/logger.js';
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
 * the same booking session (`src/booking-session/`: lease, heartbeat, guarded intent, the one persistence
 * helper, reconciliation of an unknown outcome) and the same executor as queued bookings. The booking is
 * recorded as a `reservations` row with `source = 'immediate'`, held by `owner` in `booking` and kept alive
 * by the session's heartbeat for as long as the booking takes, so a daemon on the same database never takes
 * it over while it runs.
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
  siteLookup?: SiteLookup;
}): Promise<{ reservationId: number; result: BookingResult; recorded: boolean }> {
  const { db, config, clock, input } = args;
  const request = buildImmediateRequest(input, (id) => Object.hasOwn(config.venues, id));
  const venue = config.venues[request.venue]!;
  const slotAt = slotStartAt(request.targetDate, request.targetTime, venue.timeZone);
  assertBookableAtVenue(request, venue, { courts: 'courts', targetTime: 'targetTime' });
  const releaseAt = computeReleaseAt(venue.releaseRule, request.targetDate, request.targetTime, venue.timeZone);
  const sessions = createBookingSessions({
    db,
    clock,
    logger: args.logger,
    daemonId: args.owner,
    venues: config.venues,
    leaseMs: config.daemon.leaseMs,
    executor: args.executor,
    ...(args.siteLookup ? { siteLookup: args.siteLookup } : {}),
  });
  const session = await sessions.holdImmediate({ request, releaseAt, slotAt });
  args.logger.info({ reservation_id: session.id, venue: request.venue, target_date: request.targetDate, target_time: request.targetTime }, 'immediate booking');
  const { result, recorded } = await session.run({ fireAt: new Date(clock.now()), siteClockOffsetMs: null, signal: args.signal });
  return { reservationId: session.id, result, recorded };
}
