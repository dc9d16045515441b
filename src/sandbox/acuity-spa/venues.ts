import { Cron } from 'croner';
import { Temporal } from 'temporal-polyfill';

/**
 * The look-alike's own venue shape and its own release / slot-grid rules (docs/acuity-site.md).
 *
 * Deliberately independent of reservd's scheduling and booking code: the site is an oracle that reservd's
 * release arithmetic is checked against, so it must not share that arithmetic. Pure: no I/O, no clock.
 */

/** One court: on the real club page every court is its own appointment type AND its own calendar. */
export interface SpaCourt {
  /** Court number as the club names it (1, 2, 3). */
  court: number;
  /** Display name of the court's appointment type and calendar, e.g. "Cancha 1". */
  name: string;
  /** Numeric appointment type id (`appointmentTypeId` in availability URLs, `appointmentTypeID` in a POST). */
  appointmentTypeId: number;
  /** Numeric calendar id of the court. */
  calendarId: number;
}

/**
 * When a slot becomes bookable. `hoursBefore`: a sliding window, the slot's start minus `hours`.
 * `daysBefore`: at local `at` (HH:MM, venue zone) on the venue-local date `days` before the slot's date.
 */
export type SpaReleaseRule =
  | { kind: 'hoursBefore'; hours: number }
  | { kind: 'daysBefore'; days: number; at: string }
  /**
   * `cron`: at each run of `pattern` (croner syntax, venue zone) the days up to `horizonDays` ahead open; a
   * slot opens at the first run on or after local midnight of its date minus `horizonDays`.
   */
  | { kind: 'cron'; pattern: string; horizonDays: number };

/** The bookable start times of every day: `firstSlotTime`, then every `slotLengthS`, up to `lastSlotTime` (local HH:MM). */
export interface SpaSlotGrid {
  firstSlotTime: string;
  lastSlotTime: string;
  /** Slot length and step, seconds. */
  slotLengthS: number;
}

/** One business (venue) of the look-alike. */
export interface SpaVenue {
  /** 8 lower-case hex characters, as `OWNER_KEY` on the real page. */
  ownerKey: string;
  /** Numeric business id (the `owner=` of `schedule.php` links). */
  businessId: number;
  name: string;
  /** IANA zone of the business, e.g. America/Guatemala. */
  timeZone: string;
  /** ISO 3166 country code, e.g. GT (the phone widget's default country). */
  country: string;
  courts: SpaCourt[];
  grid: SpaSlotGrid;
  release: SpaReleaseRule;
}

/** One court-slot of a venue. */
export interface SpaSlot {
  venue: SpaVenue;
  court: SpaCourt;
  /** Venue-local `YYYY-MM-DD`. */
  date: string;
  /** Venue-local `HH:MM`. */
  time: string;
  /** Start instant, epoch ms. */
  startMs: number;
}

const HHMM_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Minutes after local midnight of an `HH:MM` string. @throws Error when malformed. */
function minutesOf(hhmm: string): number {
  const m = HHMM_RE.exec(hhmm);
  if (!m) throw new Error(`acuity-spa: "${hhmm}" is not HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * Checks a venue list: 8-hex owner keys, unique owner keys, business ids, type ids and calendar ids, a valid
 * zone, grid and release rule.
 *
 * @throws Error naming the first problem.
 */
export function validateSpaVenues(venues: readonly SpaVenue[]): void {
  const owners = new Set<string>();
  const types = new Set<number>();
  const calendars = new Set<number>();
  for (const v of venues) {
    if (!/^[0-9a-f]{8}$/.test(v.ownerKey)) throw new Error(`acuity-spa: owner key "${v.ownerKey}" is not 8 hex characters`);
    if (owners.has(v.ownerKey)) throw new Error(`acuity-spa: owner key "${v.ownerKey}" is used twice`);
    owners.add(v.ownerKey);
    if (!Number.isInteger(v.businessId) || v.businessId <= 0) throw new Error(`acuity-spa: business id of ${v.ownerKey} must be a positive integer`);
    if (!isTimeZone(v.timeZone)) throw new Error(`acuity-spa: ${v.ownerKey} has an unknown time zone "${v.timeZone}"`);
    if (v.courts.length === 0) throw new Error(`acuity-spa: ${v.ownerKey} has no courts`);
    for (const c of v.courts) {
      if (types.has(c.appointmentTypeId)) throw new Error(`acuity-spa: appointment type ${c.appointmentTypeId} is used twice`);
      if (calendars.has(c.calendarId)) throw new Error(`acuity-spa: calendar ${c.calendarId} is used twice`);
      types.add(c.appointmentTypeId);
      calendars.add(c.calendarId);
    }
    if (minutesOf(v.grid.firstSlotTime) > minutesOf(v.grid.lastSlotTime)) throw new Error(`acuity-spa: ${v.ownerKey} grid ends before it starts`);
    if (!Number.isInteger(v.grid.slotLengthS) || v.grid.slotLengthS < 300 || v.grid.slotLengthS % 60 !== 0) {
      throw new Error(`acuity-spa: ${v.ownerKey} slotLengthS must be whole minutes, at least 300`);
    }
    if (v.release.kind === 'hoursBefore' && !(v.release.hours >= 0)) throw new Error(`acuity-spa: ${v.ownerKey} hoursBefore must be >= 0`);
    if (v.release.kind === 'cron') {
      if (!Number.isInteger(v.release.horizonDays) || v.release.horizonDays < 0) throw new Error(`acuity-spa: ${v.ownerKey} horizonDays must be a whole number >= 0`);
      new Cron(v.release.pattern, { timezone: v.timeZone, paused: true });
    }
    if (v.release.kind === 'daysBefore') {
      if (!Number.isInteger(v.release.days) || v.release.days < 0) throw new Error(`acuity-spa: ${v.ownerKey} daysBefore must be a whole number >= 0`);
      minutesOf(v.release.at);
    }
  }
}

/**
 * Start instant (epoch ms) of local `date` `time` in `timeZone`, or undefined when that wall time does not
 * exist there (skipped by a DST jump). A repeated wall time (DST fall-back) takes its earlier instant.
 */
export function localInstantMs(timeZone: string, date: string, time: string): number | undefined {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const minutes = minutesOf(time);
  try {
    return Temporal.ZonedDateTime.from(
      { timeZone, year: y, month: mo, day: d, hour: Math.floor(minutes / 60), minute: minutes % 60 },
      { disambiguation: 'reject', offset: 'reject' },
    ).epochMilliseconds;
  } catch (err) {
    if (err instanceof RangeError) {
      // 'reject' throws for both skipped and repeated times; keep repeated ones (earlier instant).
      const zdt = Temporal.ZonedDateTime.from(
        { timeZone, year: y, month: mo, day: d, hour: Math.floor(minutes / 60), minute: minutes % 60 },
        { disambiguation: 'earlier' },
      );
      return zdt.hour * 60 + zdt.minute === minutes ? zdt.epochMilliseconds : undefined;
    }
    throw err;
  }
}

/** The venue-local slot start times (`HH:MM`) of `date`, without wall times a DST jump skips. */
export function spaDaySlotTimes(venue: SpaVenue, date: string): string[] {
  if (!DATE_RE.test(date)) return [];
  const out: string[] = [];
  const stepMin = venue.grid.slotLengthS / 60;
  for (let m = minutesOf(venue.grid.firstSlotTime); m <= minutesOf(venue.grid.lastSlotTime); m += stepMin) {
    const time = `${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
    if (localInstantMs(venue.timeZone, date, time) !== undefined) out.push(time);
  }
  return out;
}

/** Every slot of one court on venue-local `date`. */
export function spaCourtSlots(venue: SpaVenue, court: SpaCourt, date: string): SpaSlot[] {
  return spaDaySlotTimes(venue, date).map((time) => ({ venue, court, date, time, startMs: localInstantMs(venue.timeZone, date, time)! }));
}

/**
 * Release instant (epoch ms) of a slot under its venue's rule: the instant from which the slot is offered.
 * Example: hoursBefore 48 for 2027-07-23 09:00 America/Guatemala → 2027-07-21T15:00:00Z.
 */
export function spaReleaseAtMs(slot: Pick<SpaSlot, 'venue' | 'date' | 'startMs'>): number {
  const rule = slot.venue.release;
  if (rule.kind === 'hoursBefore') return slot.startMs - rule.hours * 3_600_000;
  if (rule.kind === 'cron') return cronReleaseAtMs(slot.venue.timeZone, rule, slot.date);
  const releaseDate = Temporal.PlainDate.from(slot.date).subtract({ days: rule.days }).toString();
  // A release hour skipped by DST opens at the jump itself (the first instant after the gap).
  const exact = localInstantMs(slot.venue.timeZone, releaseDate, rule.at);
  if (exact !== undefined) return exact;
  const minutes = minutesOf(rule.at);
  const before = Temporal.ZonedDateTime.from(
    { timeZone: slot.venue.timeZone, ...plainParts(releaseDate), hour: Math.floor(minutes / 60), minute: minutes % 60 },
    { disambiguation: 'earlier' },
  );
  return (before.getTimeZoneTransition('next') ?? before).epochMilliseconds;
}

/**
 * First run of `rule.pattern` at or after local midnight of `date` − `horizonDays` (croner reads the pattern
 * in `timeZone`). Never before the slot itself opens on the real page's terms: a run on a later day is fine.
 */
function cronReleaseAtMs(timeZone: string, rule: { pattern: string; horizonDays: number }, date: string): number {
  const releaseDate = Temporal.PlainDate.from(date).subtract({ days: rule.horizonDays });
  const midnightMs = releaseDate.toZonedDateTime({ timeZone }).epochMilliseconds;
  const next = new Cron(rule.pattern, { timezone: timeZone, paused: true }).nextRun(new Date(midnightMs - 1));
  if (!next) throw new Error(`acuity-spa: cron "${rule.pattern}" has no run after ${releaseDate.toString()}`);
  return next.getTime();
}

function plainParts(date: string): { year: number; month: number; day: number } {
  const d = Temporal.PlainDate.from(date);
  return { year: d.year, month: d.month, day: d.day };
}

/** Local date `YYYY-MM-DD` of instant `atMs` in `timeZone`. */
export function localDate(timeZone: string, atMs: number): string {
  return Temporal.Instant.fromEpochMilliseconds(atMs).toZonedDateTimeISO(timeZone).toPlainDate().toString();
}

/** `YYYY-MM-DD` `days` after `date`. */
export function addDays(date: string, days: number): string {
  return Temporal.PlainDate.from(date).add({ days }).toString();
}

/**
 * Local ISO of `atMs` in `timeZone` with seconds and offset: `2027-07-23T09:00:00-06:00` (`colon`) or
 * `2027-07-23T09:00:00-0600` (`compact`).
 */
export function localIso(timeZone: string, atMs: number, offsetFormat: 'colon' | 'compact'): string {
  const zdt = Temporal.Instant.fromEpochMilliseconds(atMs).toZonedDateTimeISO(timeZone);
  const base = zdt.toPlainDateTime().toString({ smallestUnit: 'second' });
  return `${base}${offsetFormat === 'colon' ? zdt.offset.slice(0, 6) : zdt.offset.slice(0, 6).replace(':', '')}`;
}

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})$/;

/** Epoch ms of an ISO datetime with an explicit offset (`±HH:MM`, `±HHMM` or `Z`), or undefined when malformed. */
export function parseOffsetDatetime(text: string): number | undefined {
  const m = DATETIME_RE.exec(text);
  if (!m) return undefined;
  const offset = m[7] === 'Z' ? '+00:00' : `${m[7]!.slice(0, 3)}:${m[7]!.slice(-2)}`;
  try {
    return Temporal.Instant.from(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${offset}`).epochMilliseconds;
  } catch {
    return undefined;
  }
}

/** Whether `timeZone` is an IANA zone Temporal knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    Temporal.ZonedDateTime.from({ timeZone, year: 2000, month: 1, day: 1 });
    return true;
  } catch {
    return false;
  }
}
