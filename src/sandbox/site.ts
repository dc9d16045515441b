import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { createAcuitySpaSite, type AcuitySpaSite } from './acuity-spa/site.js';
import type { SpaBooking, SpaClient, SpaXhr } from './acuity-spa/state.js';
import type { SpaSwitches, SpaSwitchesPatch } from './acuity-spa/switches.js';
import type { SpaSlotRef } from './acuity-spa/venue-catalog.js';
import { spaVenuesOf } from './from-config.js';
import { silentLogger, type SandboxLogger } from './sandbox-logger.js';

/**
 * The sandbox booking site of `reservd sandbox`, the demo, the tests and the benchmark: the Acuity look-alike
 * (`acuity-spa/`, docs/acuity-site.md) serving every venue of a reservd config, addressed from outside by
 * venue id. Binds 127.0.0.1 only.
 */

export { APPOINTMENTS_PATH } from './acuity-spa/appointments-path.js';
export type { SpaClient as SandboxClient, SpaSwitches as SandboxSwitches, SpaSwitchesPatch as SandboxSwitchesPatch, SpaXhr as SandboxXhr };

/** Options of {@link createSandboxSite}. */
export interface SandboxSiteOptions {
  /** Every venue of `config.venues` is served, addressed by `venue.site.ownerKey`. */
  config: Pick<Config, 'venues' | 'sandbox'>;
  /** The true clock; the site's clock is `clock.now() + clockSkewMs`. Sleeps (slow answers, competitors) use it. */
  clock: Clock;
  /** Site clock minus true clock, ms; default `config.sandbox.clockSkewMs`. */
  clockSkewMs?: number;
  /** Switches at start and after every reset (besides the skew). */
  switches?: SpaSwitchesPatch;
  logger?: SandboxLogger;
  /** Origin of the bookings' change/cancel links; default `self`, the site's own origin once started. */
  confirmationOrigin?: string;
}

/** A slot named by venue id, court number and venue-local date/time. */
export interface SandboxSlotName {
  venue: string;
  court: number;
  date: string;
  time: string;
}

/** A booking the site holds, as tests and the demo read it. */
export interface SandboxBooking {
  /** Numeric appointment id. */
  id: number;
  /** The 32-hex hash: reservd's confirmation code. */
  hash: string;
  /** Venue id in the config. */
  venue: string;
  court: number;
  date: string;
  time: string;
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  /** `client`: booked through the page; `competitor` / `control`: by the sandbox itself. */
  source: SpaBooking['source'];
  /** Arrival of its booking request, epoch ms on the site clock. */
  arrivedAtMs: number;
}

/** A running (or startable) sandbox site. */
export interface SandboxSite {
  /**
   * Listens on 127.0.0.1:`port` (default `config.sandbox.port`; 0 picks a free port). Safe to call twice
   * (returns the same address); may be called again after `stop()`. Rejects when the port is taken.
   */
  start(port?: number): Promise<{ url: string; port: number }>;
  /** Closes the server and cancels waiting competitors. Safe to call twice. */
  stop(): Promise<void>;
  /** Origin `http://127.0.0.1:<port>` while started, else null. */
  url(): string | null;
  /** Sets the site clock's skew (ms, positive = site ahead). */
  setClockSkewMs(ms: number): void;
  /** The site's clock, epoch ms. */
  siteNow(): number;
  /** Changes switches (like `POST /__sandbox/switches`); returns them all. @throws Error on an invalid patch. */
  setSwitches(patch: SpaSwitchesPatch): SpaSwitches;
  /** Bookings the site holds, in arrival order. */
  bookings(): SandboxBooking[];
  /** Every booking POST that arrived (appointments XHRs with method POST), in order. */
  submits(): SpaXhr[];
  /** Every booking XHR (POSTs and lookups), in order. */
  xhrs(): SpaXhr[];
  /**
   * Takes a slot as another club member, ignoring the release (like `POST /__sandbox/book`).
   * Returns null when the slot is already booked. @throws Error for an unknown venue/court/time.
   */
  book(slot: SandboxSlotName, client?: SpaClient): SandboxBooking | null;
  /** Schedules a competing booker at release + delay (site clock); returns its fire instant, epoch ms. @throws Error for an unknown slot. */
  scheduleCompetitor(slot: SandboxSlotName, delayAfterReleaseMs: number): number;
  /** Resolves when every scheduled competitor has fired or been cancelled. */
  competitorsSettled(): Promise<void>;
  /** Forgets bookings, XHRs, tokens and competitors; restores the switches and the initial skew. */
  reset(): void;
  /** The look-alike underneath (its state and slot rules). */
  readonly spa: AcuitySpaSite;
}

/** Creates (without I/O) the sandbox site for `options.config`'s venues. @throws Error when two venues share an owner key. */
export function createSandboxSite(options: SandboxSiteOptions): SandboxSite {
  const { config, clock } = options;
  const { venues, venueIdOf } = spaVenuesOf(config);
  const initial: SpaSwitchesPatch = { ...options.switches, skewMs: options.clockSkewMs ?? config.sandbox.clockSkewMs };
  const spa = createAcuitySpaSite({
    clock,
    venues,
    switches: initial,
    logger: options.logger ?? silentLogger,
    confirmationOrigin: options.confirmationOrigin ?? 'self',
  });
  let address: { url: string; port: number } | null = null;
  let starting: Promise<{ url: string; port: number }> | null = null;

  const refOf = (name: SandboxSlotName): SpaSlotRef => {
    const venue = config.venues[name.venue];
    if (!venue || !spa.slot({ ownerKey: venue.site.ownerKey, court: name.court, date: name.date, time: name.time })) {
      throw new Error(`sandbox: unknown slot ${name.venue} court ${name.court} ${name.date} ${name.time}`);
    }
    return { ownerKey: venue.site.ownerKey, court: name.court, date: name.date, time: name.time };
  };
  const view = (b: SpaBooking): SandboxBooking => ({
    id: b.id,
    hash: b.hash,
    venue: venueIdOf.get(b.slot.venue.ownerKey) ?? b.slot.venue.ownerKey,
    court: b.slot.court.court,
    date: b.slot.date,
    time: b.slot.time,
    ...b.client,
    source: b.source,
    arrivedAtMs: b.arrivedAtMs,
  });
  const listen = async (port: number): Promise<{ url: string; port: number }> => {
    const url = await spa.start(port);
    address = { url, port: Number(new URL(url).port) };
    return address;
  };
  const isBookingXhr = (x: SpaXhr): boolean => x.method === 'POST';

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
      if (!address) return;
      address = null;
      await spa.stop();
    },
    url: () => address?.url ?? null,
    setClockSkewMs: (ms) => void spa.state.setSwitches({ skewMs: ms }),
    siteNow: () => spa.state.siteNow(),
    setSwitches: (patch) => spa.state.setSwitches(patch),
    bookings: () => spa.state.bookings().map(view),
    submits: () => spa.state.xhrs().filter(isBookingXhr),
    xhrs: () => spa.state.xhrs(),
    book(name, client) {
      const booking = spa.book(refOf(name), client);
      return booking ? view(booking) : null;
    },
    scheduleCompetitor: (name, delayAfterReleaseMs) => spa.scheduleCompetitor(refOf(name), delayAfterReleaseMs)!,
    competitorsSettled: () => spa.competitorsSettled(),
    reset: () => spa.reset(),
    spa,
  };
}
