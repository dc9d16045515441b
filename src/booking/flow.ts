import type { APIRequestContext, Page } from 'playwright-core';
import type { VenueConfig } from '../config/schema.js';
import type { BookingUser } from '../contracts/index.js';

/**
 * The small interfaces the executor owns (docs/architecture.md "Booking"): a browser pool and a flow per
 * site. Playwright details stay behind them; tests may pass their own.
 */

/**
 * A browser context lent by a {@link BrowserPool}; `release()` closes it. Its page is opened only when asked
 * for: a page is a renderer process (50 contexts with a page each take 25–40 s to open on 2 cores, 50
 * without a page under 1 s): a lease opens it only when a flow needs it.
 */
export interface PageLease {
  /** HTTP through the context (its cookies, user agent and connections); no renderer. */
  readonly request: APIRequestContext;
  /** The context's page, opened on the first call (the same page afterwards). */
  page(): Promise<Page>;
  /** True once the context or its browser is gone (crash, kill, release). */
  isClosed(): boolean;
  /** Identifies the browser process in logs and metadata (`browser_id`). */
  browserId: string;
  release(): Promise<void>;
}

/** Lends fresh pages (one context each) from a browser it launches and relaunches as needed. */
export interface BrowserPool {
  acquire(): Promise<PageLease>;
  close(): Promise<void>;
}

/** Outcome of one flow submit; expected results are values, never exceptions. */
export interface FlowResult {
  /**
   * `interrupted`: nothing was sent because `onBeforeSubmit` said no (the row is no longer held); `unknown`:
   * submitted and the answer is lost. The executor treats any other non-definitive answer after a submit as
   * `unknown` too (`nextStep` in `court-fallback.ts`).
   */
  outcome: 'booked' | 'slot_taken' | 'not_open_yet' | 'site_blocked' | 'site_changed' | 'timeout' | 'error' | 'interrupted' | 'unknown';
  confirmationCode: string | null;
  message: string | null;
  /** True when the booking form was submitted (the site may have taken the booking). */
  submitted: boolean;
  /** Phase → duration in ms, for metadata `timings_ms`. */
  timingsMs: Record<string, number>;
}

/** What a flow needs to locate one court-slot. */
export interface SlotTarget {
  venue: VenueConfig;
  court: number;
  targetDate: string;
  targetTime: string;
  /** Who will be booked: a flow may pre-fill a form the site shows before the release. */
  user?: BookingUser;
}

/** What {@link SlotFlow.submit} is given. */
export interface SlotSubmitArgs {
  user: BookingUser;
  /** Awaited before the submit is pressed (writes the intent); false or a throw: nothing is sent. */
  onBeforeSubmit: () => Promise<boolean>;
  /** Budget from the submit to its answer, ms. */
  timeoutMs: number;
  /** Called with the site's 32-hex appointment hash the moment the booking answer carries one. */
  onAnswer?: (hash: string) => Promise<void> | void;
}

/** The steps that book one slot on one site (docs/architecture.md "Booking"). */
export interface SlotFlow<Handle = unknown> {
  /** Flow name recorded in `booking_attempts.flow` and metadata `flow`. */
  readonly name: string;
  /** Everything that can happen before the release instant (load the slot, warm the connection). */
  prepare(lease: PageLease, target: SlotTarget): Promise<Handle>;
  /**
   * Fills and submits. `onBeforeSubmit` is awaited before the submit is pressed (it writes the intent row);
   * when it resolves false (or throws) nothing is sent and the result is `interrupted` (`error` on a throw),
   * `submitted: false`.
   *
   * `onAnswer`, when given, is called with the site's appointment hash as soon as the booking answer carries
   * one (before the flow checks anything else and before it returns), so the caller can store it while the
   * outcome is still open. The flow awaits it but never lets it fail the submit (a throw is ignored). Flows
   * whose site answers without such a hash never call it.
   */
  submit(handle: Handle, args: SlotSubmitArgs): Promise<FlowResult>;
  /**
   * Optional: refreshes a prepared handle shortly before the fire instant (e.g. the connection a server closed
   * while idle). Never throws; sends nothing that books.
   */
  warm?(handle: Handle): Promise<void>;
}
