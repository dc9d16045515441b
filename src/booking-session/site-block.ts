import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { BookingResult } from '../contracts/index.js';
import { retryTransient } from '../db/retry.js';
import type { Database } from '../db/types.js';
import { findActiveSiteBlock, recordSiteBlock, type SiteBlockRow } from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import { OUTCOME_RETRY_MS } from './retry-budgets.js';

/**
 * The per-venue cool-off after the site flagged a booking as irregular usage (docs/architecture.md "Site
 * blocks"): the session records the block when it settles a `site_blocked` answer of the site, and checks it
 * when a booking of the venue fires, so nothing is submitted there until the block runs out.
 */

/** What the block needs of the session's dependencies. */
export interface SiteBlockDeps {
  db: Kysely<Database>;
  clock: Clock;
  /** `daemon.siteBlockedCoolOffMs`, ms (default {@link DEFAULT_SITE_BLOCKED_COOL_OFF_MS}). */
  siteBlockedCoolOffMs?: number;
}

/** `daemon.siteBlockedCoolOffMs`'s default, for sessions built without it: 6 h. */
export const DEFAULT_SITE_BLOCKED_COOL_OFF_MS = 21_600_000;

/** Why nothing is submitted for `row`'s venue (the booking's error). */
export function siteBlockMessage(row: SiteBlockRow): string {
  return `the site flagged this daemon's bookings as irregular usage at ${row.blocked_at.toISOString()}; ` +
    `no booking is attempted for venue ${row.venue} until ${row.blocked_until.toISOString()}; ask the club`;
}

/** The message of the block of `venue` running now ({@link siteBlockMessage}), or null when there is none. */
export async function activeSiteBlock(deps: SiteBlockDeps, venue: string): Promise<string | null> {
  const row = await findActiveSiteBlock(deps.db, { venue, now: new Date(deps.clock.now()) });
  return row === null ? null : siteBlockMessage(row);
}

/**
 * Records the block of `venue` after the site answered `result` (`site_blocked`), retried through a dropped
 * connection (until `signal`, the stop's grace, aborts), and logs one error line (`alert: 'site_blocked'`). A
 * failure to record it is logged, not thrown: the booking's own result is settled anyway.
 */
export async function noteSiteBlock(deps: SiteBlockDeps, venue: string, result: BookingResult, log: Logger, signal?: AbortSignal): Promise<void> {
  const coolOffMs = deps.siteBlockedCoolOffMs ?? DEFAULT_SITE_BLOCKED_COOL_OFF_MS;
  const reason = result.errors.join('; ') || result.message || result.outcome;
  const record = (): Promise<SiteBlockRow> => recordSiteBlock(deps.db, { venue, now: new Date(deps.clock.now()), coolOffMs, reason });
  try {
    const row = await retryTransient(record, { what: `venue ${venue}: recording the site block`, logger: log, budgetMs: OUTCOME_RETRY_MS, ...(signal ? { signal } : {}) });
    const until = row.blocked_until.toISOString();
    log.error({ alert: 'site_blocked', venue, until }, `venue ${venue}: the site flagged this daemon's bookings as irregular usage; no booking is attempted there until ${until}; ask the club`);
  } catch (err) {
    log.error({ err, alert: 'site_blocked', venue }, `venue ${venue}: the site flagged this daemon's bookings as irregular usage, and the block could not be recorded; ask the club`);
  }
}
