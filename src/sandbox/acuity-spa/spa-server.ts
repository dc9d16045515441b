import Fastify, { type FastifyInstance } from 'fastify';
import { registerAppointmentRoutes } from './appointment-routes.js';
import { registerAvailabilityRoutes } from './availability-routes.js';
import { registerCaptchaRoutes } from './captcha-routes.js';
import { registerControlRoutes, type SpaControlActions } from './control-routes.js';
import { registerPageRoutes } from './page-routes.js';
import { registerServerHooks } from './server-hooks.js';
import type { SpaSiteContext } from './site-context.js';

/** Builds (does not listen) the look-alike's HTTP server: hooks first, then every route group. */
export function buildSpaServer(ctx: SpaSiteContext, actions: SpaControlActions): FastifyInstance {
  // Open sockets are closed on stop, so a slow or hung answer never holds `close()`.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  registerServerHooks(app, ctx);
  registerPageRoutes(app, ctx);
  registerCaptchaRoutes(app, ctx);
  registerAvailabilityRoutes(app, ctx);
  registerAppointmentRoutes(app, ctx);
  registerControlRoutes(app, ctx, actions);
  return app;
}
