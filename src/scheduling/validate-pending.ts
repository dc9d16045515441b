import type { Kysely } from 'kysely';
import type { Config, VenueConfig } from '../config/schema.js';
import { buildRequestFromReservation, ContractError, type BookingRequest } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { listLiveDaemons, listPending, markRejected, scheduleUnlessDuplicate, type DaemonRow, type PendingReservation } from '../reservations/index.js';
import { loggableReason, type Logger } from '../telemetry/logger.js';
import { computeReleaseAt, describeReleaseRule, SlotTimeError, slotStartAt } from './release-time.js';
import { describeSlotGrid, isSlotTime } from './slot-grid.js';

/** The field of a rule about the slot as a whole (its date and time together). */
const SLOT_FIELD = 'target_date/target_time';

/** When a bookable slot starts and is released. */
export interface BookableSlot {
  /** The slot's start instant (`slot_at`). */
  slotAt: Date;
  /** The release instant the venue's rule gives the slot (`release_at`); always before `slotAt`. */
  releaseAt: Date;
}

/**
 * THE venue checks of a booking request, for the queue (`validatePendingOnce`) and `reservd book-now`
 * alike (same rules, same messages), i.e. what the contract builders cannot know:
 * 1. the slot's wall-clock start exists in the venue's zone (not in a DST gap);
 * 2. every preferred court is one of the venue's courts;
 * 3. the slot time is on the venue's slot grid (the site has no other slots: its direct-slot URL is a 404);
 * 4. the slot has not started at `now` (one that started a minute ago is refused too);
 * 5. the venue's release rule releases the slot before its start (e.g. `horizonDays: 0` with a cron run
 *    after the slot time does not).
 *
 * @param request - a request from `buildRequestFromReservation` / `buildImmediateRequest`.
 * @param venue - the config of `request.venue`.
 * @param now - the instant the check is made at.
 * @returns the slot's start and release instants.
 * @throws ContractError naming the column (`courts`, `target_time`, `target_date`, or
 *   `target_date/target_time` for the slot as a whole) and the bad value.
 */
export function assertBookableAtVenue(request: BookingRequest, venue: VenueConfig, now: Date): BookableSlot {
  const { targetDate, targetTime } = request;
  const slot = `${targetDate} ${targetTime} (${venue.timeZone})`;
  const slotAt = slotTimeRule(() => slotStartAt(targetDate, targetTime, venue.timeZone));
  for (const court of request.courtPreference.asList()) {
    if (!Object.hasOwn(venue.courts, String(court))) {
      throw new ContractError('courts', `court ${court} is not a court of venue "${request.venue}" (its courts: ${Object.keys(venue.courts).join(', ')})`);
    }
  }
  if (!isSlotTime(venue, targetDate, targetTime)) {
    throw new ContractError('target_time', `"${targetTime}" is not a slot start at venue "${request.venue}" on ${targetDate} (slots start ${describeSlotGrid(venue)})`);
  }
  if (slotAt.getTime() <= now.getTime()) {
    throw new ContractError(SLOT_FIELD, `the slot ${slot} started at ${slotAt.toISOString()}, which is in the past`);
  }
  const releaseAt = slotTimeRule(() => computeReleaseAt(venue.releaseRule, targetDate, targetTime, venue.timeZone));
  if (releaseAt.getTime() >= slotAt.getTime()) {
    throw new ContractError(
      SLOT_FIELD,
      `venue "${request.venue}"'s release rule ${describeReleaseRule(venue.releaseRule)} releases the slot ${slot} at ${releaseAt.toISOString()}, which is not before its start at ${slotAt.toISOString()}`,
    );
  }
  return { slotAt, releaseAt };
}

/**
 * Runs a release-time computation, turning its {@link SlotTimeError} (a start time in a DST gap, a cron
 * with no run) into the {@link ContractError} every other rule of {@link assertBookableAtVenue} throws,
 * with the same field and text (`target_time: "02:30" ...`).
 */
function slotTimeRule<T>(compute: () => T): T {
  try {
    return compute();
  } catch (err) {
    if (!(err instanceof SlotTimeError)) throw err;
    throw new ContractError(err.field, err.message, { cause: err });
  }
}

/** Counts of one validation pass. */
export interface ValidationCounts {
  scheduled: number;
  rejected: number;
}

/**
 * Validates up to `limit` `pending` rows (this daemon's venues first): a row of a venue this daemon does not
 * serve stays `pending` while a live daemon serves it, and is otherwise `rejected` (`venue: unknown venue "x": no
 * running daemon serves it (this daemon serves: a, b)`); a valid row becomes `scheduled` with its `release_at`
 * and `slot_at`; an invalid one becomes `rejected` with a reason that names the column: the contract builders'
 * rules, then {@link assertBookableAtVenue} (courts, slot grid, slot not started, release before start).
 * Nothing is lost (a bad row is kept, `rejected`, with its reason)
 * and one bad row never stops the others.
 */
export async function validatePendingOnce(args: {
  db: Kysely<Database>;
  config: Config;
  now: Date;
  logger: Logger;
  limit?: number;
  /** Rows already warned about as another daemon's (see {@link leaveToServingDaemon}); the scheduler keeps one per daemon. */
  noticed?: Set<number>;
}): Promise<ValidationCounts> {
  const { db, config, now, logger } = args;
  const counts: ValidationCounts = { scheduled: 0, rejected: 0 };
  const rows = await listPending(db, args.limit ?? 100, Object.keys(config.venues));
  const others: OtherDaemons = { now, noticed: args.noticed ?? new Set(), live: null };
  for (const row of rows) {
    const log = logger.child({ reservation_id: Number(row.id), venue: row.venue, target_date: row.target_date, target_time: row.target_time });
    if (!Object.hasOwn(config.venues, row.venue)) {
      if (await leaveToServingDaemon({ db, config, row, log, others })) continue;
      const reason = unservedVenueReason(row.venue, config);
      if (await markRejected(db, { id: Number(row.id), reason, now, asRead: row })) counts.rejected += 1;
      log.warn({ reason, field: 'venue' }, `reservation ${row.id} rejected: ${reason}`);
      continue;
    }
    let verdict: BookableSlot | { reason: string; field: string };
    try {
      const request = buildRequestFromReservation(row, row, (id) => Object.hasOwn(config.venues, id));
      verdict = assertBookableAtVenue(request, config.venues[request.venue]!, now);
    } catch (err) {
      if (!(err instanceof ContractError)) throw err;
      verdict = { reason: err.message, field: err.field };
    }
    if ('reason' in verdict) {
      if (await markRejected(db, { id: Number(row.id), reason: verdict.reason, now, asRead: row })) counts.rejected += 1;
      const logged = loggableReason(verdict.field, verdict.reason);
      log.warn({ reason: logged, field: verdict.field }, `reservation ${row.id} rejected: ${logged}`);
    } else {
      await scheduleOnePerPerson({ db, config, now, log, counts }, row, verdict);
    }
  }
  return counts;
}

/** Most row ids remembered as already warned about (then the oldest is forgotten: at worst one more warning). */
const MAX_NOTICED = 1_000;

/** What one validation pass knows of the other daemons: the live ones (read once, when first needed). */
interface OtherDaemons {
  now: Date;
  noticed: Set<number>;
  live: DaemonRow[] | null;
}

/** The reason a row whose venue no live daemon serves is rejected with (names the column `venue`). */
function unservedVenueReason(venue: string, config: Config): string {
  return `venue: unknown venue "${venue}": no running daemon serves it (this daemon serves: ${Object.keys(config.venues).join(', ')})`;
}

/**
 * Several daemons with different venue lists may share one database (table `daemons`): a pending row of a
 * venue this daemon does not serve is left `pending` when a live daemon serves it (that daemon validates and
 * books it), with one warning per row naming the venue and the daemon(s) that serve it.
 *
 * @returns true when the row is left to another daemon; false when no live daemon serves its venue.
 */
async function leaveToServingDaemon(args: { db: Kysely<Database>; config: Config; row: PendingReservation; log: Logger; others: OtherDaemons }): Promise<boolean> {
  const { row, others } = args;
  others.live ??= await listLiveDaemons(args.db, { now: others.now });
  const serving = others.live.filter((d) => d.venues.includes(row.venue)).map((d) => d.id);
  if (serving.length === 0) return false;
  const id = Number(row.id);
  if (!others.noticed.has(id)) {
    if (others.noticed.size >= MAX_NOTICED) others.noticed.delete(others.noticed.values().next().value!);
    others.noticed.add(id);
    args.log.warn(
      { serving_daemons: serving },
      `reservation ${id}: venue "${row.venue}" is not served by this daemon (it serves: ${Object.keys(args.config.venues).join(', ')}); left pending for daemon(s) ${serving.join(', ')}, which serve it`,
    );
  }
  return true;
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
  const verdict = await scheduleUnlessDuplicate(ctx.db, { slot, releaseAt: valid.releaseAt, now: ctx.now, asRead: row });
  if (verdict.kind === 'duplicate') {
    if (verdict.changed) counts.rejected += 1;
    log.warn({ reason: verdict.reason, field: 'duplicate' }, `reservation ${row.id} rejected: ${verdict.reason}`);
    return;
  }
  if (verdict.changed) counts.scheduled += 1;
  log.info({ release_at: valid.releaseAt.toISOString() }, `reservation ${row.id} scheduled; release at ${valid.releaseAt.toISOString()}`);
}
