import { parseReleaseCronPattern, createReleaseCron } from '../config/release-cron.js';
import type { Config } from '../config/schema.js';
import { ContractError } from '../contracts/index.js';
import { localDateTime, parseLocalDate, SlotTimeError } from '../scheduling/release-time.js';
import { daySlotTimes, describeSlotGrid } from '../scheduling/slot-grid.js';

/**
 * The creation checks of a standing reservation (pure; `now` is an argument). Every occurrence must be a slot
 * the venue has, so a wrong pattern is refused once, at creation, rather than as one rejected row a week.
 */

/** A standing reservation as a person asks for it (`reservd standing add`). */
export interface StandingInput {
  venue: string;
  /** Court preference, most wanted first. */
  courts: number[];
  /** Cron pattern (5 fields, or 6 with seconds first) read in the venue's zone, e.g. `0 19 * * 2`. */
  cron: string;
  /** Last venue-local date `YYYY-MM-DD` (inclusive) an occurrence may fall on; null/undefined = no end. */
  untilDate?: string | null;
}

/** Two ordinary days (no zone changes its clocks on 15 January or 15 July) whose slots make the day grid. */
const GRID_DAYS = ['2001-01-15', '2001-07-15'];

function checkCourts(config: Config, input: StandingInput): void {
  const venue = config.venues[input.venue]!;
  if (input.courts.length === 0) throw new ContractError('courts', 'the court list is empty; give at least one court, e.g. "3,1"');
  const seen = new Set<number>();
  for (const court of input.courts) {
    if (!Number.isSafeInteger(court) || !Object.hasOwn(venue.courts, String(court))) {
      throw new ContractError('courts', `court ${court} is not a court of venue "${input.venue}" (its courts: ${Object.keys(venue.courts).join(', ')})`);
    }
    if (seen.has(court)) throw new ContractError('courts', `court ${court} is listed twice`);
    seen.add(court);
  }
}

function checkCron(config: Config, input: StandingInput): void {
  const venue = config.venues[input.venue]!;
  const pattern = parseReleaseCronPattern(input.cron);
  if (typeof pattern === 'string') throw new ContractError('cron', pattern);
  if (!pattern.isFixedTime) {
    throw new ContractError('cron', `"${input.cron}" is an interval pattern: the minute and hour fields must name slot start times (e.g. "0 19 * * 2"), not "*", "?" or "/" steps`);
  }
  if (pattern.second.some((on, second) => on === 1 && second !== 0)) throw new ContractError('cron', `"${input.cron}" fires at a second other than 0; slots start on whole minutes`);
  const grid = new Set(GRID_DAYS.flatMap((day) => daySlotTimes(venue, day)));
  for (let hour = 0; hour < 24; hour++) {
    for (let minute = 0; minute < 60; minute++) {
      if (pattern.hour[hour] !== 1 || pattern.minute[minute] !== 1) continue;
      const time = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
      if (!grid.has(time)) throw new ContractError('cron', `"${input.cron}" asks for ${time}, which is not a slot start at venue "${input.venue}" (slots start ${describeSlotGrid(venue)})`);
    }
  }
  if (createReleaseCron(input.cron, venue.timeZone).nextRun(new Date(Date.UTC(2000, 0, 1))) === null) throw new ContractError('cron', `"${input.cron}" never matches a real date`);
}

/**
 * Checks a standing reservation against `config` at `now`.
 *
 * @throws ContractError naming the field: `venue` (not a venue of the config), `courts` (empty, unknown or
 *   repeated court), `cron` (not a pattern, an interval pattern, a second other than 0, a time off the venue's
 *   slot grid, never matches), `until_date` (not a real `YYYY-MM-DD` date, or before today in the venue's zone).
 */
export function validateStanding(config: Config, input: StandingInput, now: Date): void {
  if (!Object.hasOwn(config.venues, input.venue)) {
    throw new ContractError('venue', `"${input.venue}" is not a venue of the configuration (its venues: ${Object.keys(config.venues).join(', ') || 'none'})`);
  }
  checkCourts(config, input);
  checkCron(config, input);
  if (input.untilDate !== undefined && input.untilDate !== null) {
    try {
      parseLocalDate(input.untilDate);
    } catch (err) {
      if (err instanceof SlotTimeError) throw new ContractError('until_date', err.message, { cause: err });
      throw err;
    }
    const today = localDateTime(now, config.venues[input.venue]!.timeZone).date;
    if (input.untilDate < today) throw new ContractError('until_date', `${input.untilDate} is before today (${today} at venue "${input.venue}")`);
  }
}
