import type { Kysely } from 'kysely';
import type { Config, VenueConfig } from '../config/schema.js';
import { buildRequestFromReservation, ContractError, type BookingRequest } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { listPending, markRejected, scheduleUnlessDuplicate, type PendingReservation } from '../reservations/index.js';
import { loggableReason, type Logger } from '../telemetry/logger.js';
import { computeReleaseAt, describeReleaseRule, SlotTimeError, slotStartAt } from './release-time.js';
import { describeSlotGrid, isSlotTime } from './slot-grid.js';

/**
 * What the contract builders cannot know: every preferred court must be one of the venue's courts, and the
 * slot time must be on the venue's slot grid (the site has no other slots: its direct-slot URL is a 404).
 * @param fields how the caller names the court list and the time in errors (`courts`/`target_time` columns,
 *   or the `book-now` input names).
 * @throws ContractError naming the field and the bad value.
 */
export function assertBookableAtVenue(request: BookingRequest, venue: VenueConfig, fields: { courts: string; targetTime: string }): void {
  for (const court of request.courtPreference.asList()) {
    if (!Object.hasOwn(venue.courts, String(court))) {
      throw new ContractError(fields.courts, `court ${court} is not a court of venue "${request.venue}" (its courts: ${Object.keys(venue.courts).join(', ')})`);
    }
  }
  if (!isSlotTime(venue, request.targetDate, request.targetTime)) {
    throw new ContractError(
      fields.targetTime,
      `"${request.targetTime}" is not a slot start at venue "${request.venue}" on ${request.targetDate} (slots start ${describeSlotGrid(venue)})`,
    );
  }
}

/** Counts of one validation pass. */
export interface ValidationCounts {
  scheduled: number;
  rejected: number;
}

/**
 * Validates up to `limit` `pending` rows: a valid row becomes `scheduled` with its `release_at` and
 * `slot_at`; an invalid one becomes `rejected` with a reason that names the column. A slot whose release
 * instant is not before its start (e.g. `horizonDays: 0` with a cron run after the slot time) is rejected with
 * a reason naming the venue's release rule. Nothing is lost (a bad row is kept, `rejected`, with its reason)
 * and one bad row never stops the others.
 */
export async function validatePendingOnce(args: {
  db: Kysely<Database>;
  config: Config;
  now: Date;
  logger: Logger;
  limit?: number;
}): Promise<ValidationCounts> {
  const { db, config, now, logger } = args;
  const counts: ValidationCounts = { scheduled: 0, rejected: 0 };
  const rows = await listPending(db, args.limit ?? 100);
  for (const row of rows) {
    const log = logger.child({ reservation_id: Number(row.id), venue: row.venue, target_date: row.target_date, target_time: row.target_time });
    let verdict: { releaseAt: Date; slotAt: Date } | { reason: string; field?: string };
    try {
      const request = buildRequestFromReservation(row, row, (id) => Object.hasOwn(config.venues, id));
      const venue = config.venues[request.venue]!;
      const slotAt = slotStartAt(request.targetDate, request.targetTime, venue.timeZone);
      assertBookableAtVenue(request, venue, { courts: 'courts', targetTime: 'target_time' });
      if (slotAt.getTime() <= now.getTime()) {
        verdict = { reason: `target_date/target_time: the slot ${request.targetDate} ${request.targetTime} (${venue.timeZone}) started at ${slotAt.toISOString()}, which is in the past` };
      } else {
        const releaseAt = computeReleaseAt(venue.releaseRule, request.targetDate, request.targetTime, venue.timeZone);
        verdict = releaseAt.getTime() < slotAt.getTime()
          ? { releaseAt, slotAt }
          : { reason: `target_date/target_time: venue "${request.venue}"'s release rule ${describeReleaseRule(venue.releaseRule)} releases the slot ${request.targetDate} ${request.targetTime} (${venue.timeZone}) at ${releaseAt.toISOString()}, which is not before its start at ${slotAt.toISOString()}` };
      }
    } catch (err) {
      if (!(err instanceof ContractError) && !(err instanceof SlotTimeError)) throw err;
      verdict = { reason: err instanceof SlotTimeError ? `${err.field}: ${err.message}` : err.message, field: err.field };
    }
    if ('reason' in verdict) {
      if (await markRejected(db, { id: Number(row.id), reason: verdict.reason, now })) counts.rejected += 1;
      const logged = loggableReason(verdict.field, verdict.reason);
      log.warn({ reason: logged, field: verdict.field }, `reservation ${row.id} rejected: ${logged}`);
    } else {
      await scheduleOnePerPerson({ db, config, now, log, counts }, row, verdict);
    }
  }
  return counts;
}

/**
 * The last step of a valid row: `scheduled`, unless the person already has an active reservation whose slot
 * overlaps this one (same `booking_users` row or same e-mail, any venue): then `rejected` with a reason naming
 * that row (`src/reservations/duplicates.ts`, serialized per person, so two daemons validating at once end
 * with one `scheduled` and one `rejected`).
 */
async function scheduleOnePerPerson(
  ctx: { db: Kysely<Database>; config: Config; now: Date; log: Logger; counts: ValidationCounts },
  row: PendingReservation,
  valid: { releaseAt: Date; slotAt: Date },
): Promise<void> {
  const { config, log, counts } = ctx;
  const slotLengthsS = Object.fromEntries(Object.entries(config.venues).map(([id, v]) => [id, v.slotLengthS]));
  const slot = { reservationId: row.id, userId: row.user_id, email: row.email, slotAt: valid.slotAt, slotLengthS: slotLengthsS[row.venue]!, slotLengthsS };
  const verdict = await scheduleUnlessDuplicate(ctx.db, { slot, releaseAt: valid.releaseAt, now: ctx.now });
  if (verdict.kind === 'duplicate') {
    if (verdict.changed) counts.rejected += 1;
    log.warn({ reason: verdict.reason, field: 'duplicate' }, `reservation ${row.id} rejected: ${verdict.reason}`);
    return;
  }
  if (verdict.changed) counts.scheduled += 1;
  log.info({ release_at: valid.releaseAt.toISOString() }, `reservation ${row.id} scheduled; release at ${valid.releaseAt.toISOString()}`);
}
