import type { FastifyInstance, FastifyReply } from 'fastify';
import { confirmationPath } from '../booking/flows/acuity-urls.js';
import { addDays, localDateTime, parseLocalDate } from '../scheduling/release-time.js';
import { parseClientFields } from './client-fields.js';
import { notFoundPage } from './html.js';
import type { SandboxLogger } from './sandbox-logger.js';
import { slotInstants, type SiteState } from './site-state.js';
import { daySlotTimes, slotFromSegment, type SiteSlot, type VenueIndex } from './site-venues.js';
import {
  badTokenPage,
  calendarPage,
  notOpenYetPage,
  slotFormPage,
  slotUnavailablePage,
  type CalendarEntry,
} from './slot-pages.js';

/** Route of a court's calendar page (Acuity shape; see `src/booking/flows/acuity-urls.ts`). */
const CALENDAR_ROUTE = '/schedule/:slug/appointment/:typeId/calendar/:calendarId';
/** Route of the direct-slot page and its booking POST; `:segment` arrives percent-decoded. */
export const SLOT_ROUTE = `${CALENDAR_ROUTE}/datetime/:segment`;

type CourtParams = { slug: string; typeId: string; calendarId: string };
type SlotParams = CourtParams & { segment: string };

/** What the slot routes need. */
export interface SlotRouteDeps {
  index: VenueIndex;
  state: SiteState;
  logger: SandboxLogger;
}

/** The slot a direct-slot URL names, or undefined (→ 404). */
export function resolveSlot(index: VenueIndex, params: SlotParams): SiteSlot | undefined {
  const court = index.court(params.slug, params.typeId, params.calendarId);
  return court && slotFromSegment(court, params.segment);
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

function isDate(date: string): boolean {
  try {
    parseLocalDate(date);
    return true;
  } catch {
    return false;
  }
}

/** Registers the calendar page, the direct-slot page and the booking POST (validation order in the POST). */
export function registerSlotRoutes(app: FastifyInstance, deps: SlotRouteDeps): void {
  const { index, state, logger } = deps;

  app.get<{ Params: CourtParams; Querystring: { date?: string } }>(CALENDAR_ROUTE, async (request, reply) => {
    const court = index.court(request.params.slug, request.params.typeId, request.params.calendarId);
    if (!court) return html(reply, 404, notFoundPage('No such calendar.'));
    const date = request.query.date ?? localDateTime(state.siteNow(), court.venue.timeZone).date;
    if (!isDate(date)) return html(reply, 404, notFoundPage(`"${date}" is not a date.`));
    const entries: CalendarEntry[] = daySlotTimes(court.venue, date).map((time) => {
      const slot = { ...court, date, time };
      return { time, status: state.slotStatus(slot), releaseAtMs: slotInstants(slot).releaseAtMs };
    });
    return html(reply, 200, calendarPage(court, date, entries, addDays(date, -1), addDays(date, 1)));
  });

  app.get<{ Params: SlotParams }>(SLOT_ROUTE, async (request, reply) => {
    const slot = resolveSlot(index, request.params);
    if (!slot) return html(reply, 404, notFoundPage('No such appointment time.'));
    const status = state.slotStatus(slot);
    if (status === 'open') return html(reply, 200, slotFormPage(slot, state.issueToken(slot)));
    if (status === 'not_open_yet') return html(reply, 200, notOpenYetPage(slot, slotInstants(slot).releaseAtMs));
    return html(reply, 200, slotUnavailablePage(slot));
  });

  // Order matters and mirrors the real site: token, release (site clock), start passed, fields, one booking per slot.
  app.post<{ Params: SlotParams; Body: Record<string, unknown> | undefined }>(SLOT_ROUTE, async (request, reply) => {
    const arrivedAtMs = state.siteNow();
    const slot = resolveSlot(index, request.params);
    if (!slot) return html(reply, 404, notFoundPage('No such appointment time.'));
    const body = request.body && typeof request.body === 'object' ? request.body : {};
    const email = typeof body['client.email'] === 'string' ? body['client.email'] : null;
    const token = typeof body.form_token === 'string' ? body.form_token : undefined;
    const tokenCheck = state.takeToken(token, slot);
    if (tokenCheck !== 'ok') {
      state.recordSubmit(slot, arrivedAtMs, 'bad_token', email);
      logger.warn({ venue: slot.venueId, court: slot.court, date: slot.date, time: slot.time, tokenCheck }, 'sandbox: booking refused, bad form token');
      return html(reply, 403, badTokenPage(slot));
    }
    const { releaseAtMs, startAtMs } = slotInstants(slot);
    if (arrivedAtMs < releaseAtMs) {
      state.recordSubmit(slot, arrivedAtMs, 'not_open_yet', email);
      return html(reply, 409, notOpenYetPage(slot, releaseAtMs));
    }
    if (arrivedAtMs >= startAtMs) {
      state.recordSubmit(slot, arrivedAtMs, 'slot_taken', email);
      return html(reply, 409, slotUnavailablePage(slot));
    }
    const { values, errors } = parseClientFields(body);
    if (Object.keys(errors).length > 0) {
      state.recordSubmit(slot, arrivedAtMs, 'invalid', email);
      return html(reply, 400, slotFormPage(slot, state.issueToken(slot), values, errors));
    }
    const booking = state.book(slot, values, 'client', arrivedAtMs);
    if (!booking) {
      state.recordSubmit(slot, arrivedAtMs, 'slot_taken', email);
      return html(reply, 409, slotUnavailablePage(slot));
    }
    state.recordSubmit(slot, arrivedAtMs, 'booked', email);
    logger.info(
      { venue: slot.venueId, court: slot.court, date: slot.date, time: slot.time, appointmentId: booking.id, fireLagMs: arrivedAtMs - releaseAtMs },
      'sandbox: appointment booked',
    );
    return reply.code(303).header('location', confirmationPath(slot.venue.site.slug, booking.id)).send();
  });
}
