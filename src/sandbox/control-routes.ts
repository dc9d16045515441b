import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { COMPETITOR_CLIENT, type Competitors } from './competitors.js';
import type { SiteState } from './site-state.js';
import { isSlotTime, type SiteSlot, type VenueIndex } from './site-venues.js';

/**
 * Test and benchmark controls under `/__sandbox/` (never blocked or slowed): inspect bookings and every
 * booking POST, reset, flip fault switches, book as a competitor.
 */

const controlSchema = z.strictObject({
  clockSkewMs: z.number().int().min(-86_400_000).max(86_400_000).optional(),
  blocked: z.boolean().optional(),
  slowMs: z.number().int().min(0).max(600_000).optional(),
  slowSubmitMs: z.number().int().min(0).max(600_000).optional(),
});

const slotSchema = z.object({
  venue: z.string().min(1),
  court: z.number().int().positive(),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  time: z.string().regex(/^\d{2}:\d{2}$/),
});

const bookSchema = slotSchema.extend({
  firstName: z.string().min(1).optional(),
  lastName: z.string().min(1).optional(),
  email: z.string().min(3).optional(),
  phone: z.string().min(1).optional(),
});

const competitorSchema = slotSchema.extend({ delayAfterReleaseMs: z.number().int().min(0).max(3_600_000) });

/** What the control routes need. */
export interface ControlRouteDeps {
  index: VenueIndex;
  state: SiteState;
  competitors: Competitors;
  /** Full reset (state + competitors). */
  reset(): void;
}

/**
 * The slot named by venue id, court number, date and time, or undefined when any part is unknown.
 */
export function slotByName(index: VenueIndex, input: z.infer<typeof slotSchema>): SiteSlot | undefined {
  const court = index.courtByNumber(input.venue, input.court);
  if (!court || !isSlotTime(court.venue, input.date, input.time)) return undefined;
  return { ...court, date: input.date, time: input.time };
}

function parseOr400<T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  void reply.code(400).send({ error: 'bad_request', message: z.prettifyError(result.error) });
  return undefined;
}

/** Registers every `/__sandbox/*` route. */
export function registerControlRoutes(app: FastifyInstance, deps: ControlRouteDeps): void {
  const { index, state, competitors } = deps;
  const unknownSlot = (reply: FastifyReply): FastifyReply =>
    reply.code(404).send({ error: 'not_found', message: 'unknown venue, court, or slot time' });

  app.get('/__sandbox/bookings', async () => state.bookings());
  app.get('/__sandbox/submits', async () => state.submits());
  app.get('/__sandbox/clock', async () => ({ siteNowAt: new Date(state.siteNow()).toISOString(), ...state.control }));
  app.post('/__sandbox/reset', async () => {
    deps.reset();
    return { ok: true };
  });
  app.post('/__sandbox/control', async (request, reply) => {
    const patch = parseOr400(controlSchema, request.body, reply);
    if (!patch) return reply;
    for (const [key, value] of Object.entries(patch)) if (value !== undefined) Object.assign(state.control, { [key]: value });
    return { ...state.control };
  });
  app.post('/__sandbox/book', async (request, reply) => {
    const input = parseOr400(bookSchema, request.body, reply);
    if (!input) return reply;
    const slot = slotByName(index, input);
    if (!slot) return unknownSlot(reply);
    const client = {
      firstName: input.firstName ?? COMPETITOR_CLIENT.firstName,
      lastName: input.lastName ?? COMPETITOR_CLIENT.lastName,
      email: input.email ?? COMPETITOR_CLIENT.email,
      phone: input.phone ?? COMPETITOR_CLIENT.phone,
    };
    const booking = state.book(slot, client, 'competitor', state.siteNow());
    if (!booking) return reply.code(409).send({ error: 'slot_taken', message: 'this court-slot is already booked' });
    return reply.code(201).send(booking);
  });
  app.post('/__sandbox/competitors', async (request, reply) => {
    const input = parseOr400(competitorSchema, request.body, reply);
    if (!input) return reply;
    const slot = slotByName(index, input);
    if (!slot) return unknownSlot(reply);
    const fireAtMs = competitors.schedule(slot, input.delayAfterReleaseMs);
    return reply.code(202).send({ scheduled: true, fireAt: new Date(fireAtMs).toISOString() });
  });
}
