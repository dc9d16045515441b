import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { createCaptchaTokens, type CaptchaCheck } from './captcha.js';
import { createSpaLimiter, type LimitDecision } from './limiter.js';
import { applySpaSwitches, defaultSpaSwitches, type SpaSwitches, type SpaSwitchesPatch } from './switches.js';
import { spaReleaseAtMs, type SpaSlot } from './venues.js';

/**
 * The look-alike's memory: bookings (one per court-slot), the booking XHR log, captcha tokens (`captcha.ts`),
 * the limiter (`limiter.ts`) and the switches. No HTTP here; times are read from the SITE's clock (injected
 * clock + `skewMs`), except the limiter's, which counts on the injected clock.
 */

/** Who made a booking. */
export type SpaBookingSource = 'client' | 'competitor' | 'control';

/** The client details of a booking. */
export interface SpaClient {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}

/** One booking held by the site. */
export interface SpaBooking {
  /** Numeric appointment id. */
  id: number;
  /** 32 lower-case hex: the booking's identity for the client (confirmation route, lookup). */
  hash: string;
  slot: SpaSlot;
  client: SpaClient;
  /** IANA zone the client booked in (the POST's `timezone`, else the venue's). */
  clientTimeZone: string;
  source: SpaBookingSource;
  /** When the booking request arrived, epoch ms on the site clock. */
  arrivedAtMs: number;
}

/** One booking XHR (appointment POST or lookup) as the site saw it. */
export interface SpaXhr {
  method: string;
  url: string;
  /** Arrival, epoch ms on the site clock. */
  arrivedAtMs: number;
  /** HTTP status answered, or `lost` when the socket was destroyed instead. */
  status: number | 'lost';
  /** The JSON answered (or that would have been answered when lost). */
  body: unknown;
  /** The JSON body posted (booking POSTs only). */
  request?: unknown;
}

export type { CaptchaCheck } from './captcha.js';
export { TOKEN_TTL_MS } from './captcha.js';
export type { LimitDecision } from './limiter.js';

/** The site's state. */
export interface SpaState {
  switches(): SpaSwitches;
  /** Applies a switch patch. @throws Error on an invalid patch. */
  setSwitches(patch: SpaSwitchesPatch): SpaSwitches;
  /** Site clock, epoch ms. */
  siteNow(): number;
  /** Whether a slot is offered now: released, not started, not booked. */
  isOffered(slot: SpaSlot): boolean;
  /** The booking of a court-slot, if any. */
  bookingOf(slot: SpaSlot): SpaBooking | undefined;
  /**
   * Books `slot` if free (atomic: check and commit in one synchronous step); undefined when taken.
   * Does not check release or start: callers decide what is offered.
   */
  book(slot: SpaSlot, client: SpaClient, clientTimeZone: string, source: SpaBookingSource, arrivedAtMs: number): SpaBooking | undefined;
  /** The booking with `hash`, if any. */
  byHash(hash: string): SpaBooking | undefined;
  bookings(): SpaBooking[];
  recordXhr(xhr: SpaXhr): void;
  xhrs(): SpaXhr[];
  /** Mints a captcha token for `siteKey`. */
  mintToken(siteKey: string): string;
  /** Checks (and spends) a token under the verdict switch; unknown, reused and expired tokens fail. */
  checkToken(token: unknown): CaptchaCheck;
  /** Limiter admission for `clientAddress`; call `release()` when the answer is done. */
  admit(clientAddress: string): LimitDecision;
  /** Counts one request to any route but the test controls, for {@link SpaState.publicRequests}. */
  countRequest(): void;
  /** Requests to every route but the test controls (`/__sandbox/…`) since the last reset: pages, app, captcha, API. */
  publicRequests(): number;
  /** Whether the next committed booking's answer must be lost (consumes a `once`). */
  takeLoseAnswer(): boolean;
  /** Forgets bookings, XHRs, tokens, limiter counts and restores the default switches (plus `initial`). */
  reset(): void;
}

/** Creates the state of one look-alike site. */
export function createSpaState(clock: Clock, initial: SpaSwitchesPatch = {}): SpaState {
  let switches = applySpaSwitches(defaultSpaSwitches(), initial);
  let bookings = new Map<string, SpaBooking>();
  let xhrs: SpaXhr[] = [];
  let nextId = 1_240_000_001;
  let publicRequests = 0;

  const siteNow = (): number => clock.now() + switches.skewMs;
  const key = (slot: SpaSlot): string => `${slot.court.calendarId}|${slot.startMs}`;
  const tokens = createCaptchaTokens(siteNow, () => switches.captchaVerdict);
  const limiter = createSpaLimiter(clock, () => switches.limiter);

  return {
    switches: () => switches,
    setSwitches(patch) {
      switches = applySpaSwitches(switches, patch);
      return switches;
    },
    siteNow,
    isOffered(slot) {
      const now = siteNow();
      return spaReleaseAtMs(slot) <= now && slot.startMs > now && !bookings.has(key(slot));
    },
    bookingOf: (slot) => bookings.get(key(slot)),
    book(slot, client, clientTimeZone, source, arrivedAtMs) {
      if (bookings.has(key(slot))) return undefined;
      const booking: SpaBooking = { id: nextId++, hash: randomBytes(16).toString('hex'), slot, client, clientTimeZone, source, arrivedAtMs };
      bookings.set(key(slot), booking);
      return booking;
    },
    byHash: (hash) => [...bookings.values()].find((b) => b.hash === hash),
    bookings: () => [...bookings.values()].sort((a, b) => a.arrivedAtMs - b.arrivedAtMs || a.id - b.id),
    recordXhr: (xhr) => void xhrs.push(xhr),
    xhrs: () => [...xhrs],
    mintToken: (siteKey) => tokens.mint(siteKey),
    checkToken: (token) => tokens.check(token),
    admit: (clientAddress) => limiter.admit(clientAddress),
    countRequest: () => void publicRequests++,
    publicRequests: () => publicRequests,
    takeLoseAnswer() {
      if (switches.loseAnswerAfterCommit === 'off') return false;
      if (switches.loseAnswerAfterCommit === 'once') switches = { ...switches, loseAnswerAfterCommit: 'off' };
      return true;
    },
    reset() {
      switches = applySpaSwitches(defaultSpaSwitches(), initial);
      bookings = new Map();
      xhrs = [];
      publicRequests = 0;
      tokens.reset();
      limiter.reset();
    },
  };
}
