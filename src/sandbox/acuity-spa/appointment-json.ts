import type { SpaBooking } from './state.js';
import type { SpaSwitches } from './switches.js';
import { localIso } from './venues.js';

/**
 * A booking as the appointment routes answer it (official API field names). `offsetFormat` is the switch
 * at answer time; `confirmationOrigin` has no trailing slash.
 */
export function appointmentJson(b: SpaBooking, offsetFormat: SpaSwitches['offsetFormat'], confirmationOrigin: string): Record<string, unknown> {
  const { venue, court } = b.slot;
  const endMs = b.slot.startMs + venue.grid.slotLengthS * 1000;
  const confirmationPage = `${confirmationOrigin}/schedule.php?owner=${venue.businessId}&action=appt&id[]=${b.hash}`;
  return {
    id: b.id,
    hash: b.hash,
    firstName: b.client.firstName,
    lastName: b.client.lastName,
    email: b.client.email,
    phone: b.client.phone,
    date: b.slot.date,
    time: b.slot.time,
    endTime: localIso(venue.timeZone, endMs, 'colon').slice(11, 16),
    datetime: localIso(venue.timeZone, b.slot.startMs, offsetFormat),
    datetimeCreated: localIso(venue.timeZone, b.arrivedAtMs, offsetFormat),
    duration: String(venue.grid.slotLengthS / 60),
    type: court.name,
    appointmentTypeID: court.appointmentTypeId,
    calendar: court.name,
    calendarID: court.calendarId,
    timezone: b.clientTimeZone,
    canceled: false,
    confirmationPage,
    addToGoogleLink: `https://calendar.google.com/calendar/render?action=TEMPLATE&text=${encodeURIComponent(`${court.name} - ${venue.name}`)}`,
  };
}
