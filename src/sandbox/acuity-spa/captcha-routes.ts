import type { FastifyInstance } from 'fastify';
import { recaptchaScript, SPA_RECAPTCHA_SITE_KEY } from './pages.js';
import type { SpaSiteContext } from './site-context.js';

/**
 * The local fake reCAPTCHA: the `enterprise.js` script the shell loads instead of Google's, and the token
 * endpoint its `execute()` calls. Tokens are judged later, by the booking POST.
 */
export function registerCaptchaRoutes(app: FastifyInstance, ctx: SpaSiteContext): void {
  app.get('/recaptcha/enterprise.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(recaptchaScript()));
  app.post('/__recaptcha/token', async (request, reply) => {
    const siteKey = (request.body as { siteKey?: unknown } | undefined)?.siteKey;
    const latencyMs = ctx.state.switches().captchaLatencyMs;
    if (latencyMs > 0) await ctx.clock.sleep(latencyMs, ctx.stopSignal());
    if (siteKey !== SPA_RECAPTCHA_SITE_KEY) return reply.code(400).send({ error: 'invalid site key' });
    return { token: ctx.state.mintToken(siteKey) };
  });
}
