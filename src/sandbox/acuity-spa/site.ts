import { setMaxListeners } from 'node:events';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import type { Clock } from '../../clock.js';
import { silentLogger, type SandboxLogger } from '../sandbox-logger.js';
import { IRREGULAR_USAGE_TEXT, notActivePage, placeholderApp, recaptchaScript, shellPage, SPA_RECAPTCHA_SITE_KEY } from './pages.js';
import { createSpaState, type SpaBooking, type SpaClient, type SpaState } from './state.js';
import type { SpaErrorAnswer, SpaSwitchesPatch } from './switches.js';
import {
  addDays,
  isTimeZone,
  localDate,
  localIso,
  parseOffsetDatetime,
  spaCourtSlots,
  spaReleaseAtMs,
  validateSpaVenues,
  type SpaCourt,
  type SpaSlot,
  type SpaVenue,
} from './venues.js';

/**
 * The server side of the Acuity look-alike (docs/acuity-site.md): a single-page-app shell on every scheduler
 * route, the JSON availability / appointment routes, a local fake reCAPTCHA, a per-address 429 limiter and
 * the `/__sandbox/*` test controls. Binds 127.0.0.1 only. Time only from the injected clock (plus skew).
 */

/** Options of {@link createAcuitySpaSite}. */
export interface AcuitySpaSiteOptions {
  clock: Clock;
  venues: SpaVenue[];
  /** Switches at start and after every reset (defaults: {@link defaultSpaSwitches}). */
  switches?: SpaSwitchesPatch;
  logger?: SandboxLogger;
  /**
   * Origin of `confirmationPage` links (`<origin>/schedule.php?owner=…`). Default
   * `https://app.acuityscheduling.com`, as on the real site; tests pass their loopback origin.
   */
  confirmationOrigin?: string;
}

/** Where a slot is addressed from outside: venue by owner key, court by number, venue-local date and time. */
export interface SpaSlotRef {
  ownerKey: string;
  court: number;
  date: string;
  time: string;
}

/** A running (or startable) look-alike site. */
export interface AcuitySpaSite {
  /** Listens on 127.0.0.1:`port` (0 = a free port); resolves to the base URL `http://127.0.0.1:<port>`. */
  start(port: number): Promise<string>;
  /** Cancels competitors and slow answers, closes every connection and the listener. */
  stop(): Promise<void>;
  state: SpaState;
  /** The slot named by `ref`, or undefined when venue, court or time is not on the site. */
  slot(ref: SpaSlotRef): SpaSlot | undefined;
  /** Books `ref` as the control client (marks it taken); undefined when unknown or already taken. */
  book(ref: SpaSlotRef, client?: SpaClient): SpaBooking | undefined;
  /** Schedules a competitor that books `ref` at its release + `delayAfterReleaseMs` (site clock); returns the fire instant, epoch ms. */
  scheduleCompetitor(ref: SpaSlotRef, delayAfterReleaseMs: number): number | undefined;
  /** Resolves when every competitor scheduled so far has fired or been cancelled. */
  competitorsSettled(): Promise<void>;
  /** Resets state and switches and cancels waiting competitors. */
  reset(): void;
}

/** The client every competing booker books as. */
export const SPA_COMPETITOR_CLIENT: SpaClient = { firstName: 'Competidor', lastName: 'Rápido', email: 'competidor@example.test', phone: '+502 5555 0100' };
const CONTROL_CLIENT: SpaClient = { firstName: 'Reserva', lastName: 'Previa', email: 'previa@example.test', phone: '+502 5555 0101' };

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
/** Longest `maxDays` the availability route accepts. */
const MAX_DAYS = 31;
const APPOINTMENTS = '/api/scheduling/v1/appointments';

const envelope = (status: number, error: string, message: string): { status_code: number; error: string; message: string } => ({
  status_code: status,
  error,
  message,
});

/** Creates (does not start) a look-alike site. @throws Error when `venues` is invalid. */
export function createAcuitySpaSite(options: AcuitySpaSiteOptions): AcuitySpaSite {
  const { clock, venues } = options;
  const logger = options.logger ?? silentLogger;
  const confirmationOrigin = (options.confirmationOrigin ?? 'https://app.acuityscheduling.com').replace(/\/$/, '');
  validateSpaVenues(venues);
  const state = createSpaState(clock, options.switches ?? {});
  const byOwner = new Map(venues.map((v) => [v.ownerKey, v]));
  const byType = new Map<number, { venue: SpaVenue; court: SpaCourt }>();
  for (const venue of venues) for (const court of venue.courts) byType.set(court.appointmentTypeId, { venue, court });

  let stopping = new AbortController();
  let competitors = new AbortController();
  setMaxListeners(0, stopping.signal, competitors.signal);
  const running = new Set<Promise<void>>();

  const findSlot = (venue: SpaVenue, court: SpaCourt, date: string, time: string): SpaSlot | undefined =>
    DATE_RE.test(date) ? spaCourtSlots(venue, court, date).find((s) => s.time === time) : undefined;
  const slot = (ref: SpaSlotRef): SpaSlot | undefined => {
    const venue = byOwner.get(ref.ownerKey);
    const court = venue?.courts.find((c) => c.court === ref.court);
    return venue && court ? findSlot(venue, court, ref.date, ref.time) : undefined;
  };

  const appointmentJson = (b: SpaBooking): Record<string, unknown> => {
    const { venue, court } = b.slot;
    const fmt = state.switches().offsetFormat;
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
      datetime: localIso(venue.timeZone, b.slot.startMs, fmt),
      datetimeCreated: localIso(venue.timeZone, b.arrivedAtMs, fmt),
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
  };

  const bookingView = (b: SpaBooking): Record<string, unknown> => ({
    id: b.id,
    hash: b.hash,
    ownerKey: b.slot.venue.ownerKey,
    court: b.slot.court.court,
    appointmentTypeId: b.slot.court.appointmentTypeId,
    calendarId: b.slot.court.calendarId,
    date: b.slot.date,
    time: b.slot.time,
    source: b.source,
    arrivedAtMs: b.arrivedAtMs,
    arrivedAt: Temporal.Instant.fromEpochMilliseconds(b.arrivedAtMs).toString(),
    client: b.client,
  });

  const runCompetitor = async (target: SpaSlot, fireAtMs: number, signal: AbortSignal): Promise<void> => {
    while (!signal.aborted) {
      const leftMs = fireAtMs - state.siteNow();
      if (leftMs <= 0) break;
      await clock.sleep(leftMs, signal);
    }
    if (signal.aborted) return;
    const arrivedAtMs = state.siteNow();
    const booking = state.book(target, SPA_COMPETITOR_CLIENT, target.venue.timeZone, 'competitor', arrivedAtMs);
    logger.info(
      { owner: target.venue.ownerKey, court: target.court.court, date: target.date, time: target.time, lateMs: arrivedAtMs - fireAtMs, booked: booking !== undefined },
      booking ? 'acuity-spa: competitor booked the slot' : 'acuity-spa: competitor found the slot taken',
    );
  };
  const scheduleCompetitor = (ref: SpaSlotRef, delayAfterReleaseMs: number): number | undefined => {
    const target = slot(ref);
    if (!target) return undefined;
    const fireAtMs = spaReleaseAtMs(target) + delayAfterReleaseMs;
    const task = runCompetitor(target, fireAtMs, competitors.signal).catch((err: unknown) => logger.error({ err }, 'acuity-spa: competitor failed'));
    running.add(task);
    void task.finally(() => running.delete(task));
    return fireAtMs;
  };
  const reset = (): void => {
    competitors.abort();
    competitors = new AbortController();
    setMaxListeners(0, competitors.signal);
    state.reset();
  };

  const server = buildServer();

  function buildServer(): FastifyInstance {
    const app = Fastify({ logger: false, forceCloseConnections: true });
    const isPublic = (url: string): boolean => url.startsWith('/schedule') || url.startsWith('/api/') || url.startsWith('/app.js');
    const isBookingXhr = (request: FastifyRequest): boolean => request.url.split('?')[0] === APPOINTMENTS;

    app.addHook('onRequest', async (request, reply) => {
      // The site's own time in the Date header, as a real server's clock would show it.
      void reply.header('date', new Date(state.siteNow()).toUTCString());
      if (!isPublic(request.url)) return;
      const decision = state.admit(request.ip);
      if (!decision.ok) {
        const { perSecond, concurrent } = state.switches().limiter;
        const body = envelope(429, 'too_many_requests', `Rate limit reached. Limit ${perSecond}req/s and ${concurrent} concurrent connections`);
        if (isBookingXhr(request)) state.recordXhr({ method: request.method, url: request.url, arrivedAtMs: state.siteNow(), status: 429, body });
        return reply.code(429).header('retry-after', String(decision.retryAfterS)).send(body);
      }
      reply.raw.once('close', decision.release);
    });
    app.addHook('onSend', async (request, reply, payload) => {
      // The limiter answers at once, as a front proxy would; slowness is the application's.
      if (!isPublic(request.url) || reply.statusCode === 429) return payload;
      const sw = state.switches();
      const delayMs = sw.slowMs + (request.method === 'POST' && isBookingXhr(request) ? sw.slowSubmitMs : 0);
      if (delayMs > 0) await clock.sleep(delayMs, stopping.signal);
      return payload;
    });
    app.setErrorHandler(async (err: { statusCode?: number; message?: string }, request, reply) => {
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        const body = envelope(status, 'bad_request', err.message ?? 'Bad request');
        if (isBookingXhr(request)) state.recordXhr({ method: request.method, url: request.url, arrivedAtMs: state.siteNow(), status, body });
        return reply.code(status).send(body);
      }
      logger.error({ err, url: request.url }, 'acuity-spa: request failed');
      return reply.code(500).send(envelope(500, 'internal_error', 'Internal error'));
    });

    // Pages: the same shell on every scheduler route of a known business.
    const page = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const venue = byOwner.get((request.params as { ownerKey: string }).ownerKey);
      const html = venue ? shellPage(venue, state.switches().language) : notActivePage();
      return reply.code(venue ? 200 : 404).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
    };
    app.get('/schedule/:ownerKey', page);
    app.get('/schedule/:ownerKey/*', page);
    app.get('/app.js', async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').send(placeholderApp({ unofferedSlotPage: state.switches().unofferedSlotPage })),
    );
    app.get('/recaptcha/enterprise.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(recaptchaScript()));
    app.post('/__recaptcha/token', async (request, reply) => {
      const siteKey = (request.body as { siteKey?: unknown } | undefined)?.siteKey;
      const latencyMs = state.switches().captchaLatencyMs;
      if (latencyMs > 0) await clock.sleep(latencyMs, stopping.signal);
      if (siteKey !== SPA_RECAPTCHA_SITE_KEY) return reply.code(400).send({ error: 'invalid site key' });
      return { token: state.mintToken(siteKey) };
    });

    app.get('/api/scheduling/v1/availability/times', async (request, reply) => {
      const q = request.query as Record<string, string | undefined>;
      const bad = (message: string): FastifyReply => reply.code(400).send(envelope(400, 'bad_request', message));
      const venue = byOwner.get(q.owner ?? '');
      if (!venue) return bad('Unknown owner.');
      const found = byType.get(Number(q.appointmentTypeId));
      if (!found || found.venue !== venue) return bad('Invalid appointmentTypeId.');
      if (String(found.court.calendarId) !== q.calendarId) return bad('Invalid calendarId.');
      const timeZone = q.timezone ?? venue.timeZone;
      if (!isTimeZone(timeZone)) return bad('Invalid timezone.');
      const startDate = q.startDate ?? '';
      if (!DATE_RE.test(startDate) || !isDate(startDate)) return bad('Invalid startDate.');
      const maxDays = q.maxDays === undefined ? 5 : Number(q.maxDays);
      if (!Number.isInteger(maxDays) || maxDays < 1 || maxDays > MAX_DAYS) return bad(`maxDays must be 1 to ${MAX_DAYS}.`);
      if (startDate < localDate(timeZone, state.siteNow())) return bad('startDate must not be in the past.');
      const days: Record<string, Array<{ time: string; slotsAvailable: number }>> = {};
      for (let i = 0; i < maxDays; i++) days[addDays(startDate, i)] = [];
      // Venue-local days around the range cover every client-zone day in it.
      const fmt = state.switches().offsetFormat;
      for (let i = -1; i <= maxDays; i++) {
        for (const s of spaCourtSlots(venue, found.court, addDays(startDate, i))) {
          const day = days[localDate(timeZone, s.startMs)];
          if (day && state.isOffered(s)) day.push({ time: localIso(timeZone, s.startMs, fmt), slotsAvailable: 1 });
        }
      }
      return days;
    });

    app.post(APPOINTMENTS, async (request, reply) => {
      const arrivedAtMs = state.siteNow();
      const sw = state.switches();
      const answer = (status: number, body: unknown): FastifyReply => {
        state.recordXhr({ method: 'POST', url: request.url, arrivedAtMs, status, body });
        return reply.code(status).send(body);
      };
      const fail = (a: SpaErrorAnswer, message: string): FastifyReply => answer(a.status, envelope(a.status, a.error, message));
      const body = request.body;
      if (typeof body !== 'object' || body === null) return fail(sw.invalid, 'The request body must be a JSON object.');
      const b = body as Record<string, unknown>;
      if (state.checkToken(b.recaptchaToken) === 'fail') {
        return answer(422, envelope(422, 'irregular_usage', IRREGULAR_USAGE_TEXT[sw.language]));
      }
      const str = (k: string): string => (typeof b[k] === 'string' ? (b[k] as string).trim() : '');
      const typeId = Number(b.appointmentTypeID);
      const calendarId = Number(b.calendarID);
      const found = byType.get(typeId);
      if (!found) return fail(sw.invalid, 'Invalid appointmentTypeID.');
      if (found.court.calendarId !== calendarId) return fail(sw.invalid, 'Invalid calendarID.');
      for (const k of ['firstName', 'lastName', 'phone']) if (!str(k)) return fail(sw.invalid, `${k} is required.`);
      if (!EMAIL_RE.test(str('email'))) return fail(sw.invalid, 'email is invalid.');
      const clientTimeZone = b.timezone === undefined ? found.venue.timeZone : str('timezone');
      if (!isTimeZone(clientTimeZone)) return fail(sw.invalid, 'timezone is invalid.');
      const atMs = parseOffsetDatetime(str('datetime'));
      if (atMs === undefined) return fail(sw.invalid, 'datetime is invalid.');
      const { venue, court } = found;
      const target = spaCourtSlots(venue, court, localDate(venue.timeZone, atMs)).find((s) => s.startMs === atMs);
      const notOffered = (): FastifyReply => fail(sw.notOffered, 'The time you have selected is not available.');
      if (!target || target.startMs <= arrivedAtMs) return notOffered();
      if (spaReleaseAtMs(target) > arrivedAtMs && sw.unreleasedPost === 'time_unavailable') return notOffered();
      // Check and commit in one synchronous step: no await between them, so one booking per court-slot.
      const client: SpaClient = { firstName: str('firstName'), lastName: str('lastName'), email: str('email'), phone: str('phone') };
      const booking = state.book(target, client, clientTimeZone, 'client', arrivedAtMs);
      if (!booking) return fail(sw.taken, 'The time you have selected is already booked.');
      const json = appointmentJson(booking);
      if (state.takeLoseAnswer()) {
        state.recordXhr({ method: 'POST', url: request.url, arrivedAtMs, status: 'lost', body: json });
        logger.info({ hash: booking.hash }, 'acuity-spa: booking committed, answer lost on purpose');
        reply.hijack();
        request.raw.socket.destroy();
        return reply;
      }
      return answer(200, json);
    });

    app.get(APPOINTMENTS, async (request, reply) => {
      const arrivedAtMs = state.siteNow();
      const q = request.query as Record<string, string | string[] | undefined>;
      const answer = (status: number, body: unknown): FastifyReply => {
        state.recordXhr({ method: 'GET', url: request.url, arrivedAtMs, status, body });
        return reply.code(status).send(body);
      };
      const venue = typeof q.owner === 'string' ? byOwner.get(q.owner) : undefined;
      if (!venue) return answer(400, envelope(400, 'bad_request', 'Unknown owner.'));
      const raw = q['appointmentIds[]'] ?? q.appointmentIds;
      const hashes = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      // Lookup by hash only: a client cannot list bookings by e-mail.
      if (hashes.length === 0) return answer(400, envelope(400, 'bad_request', 'appointmentIds[] is required.'));
      const appointments = hashes
        .map((h) => state.byHash(h))
        .filter((bk): bk is SpaBooking => bk !== undefined && bk.slot.venue === venue)
        .map(appointmentJson);
      return answer(200, { appointments });
    });

    registerControls(app);
    return app;
  }

  function registerControls(app: FastifyInstance): void {
    const ref = (body: unknown): SpaSlotRef | undefined => {
      const b = (body ?? {}) as Partial<Record<keyof SpaSlotRef, unknown>>;
      return typeof b.ownerKey === 'string' && typeof b.court === 'number' && typeof b.date === 'string' && typeof b.time === 'string'
        ? { ownerKey: b.ownerKey, court: b.court, date: b.date, time: b.time }
        : undefined;
    };
    const clockView = (): Record<string, unknown> => ({
      siteNowMs: state.siteNow(),
      siteNow: Temporal.Instant.fromEpochMilliseconds(state.siteNow()).toString(),
      skewMs: state.switches().skewMs,
    });
    app.get('/__sandbox/bookings', async () => state.bookings().map(bookingView));
    app.get('/__sandbox/xhrs', async () =>
      state.xhrs().map((x) => ({ ...x, arrivedAt: Temporal.Instant.fromEpochMilliseconds(x.arrivedAtMs).toString() })),
    );
    app.get('/__sandbox/switches', async () => state.switches());
    app.post('/__sandbox/switches', async (request, reply) => {
      try {
        return state.setSwitches((request.body ?? {}) as SpaSwitchesPatch);
      } catch (err) {
        return reply.code(400).send({ error: (err as Error).message });
      }
    });
    app.get('/__sandbox/clock', async () => clockView());
    app.post('/__sandbox/clock', async (request, reply) => {
      const skewMs = (request.body as { skewMs?: unknown } | undefined)?.skewMs;
      if (typeof skewMs !== 'number' || !Number.isFinite(skewMs)) return reply.code(400).send({ error: 'skewMs must be a number' });
      state.setSwitches({ skewMs });
      return clockView();
    });
    app.get('/__sandbox/release', async (request, reply) => {
      const q = request.query as Record<string, string | undefined>;
      const target = slot({ ownerKey: q.ownerKey ?? '', court: Number(q.court), date: q.date ?? '', time: q.time ?? '' });
      if (!target) return reply.code(404).send({ error: 'unknown slot' });
      return {
        startAt: Temporal.Instant.fromEpochMilliseconds(target.startMs).toString(),
        releaseAt: Temporal.Instant.fromEpochMilliseconds(spaReleaseAtMs(target)).toString(),
        offered: state.isOffered(target),
      };
    });
    app.post('/__sandbox/book', async (request, reply) => {
      const r = ref(request.body);
      const target = r && slot(r);
      if (!target) return reply.code(404).send({ error: 'unknown slot' });
      const booking = state.book(target, CONTROL_CLIENT, target.venue.timeZone, 'control', state.siteNow());
      return booking ? bookingView(booking) : reply.code(409).send({ error: 'slot already booked' });
    });
    app.post('/__sandbox/competitors', async (request, reply) => {
      const r = ref(request.body);
      const delayMs = (request.body as { delayAfterReleaseMs?: unknown } | undefined)?.delayAfterReleaseMs ?? 0;
      if (typeof delayMs !== 'number' || !Number.isFinite(delayMs)) return reply.code(400).send({ error: 'delayAfterReleaseMs must be a number' });
      const fireAtMs = r && scheduleCompetitor(r, delayMs);
      if (fireAtMs === undefined) return reply.code(404).send({ error: 'unknown slot' });
      return { fireAtMs, fireAt: Temporal.Instant.fromEpochMilliseconds(fireAtMs).toString() };
    });
    app.post('/__sandbox/reset', async () => {
      reset();
      return { ok: true };
    });
  }

  return {
    async start(port) {
      stopping = new AbortController();
      // Every slow answer in flight listens on this signal (up to the concurrent limit and more).
      setMaxListeners(0, stopping.signal);
      await server.listen({ host: '127.0.0.1', port });
      const address = server.server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      logger.info({ port: bound, venues: venues.map((v) => v.ownerKey) }, 'acuity-spa: listening');
      return `http://127.0.0.1:${bound}`;
    },
    async stop() {
      competitors.abort();
      stopping.abort();
      await server.close();
    },
    state,
    slot,
    book(r, client = CONTROL_CLIENT) {
      const target = slot(r);
      return target ? state.book(target, client, target.venue.timeZone, 'control', state.siteNow()) : undefined;
    },
    scheduleCompetitor,
    competitorsSettled: async () => {
      await Promise.all([...running]);
    },
    reset,
  };
}

function isDate(date: string): boolean {
  try {
    return Temporal.PlainDate.from(date, { overflow: 'reject' }).toString() === date;
  } catch {
    return false;
  }
}

