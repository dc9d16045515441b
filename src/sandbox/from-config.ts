import type { Config, ReleaseRule, VenueConfig } from '../config/schema.js';
import type { SpaReleaseRule, SpaVenue } from './acuity-spa/venues.js';

/**
 * The look-alike's venues from a reservd config: each configured venue becomes one business of the site,
 * addressed by its `site.ownerKey`, each court its own appointment type and calendar. Only the shapes are
 * mapped here; the site decides releases and slot grids with its own rules (`acuity-spa/venues.ts`).
 */

/** A stable business id for a venue that has none configured: derived from its owner key. */
function derivedBusinessId(ownerKey: string): number {
  return 10_000_000 + (Number.parseInt(ownerKey, 16) % 89_999_999);
}

function releaseOf(rule: ReleaseRule): SpaReleaseRule {
  if ('hoursBefore' in rule) return { kind: 'hoursBefore', hours: rule.hoursBefore };
  if ('daysBefore' in rule) return { kind: 'daysBefore', days: rule.daysBefore, at: rule.at };
  return { kind: 'cron', pattern: rule.cron, horizonDays: rule.horizonDays };
}

/** The look-alike venue of one configured venue. `country` sets the phone widget's default (GT: our club). */
export function spaVenueOf(venue: VenueConfig, country = 'GT'): SpaVenue {
  return {
    ownerKey: venue.site.ownerKey,
    businessId: venue.site.businessId ?? derivedBusinessId(venue.site.ownerKey),
    name: venue.name,
    timeZone: venue.timeZone,
    country,
    courts: Object.entries(venue.courts)
      .map(([court, ids]) => ({ court: Number(court), name: ids.name ?? `Court ${court}`, appointmentTypeId: ids.appointmentTypeId, calendarId: ids.calendarId }))
      .sort((a, b) => a.court - b.court),
    grid: { firstSlotTime: venue.firstSlotTime, lastSlotTime: venue.lastSlotTime, slotLengthS: venue.slotLengthS },
    release: releaseOf(venue.releaseRule),
  };
}

/**
 * Every configured venue as a look-alike venue, with the venue id of each owner key.
 *
 * @throws Error naming both venues when two share an owner key (the site addresses a business by it).
 */
export function spaVenuesOf(config: Pick<Config, 'venues'>): { venues: SpaVenue[]; venueIdOf: Map<string, string> } {
  const venueIdOf = new Map<string, string>();
  const venues: SpaVenue[] = [];
  for (const [id, venue] of Object.entries(config.venues)) {
    const other = venueIdOf.get(venue.site.ownerKey);
    if (other) throw new Error(`sandbox: venues "${other}" and "${id}" share the owner key "${venue.site.ownerKey}"`);
    venueIdOf.set(venue.site.ownerKey, id);
    venues.push(spaVenueOf(venue));
  }
  return { venues, venueIdOf };
}
