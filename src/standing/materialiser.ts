import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/types.js';
import { insertOccurrence, listStanding, type StandingRow } from '../reservations/index.js';
import { runLoop } from '../scheduling/run-loop.js';
import type { Logger } from '../telemetry/logger.js';
import { dueOccurrences } from './occurrences.js';
import { validateStanding } from './validate-standing.js';

/**
 * The standing-reservation materialiser (docs: README "Standing reservations"). Every
 * `standing.tickIntervalMs` it turns each occurrence of each `active` standing reservation of THIS daemon's
 * venues whose release is within `standing.lookaheadMs` (and not passed) into an ordinary `pending`
 * reservation, which the scheduler then validates, schedules and books like any other (the INSERT's NOTIFY
 * wakes it). Exactly once per occurrence: the database's unique (standing_id, standing_occurrence) and
 * `ON CONFLICT DO NOTHING`, so restarts and several daemons sharing the database may all run it.
 */

/** A row the materialiser created. */
export interface MaterialisedRow {
  standingId: number;
  reservationId: number;
  /** Venue-local `YYYY-MM-DDTHH:MM`. */
  occurrence: string;
}

/** Arguments of {@link materialiseStandingOnce}. */
export interface MaterialiseArgs {
  db: Kysely<Database>;
  config: Config;
  now: Date;
  logger: Logger;
  /** Ids of invalid standing rows already warned about (one warning per row, not per pass). */
  warned?: Set<number>;
}

/** One standing row's due occurrences inserted; an invalid row (made by hand) is skipped with a warning. */
async function materialiseRow(args: MaterialiseArgs, row: StandingRow): Promise<MaterialisedRow[]> {
  const { config, now, logger } = args;
  try {
    // until_date may lie in the past by now: that only ends the occurrences.
    validateStanding(config, { venue: row.venue, courts: row.courts, cron: row.cron }, now);
  } catch (err) {
    if (!args.warned?.has(row.id)) logger.warn({ standing_id: row.id, err }, `standing reservation ${row.id} is skipped: ${(err as Error).message}`);
    args.warned?.add(row.id);
    return [];
  }
  const venue = config.venues[row.venue]!;
  const created: MaterialisedRow[] = [];
  for (const o of dueOccurrences({ cron: row.cron, venue, now, lookaheadMs: config.standing.lookaheadMs, createdAt: row.createdAt, untilDate: row.untilDate })) {
    const reservationId = await insertOccurrence(args.db, { standingId: row.id, occurrence: o.occurrence, targetDate: o.targetDate, targetTime: o.targetTime, now });
    if (reservationId === null) continue;
    created.push({ standingId: row.id, reservationId, occurrence: o.occurrence });
    logger.info(
      { standing_id: row.id, reservation_id: reservationId, venue: row.venue, occurrence: o.occurrence, release_at: o.releaseAt.toISOString() },
      `standing reservation ${row.id}: reservation ${reservationId} queued for ${o.targetDate} ${o.targetTime}`,
    );
  }
  return created;
}

/**
 * One pass: materialises the due occurrences of every active standing reservation of `config`'s venues.
 * @returns the rows this pass created (an occurrence another daemon or an earlier pass created is not listed).
 */
export async function materialiseStandingOnce(args: MaterialiseArgs): Promise<MaterialisedRow[]> {
  const rows = await listStanding(args.db, { statuses: ['active'], venues: Object.keys(args.config.venues) });
  const created: MaterialisedRow[] = [];
  for (const row of rows) created.push(...(await materialiseRow(args, row)));
  return created;
}

/** A running materialiser loop. */
export interface StandingMaterialiser {
  /** Starts the loop (first pass at once). Safe to call twice; does nothing when `standing.enabled` is false. */
  start(): void;
  /** Stops the loop after the current pass. Safe to call twice. */
  stop(): Promise<void>;
}

/** Creates the materialiser loop (`runLoop`, every `standing.tickIntervalMs`). */
export function createStandingMaterialiser(deps: { db: Kysely<Database>; config: Config; clock: Clock; logger: Logger }): StandingMaterialiser {
  const { db, config, clock, logger } = deps;
  const abort = new AbortController();
  const warned = new Set<number>();
  let loop: Promise<void> | null = null;
  return {
    start() {
      if (loop || !config.standing.enabled) return;
      loop = runLoop({
        name: 'standing',
        tickOnce: async () => void (await materialiseStandingOnce({ db, config, now: new Date(clock.now()), logger, warned })),
        nextDelayMs: () => config.standing.tickIntervalMs,
        clock,
        logger,
        signal: abort.signal,
      });
    },
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
