import type { Config, VenueConfig } from '../config/schema.js';
import { slotDatetimeSegment } from '../scheduling/release-time.js';
import { daySlotTimes, isSlotTime } from '../scheduling/slot-grid.js';

/**
 * How the sandbox site finds venues, courts and slots from Acuity path parts (pure: no I/O, no clock).
 *
 * The site addresses a venue by `venue.site.slug` and a court by its calendar id from `venue.courts`;
 * a slot by the C10 datetime segment (`2027-07-23T09:00:00-06:00`), which must be exactly the segment the
 * venue's zone gives that slot (a wrong offset is a different, unknown URL: 404, as on the real site).
 */

/** One court-slot of a venue, as the site knows it. */
export interface SiteSlot {
  /** Venue id: the key in `config.venues`. */
  venueId: string;
  venue: VenueConfig;
  court: number;
  calendarId: string;
  /** Venue-local `YYYY-MM-DD`. */
  date: string;
  /** Venue-local `HH:MM`. */
  time: string;
}

/** A venue's court addressed by (slug, appointment type id, calendar id). */
export interface SiteCourt {
  venueId: string;
  venue: VenueConfig;
  court: number;
  calendarId: string;
}

/** Lookups from path parts to venues, courts and slots. */
export interface VenueIndex {
  /** Venue id and config of a slug, or undefined. */
  bySlug(slug: string): { venueId: string; venue: VenueConfig } | undefined;
  /** Venue config of a venue id, or undefined. */
  byId(venueId: string): VenueConfig | undefined;
  /** The court behind a calendar URL, or undefined when slug, type or calendar is unknown. */
  court(slug: string, appointmentTypeId: string, calendarId: string): SiteCourt | undefined;
  /** The court with number `court` of venue `venueId`, or undefined. */
  courtByNumber(venueId: string, court: number): SiteCourt | undefined;
  /** Every venue with its id. */
  all(): { venueId: string; venue: VenueConfig }[];
}

/**
 * Indexes the venues of `config` by slug.
 *
 * @throws Error when two venues share a slug (the site could not tell them apart).
 */
export function createVenueIndex(config: Config): VenueIndex {
  const slugs = new Map<string, { venueId: string; venue: VenueConfig }>();
  for (const [venueId, venue] of Object.entries(config.venues)) {
    const other = slugs.get(venue.site.slug);
    if (other) throw new Error(`sandbox: venues "${other.venueId}" and "${venueId}" share the slug "${venue.site.slug}"`);
    slugs.set(venue.site.slug, { venueId, venue });
  }
  const courtByNumber = (venueId: string, court: number): SiteCourt | undefined => {
    const venue = config.venues[venueId];
    const calendarId = venue?.courts[String(court)];
    return venue && calendarId !== undefined ? { venueId, venue, court, calendarId } : undefined;
  };
  return {
    bySlug: (slug) => slugs.get(slug),
    byId: (venueId) => config.venues[venueId],
    court(slug, appointmentTypeId, calendarId) {
      const found = slugs.get(slug);
      if (!found || found.venue.site.appointmentTypeId !== appointmentTypeId) return undefined;
      const entry = Object.entries(found.venue.courts).find(([, id]) => id === calendarId);
      return entry ? { ...found, court: Number(entry[0]), calendarId } : undefined;
    },
    courtByNumber,
    all: () => [...slugs.values()],
  };
}

export { daySlotTimes, isSlotTime };

const SEGMENT_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}):00(?:[+-]\d{2}:\d{2}|Z)$/;

/**
 * The slot of a court named by a decoded datetime segment, or undefined when the segment is malformed,
 * carries the wrong offset, or is not one of the venue's slot times that day.
 */
export function slotFromSegment(court: SiteCourt, segment: string): SiteSlot | undefined {
  const match = SEGMENT_RE.exec(segment);
  const date = match?.[1];
  const time = match?.[2];
  if (date === undefined || time === undefined || !isSlotTime(court.venue, date, time)) return undefined;
  if (slotDatetimeSegment(date, time, court.venue.timeZone) !== segment) return undefined;
  return { ...court, date, time };
}
