import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appointmentJson } from './appointment-json.js';
import { APPOINTMENTS_PATH } from './appointments-path.js';
import { errorEnvelope } from './envelope.js';
import { misconfirmed, sendPaddedJson } from './hostile.js';
import { IRREGULAR_USAGE_TEXT } from './pages.js';
import type { SpaSiteContext } from './site-context.js';
import type { SpaBooking, SpaClient } from './state.js';
import type { SpaErrorAnswer, SpaSwitches } from './switches.js';
import type { SpaVenueCourt } from './venue-catalog.js';
import { isTimeZone, localDate, parseOffsetDatetime, spaCourtSlots, spaReleaseAtMs, type SpaSlot } from './venues.js';

/**
 * The booking XHRs: `POST /api/scheduling/v1/appointments` (book) and `GET …?owner&appointmentIds[]`
 * (lookup by hash). Every call is logged with its arrival, status and body.
 *
 * POST check order: JSON object → captcha → type / calendar / client fields / datetime (`invalid`) → time on
 * the grid, not started, released (`notOffered`) → free (`taken`) → commit.
 */

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** A status and the JSON body to answer with. */
interface Answer {
  status: number;
  body: unknown;
}

/** A booking POST whose fields are valid (not yet checked against the grid). */
interface BookingRequest {
  found: SpaVenueCourt;
  client: SpaClient;
  clientTimeZone: string;
  /** The requested start, epoch ms. */
  atMs: number;
}

/** Registers the booking POST and the lookup GET on `app`. */
export function registerAppointmentRoutes(app: FastifyInstance, ctx: SpaSiteContext): void {
  app.post(APPOINTMENTS_PATH, async (request, reply) => postAppointment(ctx, request, reply));
  app.get(APPOINTMENTS_PATH, async (request, reply) => {
    const arrivedAtMs = ctx.state.siteNow();
    const { status, body } = lookup(ctx, request.query as Record<string, string | string[] | undefined>);
    ctx.state.recordXhr({ method: 'GET', url: request.url, arrivedAtMs, status, body });
    return reply.code(status).send(body);
  });
}

const fail = (a: SpaErrorAnswer, message: string): Answer => ({ status: a.status, body: errorEnvelope(a.status, a.error, message) });

/** Checks and commits one booking POST; with `loseAnswerAfterCommit` on, commits and destroys the socket. */
async function postAppointment(ctx: SpaSiteContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { state } = ctx;
  const arrivedAtMs = state.siteNow();
  const sw = state.switches();
  const answer = ({ status, body }: Answer): FastifyReply => {
    state.recordXhr({ method: 'POST', url: request.url, arrivedAtMs, status, body, request: request.body });
    return reply.code(status).send(body);
  };
  const parsed = readBookingRequest(ctx, request.body, sw);
  if ('status' in parsed) return answer(parsed);
  const target = offeredTarget(parsed, arrivedAtMs, sw);
  if (!target) return answer(fail(sw.notOffered, 'The time you have selected is not available.'));
  // Check and commit in one synchronous step: no await between them, so one booking per court-slot.
  const booking = state.book(target, parsed.client, parsed.clientTimeZone, 'client', arrivedAtMs);
  if (!booking) return answer(fail(sw.taken, 'The time you have selected is already booked.'));
  const json = misconfirmed(appointmentJson(booking, state.switches().offsetFormat, ctx.confirmationOrigin), sw, 'answer', booking.slot.venue.grid.slotLengthS);
  if (!state.takeLoseAnswer()) {
    if (!sw.hugeAnswer.booking) return answer({ status: 200, body: json });
    state.recordXhr({ method: 'POST', url: request.url, arrivedAtMs, status: 200, body: json, request: request.body });
    return sendPaddedJson(reply, 200, json, sw.hugeAnswer.bytes);
  }
  state.recordXhr({ method: 'POST', url: request.url, arrivedAtMs, status: 'lost', body: json, request: request.body });
  ctx.logger.info({ hash: booking.hash }, 'acuity-spa: booking committed, answer lost on purpose');
  reply.hijack();
  request.raw.socket.destroy();
  return reply;
}

/** The POST's fields, or the answer refusing it: not an object or bad fields (`invalid`), flagged captcha (422). */
function readBookingRequest(ctx: SpaSiteContext, body: unknown, sw: SpaSwitches): BookingRequest | Answer {
  if (typeof body !== 'object' || body === null) return fail(sw.invalid, 'The request body must be a JSON object.');
  const b = body as Record<string, unknown>;
  if (ctx.state.checkToken(b.recaptchaToken) === 'fail') {
    return { status: 422, body: errorEnvelope(422, 'irregular_usage', IRREGULAR_USAGE_TEXT[sw.language]) };
  }
  const str = (k: string): string => (typeof b[k] === 'string' ? (b[k] as string).trim() : '');
  const found = ctx.catalog.court(Number(b.appointmentTypeID));
  if (!found) return fail(sw.invalid, 'Invalid appointmentTypeID.');
  if (found.court.calendarId !== Number(b.calendarID)) return fail(sw.invalid, 'Invalid calendarID.');
  for (const k of ['firstName', 'lastName', 'phone']) if (!str(k)) return fail(sw.invalid, `${k} is required.`);
  if (!EMAIL_RE.test(str('email'))) return fail(sw.invalid, 'email is invalid.');
  const clientTimeZone = b.timezone === undefined ? found.venue.timeZone : str('timezone');
  if (!isTimeZone(clientTimeZone)) return fail(sw.invalid, 'timezone is invalid.');
  const atMs = parseOffsetDatetime(str('datetime'));
  if (atMs === undefined) return fail(sw.invalid, 'datetime is invalid.');
  const client: SpaClient = { firstName: str('firstName'), lastName: str('lastName'), email: str('email'), phone: str('phone') };
  return { found, client, clientTimeZone, atMs };
}

/** The requested slot when it is on the grid, not started and (unless `unreleasedPost: book`) released. */
function offeredTarget(req: BookingRequest, arrivedAtMs: number, sw: SpaSwitches): SpaSlot | undefined {
  const { venue, court } = req.found;
  const target = spaCourtSlots(venue, court, localDate(venue.timeZone, req.atMs)).find((s) => s.startMs === req.atMs);
  if (!target || target.startMs <= arrivedAtMs) return undefined;
  if (spaReleaseAtMs(target) > arrivedAtMs && sw.unreleasedPost === 'time_unavailable') return undefined;
  return target;
}

/** The lookup's answer: the bookings of the owner with the given hashes (never a lookup by e-mail). */
function lookup(ctx: SpaSiteContext, q: Record<string, string | string[] | undefined>): Answer {
  const venue = typeof q.owner === 'string' ? ctx.catalog.venue(q.owner) : undefined;
  if (!venue) return { status: 400, body: errorEnvelope(400, 'bad_request', 'Unknown owner.') };
  const raw = q['appointmentIds[]'] ?? q.appointmentIds;
  const hashes = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  // Lookup by hash only: a client cannot list bookings by e-mail.
  if (hashes.length === 0) return { status: 400, body: errorEnvelope(400, 'bad_request', 'appointmentIds[] is required.') };
  const fmt = ctx.state.switches().offsetFormat;
  const appointments = hashes
    .map((h) => ctx.state.byHash(h))
    .filter((bk): bk is SpaBooking => bk !== undefined && bk.slot.venue === venue)
    .map((bk) => misconfirmed(appointmentJson(bk, fmt, ctx.confirmationOrigin), ctx.state.switches(), 'lookup', bk.slot.venue.grid.slotLengthS));
  return { status: 200, body: { appointments } };
}
