import { parseConfig } from '../src/config/load.js';
import type { VenueConfig } from '../src/config/schema.js';
import { addDays, localInstantMs, spaDaySlotTimes, spaReleaseAtMs } from '../src/sandbox/acuity-spa/venues.js';
import { spaVenueOf } from '../src/sandbox/from-config.js';
import type { TestVenueInput } from '../test/helpers/sandbox.js';

/**
 * The benchmark's venues (sandbox site and daemon config alike) and the order their slots are used in.
 * Slot grids and release instants are the SITE's (the look-alike's own rules, `acuity-spa/venues.ts`), never
 * reservd's arithmetic: the lag is measured against the instant the site opens the slot.
 */

/** Zone of every bench venue: America/Guatemala (−06:00, no DST). */
export const BENCH_ZONE = 'America/Guatemala';
/** First slot date the benchmarks book (far in the future, so no slot has started). */
export const BENCH_DATE = '2027-08-02';

/** Court number → its appointment type and calendar (each court its own, as on the club's page) for courts 1..n. */
function courts(n: number, firstTypeId: number, firstCalendarId: number): Record<string, { appointmentTypeId: number; calendarId: number; name: string }> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [String(i + 1), { appointmentTypeId: firstTypeId + i, calendarId: firstCalendarId + i, name: `Cancha ${i + 1}` }]),
  );
}

/**
 * Venue of the sequential parts (fire lag, contention, baseline): `hoursBefore: 48` with 5-minute slots
 * 07:00–21:00, so consecutive slot times release 5 minutes apart (the clock jumps as little as possible
 * between rounds), and 4 courts (one release instant = 4 court-slots for the contention part).
 */
export const SEQUENTIAL_VENUE_ID = 'bench-club';
export const SEQUENTIAL_VENUE: TestVenueInput = {
  name: 'Bench Club',
  timeZone: BENCH_ZONE,
  releaseRule: { hoursBefore: 48 },
  // The benchmark measures fire lag over back-to-back releases on a jumping clock: the venue's request budget
  // (default 300 per 60 s, docs/acuity-site.md "Request budget") is opened wide so it measures what it did.
  site: { adapter: 'acuity', ownerKey: 'be0c1b01', businessId: 31337101, requestBudget: { requests: 100_000, perS: 60 } },
  courts: courts(4, 70100001, 9100001),
  slotLengthS: 300,
  firstSlotTime: '07:00',
  lastSlotTime: '21:00',
};

/**
 * Venue of the burst part: `{ daysBefore: 2, at: "08:00" }`, so every slot of a date releases at the same
 * instant; 10 courts × 10 hourly slots (07:00–16:00) = 100 court-slots per date.
 */
export const BURST_VENUE_ID = 'bench-burst';
export const BURST_VENUE: TestVenueInput = {
  name: 'Bench Burst',
  timeZone: BENCH_ZONE,
  releaseRule: { daysBefore: 2, at: '08:00' },
  // 100 reservations releasing together send about 1000 requests at once: over the default budget by design.
  site: { adapter: 'acuity', ownerKey: 'be0b0257', businessId: 31337102, requestBudget: { requests: 100_000, perS: 60 } },
  courts: courts(10, 70200001, 9200001),
  slotLengthS: 3600,
  firstSlotTime: '07:00',
  lastSlotTime: '16:00',
};

/** A slot time of a venue with its release instant. */
export interface ReleaseSlot {
  venue: string;
  date: string;
  time: string;
  /** Release instant by the site's rule, epoch ms on the SITE's clock (the site applies the rule to its own clock). */
  releaseMs: number;
}

/** `venue` as the daemon's config holds it (defaults applied). */
function parsed(venue: TestVenueInput): VenueConfig {
  return parseConfig({ venues: { v: { ...venue, site: { ...venue.site, baseUrl: 'http://127.0.0.1:1' } } } }).venues.v!;
}

/** Release instant (epoch ms) of a venue-local slot, by the sandbox site's own rule for `venue`. */
export function releaseMsOf(venue: TestVenueInput, date: string, time: string): number {
  const spa = spaVenueOf(parsed(venue));
  const startMs = localInstantMs(spa.timeZone, date, time);
  if (startMs === undefined) throw new Error(`${date} ${time} does not exist in ${spa.timeZone}`);
  return spaReleaseAtMs({ venue: spa, date, startMs });
}

/** The venue's slot times on a date, as the sandbox site offers them (first..last slot every `slotLengthS`). */
export function slotTimesOf(venue: TestVenueInput, date: string): string[] {
  return spaDaySlotTimes(spaVenueOf(parsed(venue)), date);
}

/**
 * Hands out the slot times of a venue in release order, from {@link BENCH_DATE} on (day after day), never
 * the same twice. Parts sharing one daemon share one sequence.
 */
export interface SlotSequence {
  /** The next slot time, without taking it. */
  peek(): ReleaseSlot;
  /** Takes the next slot time. */
  next(): ReleaseSlot;
}

/** Creates a {@link SlotSequence} over `venue` (id `venueId`). */
export function createSlotSequence(venueId: string, venue: TestVenueInput): SlotSequence {
  let dayIndex = 0;
  let times = slotTimesOf(venue, BENCH_DATE);
  let timeIndex = 0;
  const current = (): ReleaseSlot => {
    const date = addDays(BENCH_DATE, dayIndex);
    const time = times[timeIndex]!;
    return { venue: venueId, date, time, releaseMs: releaseMsOf(venue, date, time) };
  };
  return {
    peek: current,
    next() {
      const slot = current();
      timeIndex += 1;
      if (timeIndex >= times.length) {
        dayIndex += 1;
        timeIndex = 0;
        times = slotTimesOf(venue, addDays(BENCH_DATE, dayIndex));
      }
      return slot;
    },
  };
}
