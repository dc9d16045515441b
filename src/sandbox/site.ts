import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { createAcuitySpaSite, type AcuitySpaSite } from './acuity-spa/site.js';
import type { SpaBooking, SpaClient, SpaXhr } from './acuity-spa/state.js';
import type { SpaSwitches, SpaSwitchesPatch } from './acuity-spa/switches.js';
import type { SpaSlotRef } from './acuity-spa/venue-catalog.js';
import { spaReleaseAtMs } from './acuity-spa/venues.js';
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
  /** Arrival of its booking request, epoch ms and ISO instant on the site clock. */
  arrivedAtMs: number;
  arrivedAt: string;
  /** ISO instant the slot opened under the site's own release rule. */
  releaseAt: string;
}

/** What a booking POST got: `lost` = committed, then the answer was dropped on purpose. */
export type SandboxSubmitResult = 'booked' | 'lost' | 'slot_taken' | 'not_offered' | 'blocked' | 'invalid' | 'rate_limited' | 'other';

/** One booking POST that reached the site, accepted or not, with what it asked for. */
export interface SandboxSubmit {
  /** Arrival, epoch ms and ISO instant on the SITE's clock. */
  arrivedAtMs: number;
  arrivedAt: string;
  /** Venue id, court and venue-local slot posted (null when the POST did not name a known court). */
  venue: string | null;
  court: number | null;
  date: string | null;
  time: string | null;
  /** The posted e-mail, or null. */
  email: string | null;
  status: number | 'lost';
  result: SandboxSubmitResult;
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
  /** Every booking POST that arrived, in order. */
  submits(): SandboxSubmit[];
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

/** How a booking POST was answered, from its status and error code. */
function submitResult(x: SpaXhr): SandboxSubmitResult {
  if (x.status === 'lost') return 'lost';
  const error = (x.body as { error?: unknown } | null)?.error;
  if (x.status === 200) return 'booked';
  if (x.status === 409) return 'slot_taken';
  if (x.status === 429) return 'rate_limited';
  if (x.status === 422) return error === 'irregular_usage' ? 'blocked' : 'not_offered';
  if (x.status === 400) return 'invalid';
  return 'other';
}

/** A booking as {@link SandboxSite.bookings} shows it, with its venue id. */
function bookingView(b: SpaBooking, venueIdOf: ReadonlyMap<string, string>): SandboxBooking {
  return {
    id: b.id,
    hash: b.hash,
    venue: venueIdOf.get(b.slot.venue.ownerKey) ?? b.slot.venue.ownerKey,
    court: b.slot.court.court,
    date: b.slot.date,
    time: b.slot.time,
    ...b.client,
    source: b.source,
    arrivedAtMs: b.arrivedAtMs,
    arrivedAt: new Date(b.arrivedAtMs).toISOString(),
    releaseAt: new Date(spaReleaseAtMs(b.slot)).toISOString(),
  };
}

/** A booking POST as {@link SandboxSite.submits} shows it: what it asked for and what it got. */
function submitView(x: SpaXhr, spa: AcuitySpaSite, venueIdOf: ReadonlyMap<string, string>): SandboxSubmit {
  const posted = (typeof x.request === 'object' && x.request !== null ? x.request : {}) as Record<string, unknown>;
  const found = spa.courtOf(Number(posted.appointmentTypeID));
  const datetime = typeof posted.datetime === 'string' ? /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(posted.datetime) : null;
  return {
    arrivedAtMs: x.arrivedAtMs,
    arrivedAt: new Date(x.arrivedAtMs).toISOString(),
    venue: found ? (venueIdOf.get(found.venue.ownerKey) ?? null) : null,
    court: found?.court.court ?? null,
    date: datetime?.[1] ?? null,
    time: datetime?.[2] ?? null,
    email: typeof posted.email === 'string' ? posted.email : null,
    status: x.status,
    result: submitResult(x),
  };
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
  const view = (b: SpaBooking): SandboxBooking => bookingView(b, venueIdOf);
  const submitOf = (x: SpaXhr): SandboxSubmit => submitView(x, spa, venueIdOf);
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
    submits: () => spa.state.xhrs().filter(isBookingXhr).map(submitOf),
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
