import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { COMPETITOR_CLIENT as COMPETITOR_DEFAULTS, createCompetitors } from './competitors.js';
import { slotByName } from './control-routes.js';
import { silentLogger, type SandboxLogger } from './sandbox-logger.js';
import { createSiteState, type SandboxBooking, type SandboxClient, type SandboxSubmit, type SiteControl } from './site-state.js';
import { createVenueIndex } from './site-venues.js';
import { buildSiteServer } from './site-server.js';

/** Options of {@link createSandboxSite}. */
export interface SandboxSiteOptions {
  /** Every venue of `config.venues` is served, addressed by `venue.site.slug`. */
  config: Config;
  /** The true clock; the site's clock is `clock.now() + clockSkewMs`. Sleeps (slowMs, competitors) use it. */
  clock: Clock;
  /** Site clock minus true clock, ms; default `config.sandbox.clockSkewMs`. */
  clockSkewMs?: number;
  logger?: SandboxLogger;
}

/** A slot named by venue id, court number and venue-local date/time. */
export interface SandboxSlotName {
  venue: string;
  court: number;
  date: string;
  time: string;
}

/** A running (or startable) sandbox site; see docs/architecture.md (modules). */
export interface SandboxSite {
  /**
   * Listens on 127.0.0.1:`port` (default `config.sandbox.port`; 0 picks a free port). Safe to call twice
   * (returns the same address); may be called again after `stop()`. Rejects when the port is taken.
   */
  start(port?: number): Promise<{ url: string; port: number }>;
  /** Closes the server (open connections are cut) and cancels waiting competitors. Safe to call twice. */
  stop(): Promise<void>;
  /** Origin `http://127.0.0.1:<port>` while started, else null. */
  url(): string | null;
  /** Sets the site clock's skew (ms, positive = site ahead). */
  setClockSkewMs(ms: number): void;
  /** The site's clock, epoch ms. */
  siteNow(): number;
  /** Changes fault switches (like `POST /__sandbox/control`); returns them all. */
  setControl(patch: Partial<SiteControl>): SiteControl;
  /** Accepted bookings (copies), cancelled ones included with `status: 'cancelled'`. */
  bookings(): SandboxBooking[];
  /** Every booking POST that arrived, in order (copies). */
  submits(): SandboxSubmit[];
  /**
   * Books a slot as a competitor, ignoring the release (like `POST /__sandbox/book`).
   * Returns null when the slot is already booked. @throws Error for an unknown venue/court/time.
   */
  book(slot: SandboxSlotName, client?: Partial<SandboxClient>): SandboxBooking | null;
  /** Schedules a competing booker at release + delay (site clock); returns its fire instant, epoch ms. */
  scheduleCompetitor(slot: SandboxSlotName, delayAfterReleaseMs: number): number;
  /** Resolves when every scheduled competitor has fired or been cancelled. */
  competitorsSettled(): Promise<void>;
  /** Forgets bookings, submits, tokens and competitors; restores the switches and the initial skew. */
  reset(): void;
}

/** Creates (without I/O) the Acuity look-alike booking site. */
export function createSandboxSite(options: SandboxSiteOptions): SandboxSite {
  const { config, clock } = options;
  const logger = options.logger ?? silentLogger;
  const index = createVenueIndex(config);
  const state = createSiteState(clock, options.clockSkewMs ?? config.sandbox.clockSkewMs);
  const competitors = createCompetitors(clock, state, logger);
  const reset = (): void => {
    competitors.cancelAll();
    state.reset();
  };
  let app: FastifyInstance | null = null;
  let address: { url: string; port: number } | null = null;
  let starting: Promise<{ url: string; port: number }> | null = null;
  let slowAbort = new AbortController();

  const slotOrThrow = (name: SandboxSlotName) => {
    const slot = slotByName(index, name);
    if (!slot) throw new Error(`sandbox: unknown slot ${name.venue} court ${name.court} ${name.date} ${name.time}`);
    return slot;
  };

  const listen = async (port: number): Promise<{ url: string; port: number }> => {
    const server = buildSiteServer({ index, state, competitors, clock, logger, reset, slowSignal: () => slowAbort.signal });
    try {
      await server.listen({ host: '127.0.0.1', port });
    } catch (err) {
      await server.close().catch(() => undefined);
      throw err;
    }
    const bound = (server.server.address() as AddressInfo).port;
    app = server;
    address = { url: `http://127.0.0.1:${bound}`, port: bound };
    logger.info({ url: address.url }, 'sandbox: site listening');
    return address;
  };

  return {
    start(port = config.sandbox.port) {
      if (address) return Promise.resolve(address);
      starting ??= listen(port).finally(() => {
        starting = null;
      });
      return starting;
    },
    async stop() {
      await starting?.catch(() => undefined);
      competitors.cancelAll();
      slowAbort.abort();
      slowAbort = new AbortController();
      const server = app;
      app = null;
      address = null;
      if (server) await server.close();
    },
    url: () => address?.url ?? null,
    setClockSkewMs(ms) {
      state.control.clockSkewMs = ms;
    },
    siteNow: () => state.siteNow(),
    setControl(patch) {
      for (const [key, value] of Object.entries(patch)) if (value !== undefined) Object.assign(state.control, { [key]: value });
      return { ...state.control };
    },
    bookings: () => state.bookings(),
    submits: () => state.submits(),
    book(name, client = {}) {
      return state.book(slotOrThrow(name), { ...COMPETITOR_DEFAULTS, ...client }, 'competitor', state.siteNow());
    },
    scheduleCompetitor: (name, delayAfterReleaseMs) => competitors.schedule(slotOrThrow(name), delayAfterReleaseMs),
    competitorsSettled: () => competitors.settled(),
    reset,
  };
}
