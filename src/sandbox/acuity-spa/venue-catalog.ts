import { spaCourtSlots, type SpaCourt, type SpaSlot, type SpaVenue } from './venues.js';

/** Where a slot is addressed from outside: venue by owner key, court by number, venue-local date and time. */
export interface SpaSlotRef {
  ownerKey: string;
  court: number;
  date: string;
  time: string;
}

/** A court together with the venue it belongs to. */
export interface SpaVenueCourt {
  venue: SpaVenue;
  court: SpaCourt;
}

/** The site's venues, indexed the ways requests address them. */
export interface SpaVenueCatalog {
  /** The venue whose owner key is `ownerKey`, if any. */
  venue(ownerKey: string): SpaVenue | undefined;
  /** The court (and its venue) of an appointment type id, if any. */
  court(appointmentTypeId: number): SpaVenueCourt | undefined;
  /** The slot named by `ref`, or undefined when venue, court or time is not on the site. */
  slot(ref: SpaSlotRef): SpaSlot | undefined;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Indexes `venues` (already validated) by owner key and by appointment type id. */
export function createSpaVenueCatalog(venues: readonly SpaVenue[]): SpaVenueCatalog {
  const byOwner = new Map(venues.map((v) => [v.ownerKey, v]));
  const byType = new Map<number, SpaVenueCourt>();
  for (const venue of venues) for (const court of venue.courts) byType.set(court.appointmentTypeId, { venue, court });

  return {
    venue: (ownerKey) => byOwner.get(ownerKey),
    court: (appointmentTypeId) => byType.get(appointmentTypeId),
    slot(ref) {
      const venue = byOwner.get(ref.ownerKey);
      const court = venue?.courts.find((c) => c.court === ref.court);
      if (!venue || !court || !DATE_RE.test(ref.date)) return undefined;
      return spaCourtSlots(venue, court, ref.date).find((s) => s.time === ref.time);
    },
  };
}
