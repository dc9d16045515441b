import { setMaxListeners } from 'node:events';
import type { Clock } from '../../clock.js';
import { silentLogger, type SandboxLogger } from '../sandbox-logger.js';
import { randomClassNames } from './app/class-names.js';
import { createSpaCompetitors } from './competitors.js';
import { SPA_CONTROL_CLIENT } from './fixed-clients.js';
import type { SpaSiteContext } from './site-context.js';
import { buildSpaServer } from './spa-server.js';
import { createSpaState, type SpaBooking, type SpaClient, type SpaState } from './state.js';
import type { SpaSwitchesPatch } from './switches.js';
import { createSpaVenueCatalog, type SpaSlotRef, type SpaVenueCourt } from './venue-catalog.js';
import { validateSpaVenues, type SpaSlot, type SpaVenue } from './venues.js';

/**
 * The server side of the Acuity look-alike (docs/acuity-site.md): a single-page-app shell on every scheduler
 * route, the JSON availability / appointment routes, a local fake reCAPTCHA, a per-address 429 limiter and
 * the `/__sandbox/*` test controls. Binds 127.0.0.1 only. Time only from the injected clock (plus skew).
 * This file wires the pieces; each route group lives in its own `*-routes.ts`.
 */

export { SPA_COMPETITOR_CLIENT } from './fixed-clients.js';
export type { SpaSlotRef } from './venue-catalog.js';

/** Options of {@link createAcuitySpaSite}. */
export interface AcuitySpaSiteOptions {
  clock: Clock;
  venues: SpaVenue[];
  /** Switches at start and after every reset (defaults: {@link defaultSpaSwitches}). */
  switches?: SpaSwitchesPatch;
  logger?: SandboxLogger;
  /**
   * Origin of `confirmationPage` links (`<origin>/schedule.php?owner=…`). Default
   * `https://app.acuityscheduling.com`, as on the real site; `self`: the site's own origin once started
   * (the sandbox's); tests may pass any origin.
   */
  confirmationOrigin?: string;
}

/** A running (or startable) look-alike site. */
export interface AcuitySpaSite {
  /**
   * Listens on 127.0.0.1:`port` (0 = a free port); resolves to the base URL `http://127.0.0.1:<port>`. May be
   * called again after {@link AcuitySpaSite.stop} (bookings and switches are kept).
   */
  start(port: number): Promise<string>;
  /** Cancels competitors and slow answers, closes every connection and the listener. */
  stop(): Promise<void>;
  state: SpaState;
  /** The slot named by `ref`, or undefined when venue, court or time is not on the site. */
  slot(ref: SpaSlotRef): SpaSlot | undefined;
  /** The court (and its venue) of an appointment type id, if any. */
  courtOf(appointmentTypeId: number): SpaVenueCourt | undefined;
  /** Books `ref` as the control client (marks it taken); undefined when unknown or already taken. */
  book(ref: SpaSlotRef, client?: SpaClient): SpaBooking | undefined;
  /** Schedules a competitor that books `ref` at its release + `delayAfterReleaseMs` (site clock); returns the fire instant, epoch ms. */
  scheduleCompetitor(ref: SpaSlotRef, delayAfterReleaseMs: number): number | undefined;
  /** Resolves when every competitor scheduled so far has fired or been cancelled. */
  competitorsSettled(): Promise<void>;
  /** Resets state and switches and cancels waiting competitors. */
  reset(): void;
}

/** Creates (does not start) a look-alike site. @throws Error when `venues` is invalid. */
export function createAcuitySpaSite(options: AcuitySpaSiteOptions): AcuitySpaSite {
  const { clock, venues } = options;
  const logger = options.logger ?? silentLogger;
  const selfOrigin = options.confirmationOrigin === 'self';
  const confirmationOrigin = (selfOrigin ? 'http://127.0.0.1' : (options.confirmationOrigin ?? 'https://app.acuityscheduling.com')).replace(/\/$/, '');
  validateSpaVenues(venues);
  const state = createSpaState(clock, options.switches ?? {});
  const catalog = createSpaVenueCatalog(venues);
  let stopping = new AbortController();
  setMaxListeners(0, stopping.signal);
  let classNames = randomClassNames();
  const ctx: SpaSiteContext = {
    clock, logger, state, catalog, confirmationOrigin, stopSignal: () => stopping.signal, appClassNames: () => classNames,
  };
  const competitors = createSpaCompetitors(ctx);
  const reset = (): void => {
    competitors.cancelAll();
    state.reset();
  };
  const build = () => buildSpaServer(ctx, { scheduleCompetitor: competitors.schedule, reset });
  let server = build();
  // A Fastify instance cannot listen again once closed: a start after stop() gets a fresh one (same state).
  let closed = false;

  return {
    async start(port) {
      if (closed) {
        server = build();
        closed = false;
        // stop() cancelled competitors until further notice; those scheduled from now on run again.
        competitors.cancelAll();
      }
      stopping = new AbortController();
      classNames = randomClassNames();
      // Every slow answer in flight listens on this signal (up to the concurrent limit and more).
      setMaxListeners(0, stopping.signal);
      await server.listen({ host: '127.0.0.1', port });
      const address = server.server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      logger.info({ port: bound, venues: venues.map((v) => v.ownerKey) }, 'acuity-spa: listening');
      if (selfOrigin) ctx.confirmationOrigin = `http://127.0.0.1:${bound}`;
      return `http://127.0.0.1:${bound}`;
    },
    async stop() {
      competitors.stop();
      stopping.abort();
      closed = true;
      await server.close();
    },
    state,
    slot: catalog.slot,
    courtOf: catalog.court,
    book(r, client = SPA_CONTROL_CLIENT) {
      const target = catalog.slot(r);
      return target ? state.book(target, client, target.venue.timeZone, 'control', state.siteNow()) : undefined;
    },
    scheduleCompetitor: competitors.schedule,
    competitorsSettled: competitors.settled,
    reset,
  };
}
