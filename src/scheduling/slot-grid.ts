import type { VenueConfig } from '../config/schema.js';
import { slotStartAt } from './release-time.js';

/**
 * A venue's slot grid (pure): slots start at `firstSlotTime`, then every `slotLengthS`, up to and including
 * `lastSlotTime`, venue-local. The daemon rejects a reservation whose time is off the grid (the site has no
 * such slot: its direct-slot URL is a 404), and the sandbox serves exactly these slots.
 */

function toMinutes(hhmm: string): number {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

function toHhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/**
 * The slot start times of one venue-local day: `firstSlotTime`, then every `slotLengthS` (rounded down to
 * whole minutes) up to and including `lastSlotTime`. Times that do not exist that day (DST gap) are left
 * out; an invalid date gives an empty list.
 */
export function daySlotTimes(venue: VenueConfig, date: string): string[] {
  const firstMin = toMinutes(venue.firstSlotTime);
  const lastMin = toMinutes(venue.lastSlotTime);
  const stepMin = Math.max(1, Math.floor(venue.slotLengthS / 60));
  const times: string[] = [];
  for (let minute = firstMin; minute <= lastMin; minute += stepMin) {
    const time = toHhmm(minute);
    if (slotExists(venue, date, time)) times.push(time);
  }
  return times;
}

function slotExists(venue: VenueConfig, date: string, time: string): boolean {
  try {
    slotStartAt(date, time, venue.timeZone);
    return true;
  } catch {
    return false;
  }
}

/** True when `time` is one of the venue's slot start times on `date`. */
export function isSlotTime(venue: VenueConfig, date: string, time: string): boolean {
  return daySlotTimes(venue, date).includes(time);
}


/** A sentence describing the grid, for rejection reasons: "every 60 min from 07:00 to 21:00". */
export function describeSlotGrid(venue: VenueConfig): string {
  return `every ${Math.max(1, Math.floor(venue.slotLengthS / 60))} min from ${venue.firstSlotTime} to ${venue.lastSlotTime}`;
}
