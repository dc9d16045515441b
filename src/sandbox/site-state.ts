import { randomInt } from 'node:crypto';
import type { Clock } from '../clock.js';
import { computeReleaseAt, slotStartAt } from '../scheduling/release-time.js';
import { createFormTokens, type TokenCheck } from './form-tokens.js';
import type { SiteSlot } from './site-venues.js';

/**
 * The sandbox site's memory: bookings, every booking POST, form tokens and the fault switches.
 * Single-threaded JavaScript makes check-then-book atomic, which is how "one booking per court-slot" holds.
 */

/** A booking the site accepted (`GET /__sandbox/bookings`). Cancelled ones stay, with `status: 'cancelled'`. */
export interface SandboxBooking {
  /** Appointment id (positive integer, never reused, also not across `reset`). */
  id: number;
  /** Venue id (key in `config.venues`). */
  venue: string;
  court: number;
  calendarId: string;
  /** Venue-local `YYYY-MM-DD` and `HH:MM`. */
  date: string;
  time: string;
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  /** 8 upper-case letters. */
  confirmationCode: string;
  /** ISO instant on the SITE's clock when the booking request arrived. */
  arrivedAt: string;
  /** ISO instant the slot opened (release rule of the venue). */
  releaseAt: string;
  /** `client`: a form POST; `competitor`: `/__sandbox/book` or a scheduled competitor. */
  booker: 'client' | 'competitor';
  status: 'booked' | 'cancelled';
}

/** Result of one booking POST, as recorded in `GET /__sandbox/submits`. */
export type SubmitResult = 'booked' | 'not_open_yet' | 'slot_taken' | 'invalid' | 'bad_token' | 'blocked';

/** One booking POST that reached the site, accepted or not. */
export interface SandboxSubmit {
  /** ISO instant on the site's clock when the POST arrived. */
  arrivedAt: string;
  venue: string;
  court: number;
  date: string;
  time: string;
  result: SubmitResult;
  /** `client.email` as posted, or null when absent. */
  email: string | null;
}

/** The fault switches (`POST /__sandbox/control`). */
export interface SiteControl {
  /** Site clock minus the injected clock, ms (positive: the site runs ahead). */
  clockSkewMs: number;
  /** Every public page becomes a block page ("unusual traffic"). */
  blocked: boolean;
  /** Delay added to every public response, ms (slept on the injected clock). */
  slowMs: number;
  /**
   * Extra delay of the answer to a form POST, ms: the booking is taken when the POST arrives, the answer
   * comes late (a client that times out does not know it booked).
   */
  slowSubmitMs: number;
}

/** Where a slot stands at an instant on the site's clock. */
export type SlotStatus = 'open' | 'not_open_yet' | 'taken' | 'started';

/** Client details of a booking. */
export interface SandboxClient {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}

const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Key of one court-slot. */
function slotKey(slot: Pick<SiteSlot, 'venueId' | 'court' | 'date' | 'time'>): string {
  return `${slot.venueId}|${slot.court}|${slot.date}|${slot.time}`;
}

/** Release and start instants of a slot, epoch ms. */
export function slotInstants(slot: SiteSlot): { releaseAtMs: number; startAtMs: number } {
  const { releaseRule, timeZone } = slot.venue;
  return {
    releaseAtMs: computeReleaseAt(releaseRule, slot.date, slot.time, timeZone).getTime(),
    startAtMs: slotStartAt(slot.date, slot.time, timeZone).getTime(),
  };
}

/** The site state; see the module comment. */
export type SiteState = ReturnType<typeof createSiteState>;

/** Creates empty site state reading time from `clock` shifted by `initialSkewMs`. */
export function createSiteState(clock: Clock, initialSkewMs: number) {
  const control: SiteControl = { clockSkewMs: initialSkewMs, blocked: false, slowMs: 0, slowSubmitMs: 0 };
  const bookings: SandboxBooking[] = [];
  const submits: SandboxSubmit[] = [];
  let nextId = 1;
  const siteNow = (): number => clock.now() + control.clockSkewMs;
  const tokens = createFormTokens(siteNow);
  const activeBooking = (slot: SiteSlot): SandboxBooking | undefined =>
    bookings.find((b) => b.status === 'booked' && slotKey({ ...b, venueId: b.venue }) === slotKey(slot));
  const newCode = (): string => {
    for (;;) {
      const code = Array.from({ length: 8 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
      if (!bookings.some((b) => b.confirmationCode === code)) return code;
    }
  };
  return {
    control,
    siteNow,
    /** `open` when released, not started and free (release rule on the site's clock). */
    slotStatus(slot: SiteSlot): SlotStatus {
      const { releaseAtMs, startAtMs } = slotInstants(slot);
      const nowMs = siteNow();
      if (nowMs >= startAtMs) return 'started';
      if (nowMs < releaseAtMs) return 'not_open_yet';
      return activeBooking(slot) ? 'taken' : 'open';
    },
    activeBooking,
    /** Books `slot` unless it is already booked (then returns null). Ignores the release: callers check. */
    book(slot: SiteSlot, client: SandboxClient, booker: SandboxBooking['booker'], arrivedAtMs: number): SandboxBooking | null {
      if (activeBooking(slot)) return null;
      const booking: SandboxBooking = {
        id: nextId++,
        venue: slot.venueId,
        court: slot.court,
        calendarId: slot.calendarId,
        date: slot.date,
        time: slot.time,
        ...client,
        confirmationCode: newCode(),
        arrivedAt: new Date(arrivedAtMs).toISOString(),
        releaseAt: new Date(slotInstants(slot).releaseAtMs).toISOString(),
        booker,
        status: 'booked',
      };
      bookings.push(booking);
      return booking;
    },
    /** Cancels booking `id` (idempotent); returns it, or undefined when unknown. */
    cancel(id: number): SandboxBooking | undefined {
      const booking = bookings.find((b) => b.id === id);
      if (booking) booking.status = 'cancelled';
      return booking;
    },
    bookingById: (id: number): SandboxBooking | undefined => bookings.find((b) => b.id === id),
    /** Issues a single-use form token bound to this court-slot (see `form-tokens.ts`). */
    issueToken: (slot: SiteSlot): string => tokens.issue(slotKey(slot)),
    /** Checks a posted token against this court-slot and uses it up when it is good. */
    takeToken: (token: string | undefined, slot: SiteSlot): TokenCheck => tokens.take(token, slotKey(slot)),
    recordSubmit(slot: SiteSlot, arrivedAtMs: number, result: SubmitResult, email: string | null): void {
      const { venueId: venue, court, date, time } = slot;
      submits.push({ arrivedAt: new Date(arrivedAtMs).toISOString(), venue, court, date, time, result, email });
    },
    bookings: (): SandboxBooking[] => bookings.map((b) => ({ ...b })),
    submits: (): SandboxSubmit[] => submits.map((s) => ({ ...s })),
    /** Forgets bookings, submits and tokens and restores the switches to their initial values. */
    reset(): void {
      bookings.length = 0;
      submits.length = 0;
      tokens.clear();
      Object.assign(control, { clockSkewMs: initialSkewMs, blocked: false, slowMs: 0, slowSubmitMs: 0 });
    },
  };
}
