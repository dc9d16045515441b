import type { VenueConfig } from '../config/schema.js';
import type { BookingOutcome, BookingRequest, BookingResult, JsonObject } from '../contracts/index.js';

/**
 * The port the executor books through: everything it needs from the one owner of a held reservation
 * (`src/booking-session/`, see docs/architecture.md "Booking session"). The executor owns this interface
 * and depends on nothing else of the scheduling side: no callbacks, no SQL, no flags in metadata.
 */

/** One held reservation, as the executor sees it. */
export interface BookingSessionPort {
  /** The reservation row the attempts belong to (queued and immediate bookings both have one). */
  readonly reservationId: number;
  /** Built once per hold, from the row (or the `book-now` input). */
  readonly request: BookingRequest;
  readonly venue: VenueConfig;
  /** Fire instant on the local clock; nothing is submitted before it. Immediate bookings: "now". */
  readonly fireAt: Date;
  /** The slot's release instant (metadata `release_at`). */
  readonly releaseAt: Date;
  /** Site clock − local clock behind `fireAt`, ms (metadata `site_clock_offset_ms`); null when not measured. */
  readonly siteClockOffsetMs: number | null;
  /**
   * Aborted when the booking must end: the stop's grace ran out, or the hold was lost (heartbeat found the
   * row cancelled or taken over). An attempt cut off before its submit is recorded `interrupted`.
   */
  readonly signal: AbortSignal;
  /** Aborted when a booking that has not fired yet must give up at once (a stopping daemon). Ignored once fired. */
  readonly stopWaiting: AbortSignal;
  /**
   * At the fire instant, before the first submit: the row moves `claimed → booking` (an immediate row is
   * already in `booking`) and its lease is renewed. False: the row is no longer held by this owner (cancelled,
   * expired, taken over): submit nothing.
   */
  beginFire(): Promise<boolean>;
  /** Before each further court: is the row still held by this owner? */
  stillHeld(): Promise<boolean>;
  /** Opens an attempt (`booking_attempts` row) for `court`; numbering continues across runs. */
  startAttempt(args: { court: number; browserId: string; flow: string }): Promise<AttemptPort>;
}

/** One open attempt. */
export interface AttemptPort {
  /** 1-based attempt number of the reservation. */
  readonly attempt: number;
  /**
   * Writes the intent (`submitted_at`) BEFORE the submit is pressed — only if this attempt is still open AND
   * the row is still in `booking` held by this owner. False: nothing may be submitted.
   */
  recordIntent(): Promise<boolean>;
  /**
   * Stores the site's 32-hex appointment hash on this attempt (`booking_attempts.confirmation_code`) the
   * moment the booking answer arrives, before the outcome is known: after a crash, an attempt with an intent,
   * no outcome and a hash is "the site answered with this hash". Retried through a dropped connection;
   * rejects only once the retries are spent (the flow swallows it).
   */
  recordAnswer(hash: string): Promise<void>;
  /** Closes the attempt with its outcome (once). */
  finish(args: { outcome: BookingOutcome; confirmationCode: string | null; error: string | null; metadata: JsonObject }): Promise<void>;
}

/**
 * One appointment as the site's look-up by hash returns it (crash reconciliation, {@link SiteLookup}).
 * `date` / `time` are venue-local `YYYY-MM-DD` / `HH:MM`.
 */
export interface SiteAppointment {
  /** The site's numeric appointment id. */
  id: number;
  /** The site's 32-hex appointment hash (what the booking answer carries). */
  hash: string;
  date: string;
  time: string;
  appointmentTypeID: number;
  calendarID: number;
  /** The venue's court whose appointment type AND calendar are this appointment's; null when none is. */
  court: number | null;
  firstName: string;
  lastName: string;
  email: string;
  /** True when the appointment was cancelled on the site. */
  canceled: boolean;
}

/**
 * What a member can ask the booking site after a crash (docs/architecture.md "Reconciliation"): an
 * appointment by its hash, and whether a time is still offered. Never a look-up by e-mail (the real client
 * page has none). `venueId` is the reservation's `venue`; the composition root maps it to the site.
 * Both reject with an Error whose message never contains an e-mail address or a phone number when the venue
 * or court is unknown, the site cannot be reached, answers an error status or an unexpected shape, or
 * `signal` aborts (the caller's timeout).
 */
export interface SiteLookup {
  /** The venue's appointments with these hashes (cancelled ones included; an unknown hash is simply absent). */
  byHash(venueId: string, hashes: readonly string[], signal: AbortSignal): Promise<SiteAppointment[]>;
  /** Whether `date` `time` (venue-local `YYYY-MM-DD`, `HH:MM`) is still offered on `court` of the venue. */
  offered(venueId: string, court: number, date: string, time: string, signal: AbortSignal): Promise<boolean>;
}

/**
 * How one execution ended, as a type of its own per case:
 * - `settled`: the site's word — booked (`result.status === 'success'`) or a definitive failure;
 * - `interrupted`: nothing was submitted that may have booked (a stop, a cancel, the hold lost): a queued row
 *   goes back to the queue, a `book-now` row ends `failed`, a row someone else holds now is left to them;
 * - `unknown`: a submit whose answer is lost (timeout or crash after the POST): the site may hold a booking.
 *   It is looked up on the site, never submitted again blindly. `result.outcome` is `unknown`.
 */
export type Execution =
  | { kind: 'settled'; result: BookingResult }
  | { kind: 'interrupted'; result: BookingResult }
  | { kind: 'unknown'; result: BookingResult };

/** Something that books one held reservation: the executor (tests may pass their own). */
export interface BookingExecutor {
  /** Resolves for every expected outcome; never throws for them. */
  execute(session: BookingSessionPort): Promise<Execution>;
}
