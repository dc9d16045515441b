import { Temporal } from 'temporal-polyfill';
import type { VenueConfig } from '../../config/schema.js';
import { ReservdError } from '../../errors.js';

/**
 * Acuity Scheduling paths (pure: no I/O, no clock). The sandbox site routes on them and the Acuity flow
 * navigates to them, so both sides of the test agree by construction.
 *
 * Shapes (as the sandbox site routes them; C10 in docs/release-rules.md):
 * - calendar:    `/schedule/<slug>/appointment/<typeId>/calendar/<calendarId>?date=YYYY-MM-DD`
 * - direct slot: `/schedule/<slug>/appointment/<typeId>/calendar/<calendarId>/datetime/<segment>` where the
 *   segment is the slot's local start with the venue offset, percent-encoded:
 *   `2027-07-23T09%3A00%3A00-06%3A00`.
 */

/**
 * The site's calendar id of `court` (from `venue.courts`).
 *
 * @throws ReservdError (code `unknown_court`) when the venue has no such court. Nobody branches on it: the
 *   scheduler rejects a reservation naming an unknown court before any booking, and a flow maps any
 *   exception to an outcome.
 */
function courtCalendarId(venue: VenueConfig, court: number): string {
  const calendarId = venue.courts[String(court)];
  if (calendarId === undefined) {
    const known = Object.keys(venue.courts).join(', ');
    throw new ReservdError('unknown_court', `venue "${venue.name}": court ${court} is not configured (courts: ${known})`);
  }
  return calendarId;
}

/** `/schedule/<slug>/appointment/<typeId>/calendar/<calendarId>` without a trailing slash. */
function calendarBase(venue: VenueConfig, calendarId: string): string {
  const { slug, appointmentTypeId } = venue.site;
  return `/schedule/${encodeURIComponent(slug)}/appointment/${encodeURIComponent(appointmentTypeId)}/calendar/${encodeURIComponent(calendarId)}`;
}

/**
 * Path of a court's calendar page, optionally for one venue-local `YYYY-MM-DD` date (`?date=`).
 *
 * @throws ReservdError (code `unknown_court`) for an unconfigured court.
 */
export function calendarPath(venue: VenueConfig, court: number, date?: string): string {
  const base = calendarBase(venue, courtCalendarId(venue, court));
  return date === undefined ? base : `${base}?date=${encodeURIComponent(date)}`;
}

/**
 * The C10 datetime segment of a slot, not percent-encoded: its venue-local start with the venue's UTC offset
 * on that date, `2027-07-23T09:00:00-06:00`; built from the SLOT, never from "now". A start time that occurs
 * twice (DST overlap) is the earlier occurrence, as in `slotStartAt` (`src/scheduling/release-time.ts`).
 *
 * Booking only sees slots the scheduler has validated with `slotStartAt`, whose `SlotTimeError` names the
 * field for the user; src/booking/ may not import src/scheduling/ (boundary rule), so this reads the wall
 * clock itself and refuses a time that does not exist.
 *
 * @param date venue-local `YYYY-MM-DD`; @param time venue-local `HH:MM`; @param timeZone IANA zone.
 * @throws RangeError when the date or time is not real, or the time falls in a DST gap.
 */
export function directSlotSegment(date: string, time: string, timeZone: string): string {
  const local = Temporal.PlainDateTime.from(`${date}T${time}`, { overflow: 'reject' });
  const zoned = local.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
  if (!zoned.toPlainDateTime().equals(local)) {
    throw new RangeError(`${date} ${time} does not exist in ${timeZone} (the clocks skip it: daylight-saving gap)`);
  }
  return zoned.toString({ timeZoneName: 'never', smallestUnit: 'second' });
}

/**
 * The C10 datetime segment, percent-encoded for a path (`encodeURIComponent` turns `:` into `%3A` and a
 * `+` offset into `%2B`).
 *
 * @throws RangeError like {@link directSlotSegment}.
 */
function encodedSlotSegment(venue: VenueConfig, date: string, time: string): string {
  return encodeURIComponent(directSlotSegment(date, time, venue.timeZone));
}

/**
 * Path of the direct-slot page (and booking POST) of one court-slot; built from the SLOT, never "now" (C10).
 *
 * @param date venue-local `YYYY-MM-DD`; @param time venue-local `HH:MM`.
 * @throws ReservdError (code `unknown_court`) for an unconfigured court; RangeError for a slot in a DST gap.
 */
export function directSlotPath(venue: VenueConfig, court: number, date: string, time: string): string {
  return `${calendarBase(venue, courtCalendarId(venue, court))}/datetime/${encodedSlotSegment(venue, date, time)}`;
}

/** Absolute URL of {@link directSlotPath} on `venue.site.baseUrl`. Same errors. */
export function directSlotUrl(venue: VenueConfig, court: number, date: string, time: string): string {
  return `${venue.site.baseUrl}${directSlotPath(venue, court, date, time)}`;
}

/** `/schedule/<slug>/confirmation/<appointmentId>`: where a successful booking POST redirects (303). */
export function confirmationPath(slug: string, appointmentId: number | string): string {
  return `/schedule/${encodeURIComponent(slug)}/confirmation/${encodeURIComponent(String(appointmentId))}`;
}

/** `/schedule/<slug>/appointments/<appointmentId>/cancel`: GET shows a confirm form, POST cancels. */
export function cancelPath(slug: string, appointmentId: number | string): string {
  return `/schedule/${encodeURIComponent(slug)}/appointments/${encodeURIComponent(String(appointmentId))}/cancel`;
}

/** `/schedule/<slug>/api/appointments?email=<email>`: JSON list of one client's appointments. */
export function appointmentsApiPath(slug: string, email: string): string {
  return `/schedule/${encodeURIComponent(slug)}/api/appointments?email=${encodeURIComponent(email)}`;
}
