import { calendarPath, cancelPath, directSlotPath } from '../booking/flows/acuity-urls.js';
import { localDateTime, slotDatetimeSegment } from '../scheduling/release-time.js';
import { esc, page } from './html.js';
import type { SandboxBooking, SandboxClient } from './site-state.js';
import type { SiteCourt, SiteSlot } from './site-venues.js';

/** HTML of the Acuity-like pages about courts and slots (pure: values in, HTML out). */

/** One time of a calendar day with what the site shows for it. */
export interface CalendarEntry {
  time: string;
  status: 'open' | 'not_open_yet' | 'taken' | 'started';
  /** Release instant, epoch ms. */
  releaseAtMs: number;
}

function slotTitle(slot: SiteSlot): string {
  return `${slot.venue.name} — Court ${slot.court} — ${slot.date} ${slot.time}`;
}

/** Calendar of one court and day: open times as `button.time-selection` (GET forms to the slot page). */
export function calendarPage(court: SiteCourt, date: string, entries: CalendarEntry[], prevDate: string, nextDate: string): string {
  const zone = court.venue.timeZone;
  const open = entries
    .filter((e) => e.status === 'open')
    .map((e) => {
      const segment = slotDatetimeSegment(date, e.time, zone);
      const action = directSlotPath(court.venue, court.court, date, e.time);
      return `<li><form method="get" action="${esc(action)}"><button type="submit" class="time-selection" data-time="${esc(segment)}">${esc(e.time)}</button></form></li>`;
    });
  const unreleased = entries
    .filter((e) => e.status === 'not_open_yet')
    .map((e) => {
      const opens = localDateTime(e.releaseAtMs, zone);
      return `<li class="time-unreleased" data-time="${esc(e.time)}">${esc(e.time)} — opens ${esc(opens.date)} ${esc(opens.time)}</li>`;
    });
  const nav = (d: string, label: string, cls: string): string =>
    `<a class="${cls}" href="${esc(calendarPath(court.venue, court.court, d))}">${label}</a>`;
  return page(
    `${court.venue.name} — Court ${court.court} — ${date}`,
    `<h1>${esc(court.venue.name)} — Court ${court.court}</h1>
<p class="calendar-date" data-date="${esc(date)}">${esc(date)} (${esc(zone)})</p>
<nav>${nav(prevDate, 'Previous day', 'prev-day')} ${nav(nextDate, 'Next day', 'next-day')}</nav>
<h2>Available times</h2>
${open.length > 0 ? `<ul class="times">\n${open.join('\n')}\n</ul>` : '<p class="no-times">No times available on this day.</p>'}
${unreleased.length > 0 ? `<h2>Not yet open for booking</h2>\n<ul class="times-unreleased">\n${unreleased.join('\n')}\n</ul>` : ''}`,
  );
}

/** Field name → message, in form order. */
export type FieldErrors = Partial<Record<keyof SandboxClient, string>>;

const FIELDS: { key: keyof SandboxClient; label: string; type: string }[] = [
  { key: 'firstName', label: 'First name', type: 'text' },
  { key: 'lastName', label: 'Last name', type: 'text' },
  { key: 'email', label: 'Email', type: 'email' },
  { key: 'phone', label: 'Phone', type: 'tel' },
];

/** The booking form of an open slot, with a fresh `form_token`; re-shown with errors after a 400. */
export function slotFormPage(slot: SiteSlot, token: string, values: Partial<SandboxClient> = {}, errors: FieldErrors = {}): string {
  const errorItems = FIELDS.filter((f) => errors[f.key]).map(
    (f) => `<li class="field-error" data-field="client.${f.key}">${esc(f.label)}: ${esc(errors[f.key] ?? '')}</li>`,
  );
  const inputs = FIELDS.map(
    (f) => `<p><label for="client-${f.key}">${f.label}</label>
<input id="client-${f.key}" name="client.${f.key}" type="${f.type}" value="${esc(values[f.key] ?? '')}" required></p>`,
  );
  return page(
    slotTitle(slot),
    `<h1>${esc(slotTitle(slot))}</h1>
${errorItems.length > 0 ? `<ul class="form-errors">\n${errorItems.join('\n')}\n</ul>` : ''}
<form id="booking-form" method="post" novalidate>
<input type="hidden" name="form_token" value="${esc(token)}">
${inputs.join('\n')}
<button type="submit" class="btn-confirm">Confirm Appointment</button>
</form>`,
  );
}

/** Shown for a slot not released yet (HTTP 200 on GET, 409 on POST). */
export function notOpenYetPage(slot: SiteSlot, releaseAtMs: number): string {
  const opens = localDateTime(releaseAtMs, slot.venue.timeZone);
  return page(
    slotTitle(slot),
    `<section class="not-open-yet"><h1>${esc(slotTitle(slot))}</h1>
<p>This time is not available for booking yet.</p>
<p class="opens-at">Booking opens ${esc(opens.date)} ${esc(opens.time)}.</p></section>`,
  );
}

/** Shown for a slot already booked (or already started). */
export function slotUnavailablePage(slot: SiteSlot): string {
  return page(
    slotTitle(slot),
    `<section class="slot-unavailable"><h1>${esc(slotTitle(slot))}</h1>
<p>Sorry, this time is no longer available. Please choose another time.</p></section>`,
  );
}

/** Shown when the posted form token is missing, unknown, used, expired or for another slot. */
export function badTokenPage(slot: SiteSlot): string {
  return page(
    slotTitle(slot),
    `<section class="form-expired"><h1>Your session has expired</h1>
<p>This booking form has expired or was already submitted. Please reload the page and try again.</p></section>`,
  );
}

/** The confirmation page of a booking, with the client's name, the code and a cancel link. */
export function confirmationPage(booking: SandboxBooking, venueName: string, slug: string): string {
  return page(
    'Appointment confirmed',
    `<section class="confirmation"><h1>Your appointment is confirmed</h1>
<p>Client: <span class="client-name">${esc(`${booking.firstName} ${booking.lastName}`)}</span></p>
<p>Confirmation code: <strong class="confirmation-code">${esc(booking.confirmationCode)}</strong></p>
<p class="appointment-details" data-court="${booking.court}" data-date="${esc(booking.date)}" data-time="${esc(booking.time)}">${esc(venueName)}, Court ${booking.court}, ${esc(booking.date)} ${esc(booking.time)}</p>
<p class="appointment-status" data-status="${booking.status}">Status: ${booking.status}</p>
<p><a class="cancel-link" href="${esc(cancelPath(slug, booking.id))}">Cancel this appointment</a></p></section>`,
  );
}

/** GET of the cancel link: a form that POSTs the cancellation; after the POST, the cancelled notice. */
export function cancelPage(booking: SandboxBooking, slug: string, done: boolean): string {
  const body = done
    ? `<section class="appointment-cancelled"><h1>Appointment cancelled</h1><p>Appointment ${booking.id} (${esc(booking.date)} ${esc(booking.time)}) is cancelled.</p></section>`
    : `<h1>Cancel appointment ${booking.id}?</h1>
<form id="cancel-form" method="post" action="${esc(cancelPath(slug, booking.id))}"><button type="submit" class="btn-cancel">Cancel appointment</button></form>`;
  return page('Cancel appointment', body);
}
