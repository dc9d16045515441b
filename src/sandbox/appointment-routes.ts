import type { FastifyInstance, FastifyReply } from 'fastify';
import { notFoundPage } from './html.js';
import type { SandboxLogger } from './sandbox-logger.js';
import type { SandboxBooking, SiteState } from './site-state.js';
import { cancelPage, confirmationPage } from './slot-pages.js';
import type { VenueIndex } from './site-venues.js';

/** One appointment in `GET /schedule/<slug>/api/appointments?email=...`. */
type AppointmentJson = Pick<
  SandboxBooking,
  'id' | 'court' | 'calendarId' | 'date' | 'time' | 'firstName' | 'lastName' | 'email' | 'confirmationCode' | 'status'
>;

/** What the appointment routes need. */
export interface AppointmentRouteDeps {
  index: VenueIndex;
  state: SiteState;
  logger: SandboxLogger;
}

type AppointmentParams = { slug: string; id: string };

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

function toJson(b: SandboxBooking): AppointmentJson {
  const { id, court, calendarId, date, time, firstName, lastName, email, confirmationCode, status } = b;
  return { id, court, calendarId, date, time, firstName, lastName, email, confirmationCode, status };
}

/** Registers the confirmation page, the cancel link (GET form, POST cancels) and the appointments lookup. */
export function registerAppointmentRoutes(app: FastifyInstance, deps: AppointmentRouteDeps): void {
  const { index, state, logger } = deps;
  const find = (params: AppointmentParams): { booking: SandboxBooking; venueName: string } | undefined => {
    const venue = index.bySlug(params.slug);
    const booking = /^\d+$/.test(params.id) ? state.bookingById(Number(params.id)) : undefined;
    return venue && booking && booking.venue === venue.venueId ? { booking, venueName: venue.venue.name } : undefined;
  };

  app.get<{ Params: AppointmentParams }>('/schedule/:slug/confirmation/:id', async (request, reply) => {
    const found = find(request.params);
    if (!found) return html(reply, 404, notFoundPage('No such appointment.'));
    return html(reply, 200, confirmationPage(found.booking, found.venueName, request.params.slug));
  });

  app.get<{ Params: AppointmentParams }>('/schedule/:slug/appointments/:id/cancel', async (request, reply) => {
    const found = find(request.params);
    if (!found) return html(reply, 404, notFoundPage('No such appointment.'));
    return html(reply, 200, cancelPage(found.booking, request.params.slug, found.booking.status === 'cancelled'));
  });

  app.post<{ Params: AppointmentParams }>('/schedule/:slug/appointments/:id/cancel', async (request, reply) => {
    const found = find(request.params);
    if (!found) return html(reply, 404, notFoundPage('No such appointment.'));
    const booking = state.cancel(found.booking.id) ?? found.booking;
    logger.info({ venue: booking.venue, court: booking.court, date: booking.date, time: booking.time, appointmentId: booking.id }, 'sandbox: appointment cancelled');
    return html(reply, 200, cancelPage(booking, request.params.slug, true));
  });

  app.get<{ Params: { slug: string }; Querystring: { email?: string } }>('/schedule/:slug/api/appointments', async (request, reply) => {
    const venue = index.bySlug(request.params.slug);
    if (!venue) return reply.code(404).send({ error: 'not_found', message: 'no such scheduling page' });
    const email = request.query.email?.trim().toLowerCase();
    if (!email) return reply.code(400).send({ error: 'bad_request', message: 'query parameter "email" is required' });
    const list = state.bookings().filter((b) => b.venue === venue.venueId && b.email.toLowerCase() === email);
    return reply.code(200).send(list.map(toJson));
  });
}
