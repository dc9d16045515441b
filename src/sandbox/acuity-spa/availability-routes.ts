import type { FastifyInstance } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import { errorEnvelope } from './envelope.js';
import { sendPaddedJson } from './hostile.js';
import type { SpaSiteContext } from './site-context.js';
import type { SpaVenueCourt } from './venue-catalog.js';
import { addDays, isTimeZone, localDate, localIso, spaCourtSlots } from './venues.js';

/** Longest `maxDays` the availability route accepts. */
const MAX_DAYS = 31;
/** `maxDays` when the query has none. */
const DEFAULT_DAYS = 5;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** A valid availability query. */
interface TimesQuery {
  found: SpaVenueCourt;
  /** Zone the client asked the days and times in. */
  timeZone: string;
  startDate: string;
  maxDays: number;
}

/** The offered times of each requested day, `{ "YYYY-MM-DD": [{ time, slotsAvailable }] }`. */
type TimesAnswer = Record<string, Array<{ time: string; slotsAvailable: number }>>;

/**
 * `GET /api/scheduling/v1/availability/times?owner&appointmentTypeId&calendarId&startDate&maxDays&timezone`:
 * the offered times of one court, every requested day present; 400 on a bad or past query.
 */
export function registerAvailabilityRoutes(app: FastifyInstance, ctx: SpaSiteContext): void {
  app.get('/api/scheduling/v1/availability/times', async (request, reply) => {
    const query = readTimesQuery(ctx, request.query as Record<string, string | undefined>);
    if (typeof query === 'string') return reply.code(400).send(errorEnvelope(400, 'bad_request', query));
    const huge = ctx.state.switches().hugeAnswer;
    return huge.times ? sendPaddedJson(reply, 200, offeredTimes(ctx, query), huge.bytes) : offeredTimes(ctx, query);
  });
}

/** The query, or the message of the first thing wrong with it. */
function readTimesQuery(ctx: SpaSiteContext, q: Record<string, string | undefined>): TimesQuery | string {
  const venue = ctx.catalog.venue(q.owner ?? '');
  if (!venue) return 'Unknown owner.';
  const found = ctx.catalog.court(Number(q.appointmentTypeId));
  if (!found || found.venue !== venue) return 'Invalid appointmentTypeId.';
  if (String(found.court.calendarId) !== q.calendarId) return 'Invalid calendarId.';
  const timeZone = q.timezone ?? venue.timeZone;
  if (!isTimeZone(timeZone)) return 'Invalid timezone.';
  const startDate = q.startDate ?? '';
  if (!DATE_RE.test(startDate) || !isDate(startDate)) return 'Invalid startDate.';
  const maxDays = q.maxDays === undefined ? DEFAULT_DAYS : Number(q.maxDays);
  if (!Number.isInteger(maxDays) || maxDays < 1 || maxDays > MAX_DAYS) return `maxDays must be 1 to ${MAX_DAYS}.`;
  if (startDate < localDate(timeZone, ctx.state.siteNow())) return 'startDate must not be in the past.';
  return { found, timeZone, startDate, maxDays };
}

/** Every requested day (empty when nothing is offered), with the offered times in the client's zone. */
function offeredTimes(ctx: SpaSiteContext, query: TimesQuery): TimesAnswer {
  const { found, timeZone, startDate, maxDays } = query;
  const days: TimesAnswer = {};
  for (let i = 0; i < maxDays; i++) days[addDays(startDate, i)] = [];
  // Venue-local days around the range cover every client-zone day in it.
  const fmt = ctx.state.switches().offsetFormat;
  for (let i = -1; i <= maxDays; i++) {
    for (const s of spaCourtSlots(found.venue, found.court, addDays(startDate, i))) {
      const day = days[localDate(timeZone, s.startMs)];
      if (day && ctx.state.isOffered(s)) day.push({ time: localIso(timeZone, s.startMs, fmt), slotsAvailable: 1 });
    }
  }
  return days;
}

/** Whether `date` is a real calendar date in `YYYY-MM-DD`. */
function isDate(date: string): boolean {
  try {
    return Temporal.PlainDate.from(date, { overflow: 'reject' }).toString() === date;
  } catch {
    return false;
  }
}
