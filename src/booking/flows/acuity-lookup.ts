import { z } from 'zod';
import type { VenueConfig } from '../../config/schema.js';

/**
 * Looking up a client's appointments on an Acuity site, for reconciliation after a crash between the
 * intent row and the outcome (look the booking up before any retry; docs/architecture.md, reconciliation).
 */

/** One appointment as the site lists it (`GET /schedule/<slug>/api/appointments?email=`). */
const acuityAppointmentSchema = z.object({
  id: z.number().int(),
  court: z.number().int(),
  calendarId: z.string(),
  /** Venue-local `YYYY-MM-DD` / `HH:MM`. */
  date: z.string(),
  time: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  email: z.string(),
  confirmationCode: z.string(),
  status: z.enum(['booked', 'cancelled']),
});
/** One appointment of {@link lookupAcuityAppointments}; see {@link acuityAppointmentSchema}. */
export type AcuityAppointment = z.infer<typeof acuityAppointmentSchema>;

/** Fetches a URL and returns its JSON body. */
export type JsonRequest = (url: string) => Promise<unknown>;

/** `url` without its query: the lookup's query is the client's email, which never reaches a message or a log. */
function withoutQuery(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at);
}

/**
 * A {@link JsonRequest} on global `fetch`.
 *
 * @throws Error naming the URL without its query string (the query holds an email) for a non-2xx status or
 *   a body that is not JSON; fetch's own errors (connection refused, aborted by `signal`) pass through.
 */
export function createFetchJson(signal?: AbortSignal): JsonRequest {
  return async (url) => {
    const response = await fetch(url, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
    if (!response.ok) throw new Error(`GET ${withoutQuery(url)} answered HTTP ${response.status}`);
    try {
      return await response.json();
    } catch (err) {
      throw new Error(`GET ${withoutQuery(url)} did not return JSON`, { cause: err });
    }
  };
}

/**
 * Every appointment of `email` at `venue` (booked and cancelled), as the site reports it.
 *
 * @throws Error from `request`, or naming the venue when the answer is not a list of appointments.
 */
export async function lookupAcuityAppointments(request: JsonRequest, venue: VenueConfig, email: string): Promise<AcuityAppointment[]> {
  const body = await request(`${venue.site.baseUrl}/api/scheduling/v1/appointments?owner=${venue.site.ownerKey}&email=${encodeURIComponent(email)}`);
  const parsed = z.array(acuityAppointmentSchema).safeParse(body);
  if (!parsed.success) {
    throw new Error(`venue "${venue.name}": appointments lookup returned an unexpected shape: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}

/**
 * Looks up every appointment of `email` at `venue` (booked and cancelled), aborted by `signal`. The
 * scheduler reconciles unknown booking outcomes through it; the composition root wires it.
 *
 * @throws Error when the site cannot be reached, answers with an error status, or lists something that is
 *   not appointments; the message never contains the email.
 */
export type AppointmentLookup = (venue: VenueConfig, email: string, signal: AbortSignal) => Promise<AcuityAppointment[]>;

/** The {@link AppointmentLookup} of Acuity sites (`venue.site.adapter: 'acuity'`), over global `fetch`. */
export const acuityAppointmentLookup: AppointmentLookup = (venue, email, signal) => lookupAcuityAppointments(createFetchJson(signal), venue, email);
