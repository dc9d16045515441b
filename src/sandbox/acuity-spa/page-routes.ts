import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { appScript } from './app-script.js';
import { hangDocument, hangUntilClosed, notSchedulerPage } from './hostile.js';
import { notActivePage, shellPage } from './pages.js';
import type { SpaSiteContext } from './site-context.js';

/**
 * The HTML routes: as on the real single-page app, every scheduler URL of a known business answers the same
 * shell (the app routes on the client); an unknown business gets "This page is not active". Plus the app
 * bundle, which carries the app's settings (never the HTML) and this run's generated class names.
 */
export function registerPageRoutes(app: FastifyInstance, ctx: SpaSiteContext): void {
  const page = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const venue = ctx.catalog.venue((request.params as { ownerKey: string }).ownerKey);
    const sw = ctx.state.switches();
    if (venue && sw.pageAnswer !== 'shell') {
      return reply.code(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(notSchedulerPage(sw.pageAnswer));
    }
    const html = venue ? shellPage(venue, sw.language) : notActivePage();
    if (venue && sw.hang === 'document') {
      await hangDocument(reply, html, ctx.stopSignal());
      return reply;
    }
    return reply.code(venue ? 200 : 404).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  };
  app.get('/schedule/:ownerKey', page);
  app.get('/schedule/:ownerKey/*', page);
  app.get('/app.js', async (_request, reply) => {
    if (ctx.state.switches().hang === 'script') {
      reply.hijack();
      await hangUntilClosed(reply, ctx.stopSignal());
      return reply;
    }
    return reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(appScript({ unofferedSlotPage: ctx.state.switches().unofferedSlotPage }, ctx.appClassNames()));
  });
}
