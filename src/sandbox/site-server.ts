import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../clock.js';
import { registerAppointmentRoutes } from './appointment-routes.js';
import type { Competitors } from './competitors.js';
import { registerControlRoutes } from './control-routes.js';
import { blockedPage } from './html.js';
import type { SandboxLogger } from './sandbox-logger.js';
import type { SiteState } from './site-state.js';
import type { VenueIndex } from './site-venues.js';
import { registerSlotRoutes, resolveSlot, SLOT_ROUTE } from './slot-routes.js';

/** What {@link buildSiteServer} wires together. */
export interface SiteServerDeps {
  index: VenueIndex;
  state: SiteState;
  competitors: Competitors;
  clock: Clock;
  logger: SandboxLogger;
  /** Full reset for `POST /__sandbox/reset`. */
  reset(): void;
  /** Aborts pending `slowMs` delays when the site stops. */
  slowSignal(): AbortSignal;
}

/**
 * Builds (does not start) the fastify app of the sandbox site: public Acuity routes inside a scope that
 * the `blocked` switch guards, `/__sandbox/*` controls outside it. Every response carries the SITE's time
 * in its `Date` header; public responses are delayed by `slowMs` on the injected clock.
 */
export function buildSiteServer(deps: SiteServerDeps): FastifyInstance {
  const { index, state, clock, logger } = deps;
  const server = Fastify({ logger: false, forceCloseConnections: true });
  server.addHook('onSend', async (request, reply, payload) => {
    // The scheduler estimates the site's clock from this header, so it must carry the SITE's time.
    void reply.header('date', new Date(state.siteNow()).toUTCString());
    if (!request.url.startsWith('/__sandbox/')) {
      const delayMs = state.control.slowMs + (request.method === 'POST' ? state.control.slowSubmitMs : 0);
      if (delayMs > 0) await clock.sleep(delayMs, deps.slowSignal());
    }
    return payload;
  });
  server.setErrorHandler(async (err, request, reply) => {
    logger.error({ err, url: request.url }, 'sandbox: request failed');
    return reply.code(500).type('text/plain; charset=utf-8').send('Internal error');
  });
  void server.register(async (scope) => {
    await scope.register(formbody);
    scope.addHook('onRequest', async (request, reply) => {
      if (!state.control.blocked) return;
      if (request.method === 'POST' && request.routeOptions.url === SLOT_ROUTE) {
        const slot = resolveSlot(index, request.params as Parameters<typeof resolveSlot>[1]);
        if (slot) state.recordSubmit(slot, state.siteNow(), 'blocked', null);
      }
      return reply.code(403).type('text/html; charset=utf-8').send(blockedPage());
    });
    registerSlotRoutes(scope, { index, state, logger });
    registerAppointmentRoutes(scope, { index, state, logger });
  });
  registerControlRoutes(server, { index, state, competitors: deps.competitors, reset: deps.reset });
  return server;
}
