import type { FastifyInstance } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import { SPA_CONTROL_CLIENT } from './fixed-clients.js';
import type { SpaSiteContext } from './site-context.js';
import type { SpaBooking } from './state.js';
import type { SpaSwitchesPatch } from './switches.js';
import type { SpaSlotRef } from './venue-catalog.js';
import { spaReleaseAtMs } from './venues.js';

/**
 * The test controls under `/__sandbox/*` (never limited or slowed): the booking and XHR logs, switches and
 * clock skew, slot release info, taking a slot, scheduling competitors and reset.
 */

/** What the controls do beyond the state: the site's competitors and its full reset. */
export interface SpaControlActions {
  /** Schedules a competitor for `ref`; the fire instant (epoch ms, site clock), undefined when unknown. */
  scheduleCompetitor(ref: SpaSlotRef, delayAfterReleaseMs: number): number | undefined;
  /** Resets state and switches and cancels waiting competitors. */
  reset(): void;
}

const iso = (epochMs: number): string => Temporal.Instant.fromEpochMilliseconds(epochMs).toString();

/** Registers every `/__sandbox/*` route on `app`. */
export function registerControlRoutes(app: FastifyInstance, ctx: SpaSiteContext, actions: SpaControlActions): void {
  registerLogControls(app, ctx);
  registerSettingControls(app, ctx);
  registerSlotControls(app, ctx, actions);
}

/** A booking as `GET /__sandbox/bookings` lists it. */
function bookingView(b: SpaBooking): Record<string, unknown> {
  return {
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
    arrivedAt: iso(b.arrivedAtMs),
    client: b.client,
  };
}

/** The slot reference in a control body, if it has every field with the right type. */
function slotRef(body: unknown): SpaSlotRef | undefined {
  const b = (body ?? {}) as Partial<Record<keyof SpaSlotRef, unknown>>;
  return typeof b.ownerKey === 'string' && typeof b.court === 'number' && typeof b.date === 'string' && typeof b.time === 'string'
    ? { ownerKey: b.ownerKey, court: b.court, date: b.date, time: b.time }
    : undefined;
}

/** `GET bookings` and `GET xhrs`. */
function registerLogControls(app: FastifyInstance, { state }: SpaSiteContext): void {
  app.get('/__sandbox/bookings', async () => state.bookings().map(bookingView));
  app.get('/__sandbox/xhrs', async () => state.xhrs().map((x) => ({ ...x, arrivedAt: iso(x.arrivedAtMs) })));
}

/** `GET/POST switches` (partial patch, 400 when invalid) and `GET/POST clock {skewMs}`. */
function registerSettingControls(app: FastifyInstance, { state }: SpaSiteContext): void {
  const clockView = (): Record<string, unknown> => ({ siteNowMs: state.siteNow(), siteNow: iso(state.siteNow()), skewMs: state.switches().skewMs });
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
}

/** `GET release`, `POST book`, `POST competitors` and `POST reset`. */
function registerSlotControls(app: FastifyInstance, { state, catalog }: SpaSiteContext, actions: SpaControlActions): void {
  app.get('/__sandbox/release', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const target = catalog.slot({ ownerKey: q.ownerKey ?? '', court: Number(q.court), date: q.date ?? '', time: q.time ?? '' });
    if (!target) return reply.code(404).send({ error: 'unknown slot' });
    return { startAt: iso(target.startMs), releaseAt: iso(spaReleaseAtMs(target)), offered: state.isOffered(target) };
  });
  app.post('/__sandbox/book', async (request, reply) => {
    const r = slotRef(request.body);
    const target = r && catalog.slot(r);
    if (!target) return reply.code(404).send({ error: 'unknown slot' });
    const booking = state.book(target, SPA_CONTROL_CLIENT, target.venue.timeZone, 'control', state.siteNow());
    return booking ? bookingView(booking) : reply.code(409).send({ error: 'slot already booked' });
  });
  app.post('/__sandbox/competitors', async (request, reply) => {
    const r = slotRef(request.body);
    const delayMs = (request.body as { delayAfterReleaseMs?: unknown } | undefined)?.delayAfterReleaseMs ?? 0;
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs)) return reply.code(400).send({ error: 'delayAfterReleaseMs must be a number' });
    const fireAtMs = r && actions.scheduleCompetitor(r, delayMs);
    if (fireAtMs === undefined) return reply.code(404).send({ error: 'unknown slot' });
    return { fireAtMs, fireAt: iso(fireAtMs) };
  });
  app.post('/__sandbox/reset', async () => {
    actions.reset();
    return { ok: true };
  });
}
