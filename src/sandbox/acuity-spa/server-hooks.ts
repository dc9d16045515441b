import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isBookingXhr } from './appointments-path.js';
import { errorEnvelope } from './envelope.js';
import { redirectOf } from './hostile.js';
import type { SpaSiteContext } from './site-context.js';

/**
 * Hooks on every request of the site: the site clock in the `Date` header, the 429 limiter and the slow
 * switches on the public routes, and the official error envelope for failed requests.
 */

/** Whether `url` is a public route (limited and slowed); the test controls and the captcha never are. */
function isPublic(url: string): boolean {
  return url.startsWith('/schedule') || url.startsWith('/api/') || url.startsWith('/app.js');
}

/** Whether the limiter counts `url` under its `scope` switch. */
function isLimited(ctx: SpaSiteContext, url: string): boolean {
  return ctx.state.switches().limiter.scope === 'all' ? isPublic(url) : url.startsWith('/api/');
}

/** Registers the request hooks and the error handler on `app`. Call before any route. */
export function registerServerHooks(app: FastifyInstance, ctx: SpaSiteContext): void {
  app.addHook('onRequest', async (request, reply) => {
    // The site's own time in the Date header, as a real server's clock would show it.
    void reply.header('date', new Date(ctx.state.siteNow()).toUTCString());
    if (!request.url.startsWith('/__sandbox')) ctx.state.countRequest();
    if (isLimited(ctx, request.url)) {
      const limited = await limit(ctx, request, reply);
      if (limited) return limited;
    }
    const to = redirectOf(ctx.state.switches(), request);
    if (to === null) return undefined;
    if (isBookingXhr(request.url)) ctx.state.recordXhr({ method: request.method, url: request.url, arrivedAtMs: ctx.state.siteNow(), status: to.status, body: null });
    return reply.code(to.status).header('location', to.location).header('cache-control', 'no-store').send();
  });
  app.addHook('onSend', async (request, reply, payload) => {
    await slowDown(ctx, request, reply);
    return payload;
  });
  app.setErrorHandler(async (err: { statusCode?: number; message?: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const body = errorEnvelope(status, 'bad_request', err.message ?? 'Bad request');
      if (isBookingXhr(request.url)) ctx.state.recordXhr({ method: request.method, url: request.url, arrivedAtMs: ctx.state.siteNow(), status, body });
      return reply.code(status).send(body);
    }
    ctx.logger.error({ err, url: request.url }, 'acuity-spa: request failed');
    return reply.code(500).send(errorEnvelope(500, 'internal_error', 'Internal error'));
  });
}

/** Admits the request or answers 429 at once; an admitted request frees its place when its socket closes. */
async function limit(ctx: SpaSiteContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const { state } = ctx;
  const decision = state.admit(request.ip);
  if (decision.ok) {
    reply.raw.once('close', decision.release);
    return undefined;
  }
  const { perSecond, concurrent } = state.switches().limiter;
  const body = errorEnvelope(429, 'too_many_requests', `Rate limit reached. Limit ${perSecond}req/s and ${concurrent} concurrent connections`);
  if (isBookingXhr(request.url)) state.recordXhr({ method: request.method, url: request.url, arrivedAtMs: state.siteNow(), status: 429, body });
  return reply.code(429).header('retry-after', String(decision.retryAfterS)).send(body);
}

/** Holds a public answer for `slowMs` (+ `slowSubmitMs` on a booking POST), after the work is done. */
async function slowDown(ctx: SpaSiteContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // The limiter answers at once, as a front proxy would; slowness is the application's.
  if (!isPublic(request.url) || reply.statusCode === 429) return;
  const sw = ctx.state.switches();
  const delayMs = sw.slowMs + (request.method === 'POST' && isBookingXhr(request.url) ? sw.slowSubmitMs : 0);
  if (delayMs > 0) await ctx.clock.sleep(delayMs, ctx.stopSignal());
}
