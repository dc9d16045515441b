import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, SiteBlocksTable } from '../db/types.js';

/**
 * `site_blocks`: a venue whose site flagged this daemon's bookings as irregular usage, and until when no
 * booking is attempted there (docs/architecture.md "Site blocks"). Shared by every daemon on the database
 * and kept across restarts.
 */

/** A `site_blocks` row. */
export type SiteBlockRow = Selectable<SiteBlocksTable>;

/** Arguments of {@link recordSiteBlock}. */
export interface RecordSiteBlockArgs {
  venue: string;
  /** When the site flagged it. */
  now: Date;
  /** The cool-off, ms: the block lasts until `now + coolOffMs`. */
  coolOffMs: number;
  /** The site's words (or the flow's message). */
  reason: string;
}

/**
 * Records (upserts) the block of `venue`: `blocked_at = now`, the reason, and `blocked_until` = the later of
 * the block already recorded and `now + coolOffMs` (a second flag never shortens a running cool-off).
 *
 * @returns the row as stored.
 */
export async function recordSiteBlock(db: Kysely<Database>, args: RecordSiteBlockArgs): Promise<SiteBlockRow> {
  const until = new Date(args.now.getTime() + Math.max(0, args.coolOffMs));
  return db
    .insertInto('site_blocks')
    .values({ venue: args.venue, blocked_at: args.now, blocked_until: until, reason: args.reason })
    .onConflict((oc) =>
      oc.column('venue').doUpdateSet({
        blocked_at: (eb) => eb.ref('excluded.blocked_at'),
        blocked_until: sql<Date>`GREATEST(site_blocks.blocked_until, excluded.blocked_until)`,
        reason: (eb) => eb.ref('excluded.reason'),
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The block of `venue` still running at `now` (`blocked_until > now`), or null. */
export async function findActiveSiteBlock(db: Kysely<Database>, args: { venue: string; now: Date }): Promise<SiteBlockRow | null> {
  const row = await db
    .selectFrom('site_blocks')
    .selectAll()
    .where('venue', '=', args.venue)
    .where('blocked_until', '>', args.now)
    .executeTakeFirst();
  return row ?? null;
}
