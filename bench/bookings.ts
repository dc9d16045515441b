import { sql } from 'kysely';
import type { SandboxBooking, SandboxSubmit } from '../src/sandbox/site.js';
import { systemClock } from '../src/clock.js';
import type { BenchHarness } from './harness.js';
import type { ReleaseSlot } from './venues.js';

/**
 * The one path every part books through: insert reservation rows with SQL (as a person or tool would), wait
 * for their outcomes, then read what the SITE saw (`submits()`: every booking POST with its arrival on the
 * site's clock; `bookings()`: who holds each slot, by hash) and what the daemon recorded
 * (`booking_attempts.metadata`: `fired_at`, `site_clock_offset_ms`, `timings_ms`).
 */

/** Reservation statuses after which the daemon no longer touches a row. */
export const FINAL_STATUSES: readonly string[] = ['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'needs_attention'];

/** One reservation to insert: a single court of a slot, for benchmark user `userIndex`. */
export interface Wish {
  slot: ReleaseSlot;
  court: number;
  userIndex: number;
}

/** The first attempt of a reservation, as recorded by the daemon. */
export interface AttemptInfo {
  outcome: string | null;
  /** Local (bench) clock when the executor fired, epoch ms; null when it never fired. */
  firedAtMs: number | null;
  /** The site-clock offset the fire instant used, ms; null when none was used. */
  siteClockOffsetMs: number | null;
  /** The flow's phase timings (`prepare_ms`, `open_ms`, `fill_ms`, `before_submit_ms`, `submit_to_result_ms`, `total_ms`). */
  timingsMs: Record<string, number>;
}

/** What became of one {@link Wish}. */
export interface WishOutcome {
  wish: Wish;
  reservationId: number;
  status: string;
  /** The site's booking of the slot (anyone's), if any. */
  booking: SandboxBooking | undefined;
  /** True when the site's booking of the slot came through the page (`client`) for this wish's user and its hash is the reservation's confirmation code. */
  won: boolean;
  /** reservd's submits (booking POSTs) for this slot and user, in arrival order. */
  submits: SandboxSubmit[];
  /**
   * Site arrival of reservd's decisive booking POST (the first one the site answered "booked" or "slot
   * taken"; `submits()[i].arrivedAtMs`) − the site's release instant, ms, both on the site clock; null when
   * none arrived.
   */
  lagMs: number | null;
  /** Site arrival of reservd's last submit (any answer) − the release, ms; null without submits. */
  lastSubmitMs: number | null;
  attempt: AttemptInfo | null;
  /** The fire instant on the SITE's clock − the release, ms (negative: fired before the site opened). */
  fireAtSiteMs: number | null;
}

/**
 * Inserts one reservation per wish in ONE statement (one NOTIFY burst, rows visible together) and returns
 * their ids in wish order.
 */
export async function insertWishes(harness: BenchHarness, wishes: readonly Wish[]): Promise<number[]> {
  if (wishes.length === 0) return [];
  const rows = await harness.db
    .insertInto('reservations')
    .values(wishes.map((w) => ({
      user_id: harness.userIds[w.userIndex]!,
      venue: w.slot.venue,
      target_date: w.slot.date,
      target_time: w.slot.time,
      courts: [w.court],
    })))
    .returning('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

/**
 * Waits until every reservation in `ids` has a final status (polling every 50 ms), at most `timeoutMs`.
 *
 * @returns status by id, and whether all of them are final.
 */
export async function waitForFinal(harness: BenchHarness, ids: readonly number[], timeoutMs: number): Promise<{ statuses: Map<number, string>; finished: boolean }> {
  let statuses = new Map<number, string>();
  const deadlineMs = systemClock.now() + timeoutMs;
  for (;;) {
    const { rows } = await sql<{ id: string; status: string }>`
      SELECT id, status FROM reservations WHERE id = ANY(${ids.map(String)}::bigint[])`.execute(harness.db);
    statuses = new Map(rows.map((r) => [Number(r.id), r.status]));
    const finished = rows.length === ids.length && rows.every((r) => FINAL_STATUSES.includes(r.status));
    if (finished || systemClock.now() >= deadlineMs) return { statuses, finished };
    await systemClock.sleep(50);
  }
}

/** "id:status" of the rows not final yet (at most 10), for messages. */
function describeOpen(statuses: ReadonlyMap<number, string>): string {
  const open = [...statuses].filter(([, s]) => !FINAL_STATUSES.includes(s)).map(([id, s]) => `${id}:${s}`);
  return `${open.slice(0, 10).join(', ') || 'none'}${open.length > 10 ? `, ... (${open.length})` : ''}`;
}

/** The first attempt of each reservation in `ids`, by reservation id. */
export async function firstAttempts(harness: BenchHarness, ids: readonly number[]): Promise<Map<number, AttemptInfo>> {
  const { rows } = await sql<{ reservation_id: string; outcome: string | null; metadata: Record<string, unknown> }>`
    SELECT DISTINCT ON (reservation_id) reservation_id, outcome, metadata
    FROM booking_attempts WHERE reservation_id = ANY(${ids.map(String)}::bigint[])
    ORDER BY reservation_id, attempt`.execute(harness.db);
  const out = new Map<number, AttemptInfo>();
  for (const row of rows) {
    const m = row.metadata;
    const firedAt = typeof m.fired_at === 'string' ? Date.parse(m.fired_at) : Number.NaN;
    const offset = typeof m.site_clock_offset_ms === 'number' ? m.site_clock_offset_ms : null;
    const timings = m.timings_ms && typeof m.timings_ms === 'object' ? (m.timings_ms as Record<string, unknown>) : {};
    out.set(Number(row.reservation_id), {
      outcome: row.outcome,
      firedAtMs: Number.isFinite(firedAt) ? firedAt : null,
      siteClockOffsetMs: offset,
      timingsMs: Object.fromEntries(Object.entries(timings).filter((e): e is [string, number] => typeof e[1] === 'number')),
    });
  }
  return out;
}

const sameSlot = (wish: Wish) => (s: { venue: string | null; court: number | null; date: string | null; time: string | null }): boolean =>
  s.venue === wish.slot.venue && s.court === wish.court && s.date === wish.slot.date && s.time === wish.slot.time;

/** The confirmation code (the site's booking hash) recorded on each reservation in `ids`. */
async function confirmationCodes(harness: BenchHarness, ids: readonly number[]): Promise<Map<number, string | null>> {
  const { rows } = await sql<{ id: string; confirmation_code: string | null }>`
    SELECT id, confirmation_code FROM reservations WHERE id = ANY(${ids.map(String)}::bigint[])`.execute(harness.db);
  return new Map(rows.map((r) => [Number(r.id), r.confirmation_code]));
}

/** Reads the site's and the daemon's view of finished wishes (see {@link WishOutcome}). */
export async function describeOutcomes(harness: BenchHarness, wishes: readonly Wish[], ids: readonly number[], statuses: ReadonlyMap<number, string>): Promise<WishOutcome[]> {
  const attempts = await firstAttempts(harness, ids);
  const codes = await confirmationCodes(harness, ids);
  const bookings = harness.sandbox.site.bookings();
  const submits = harness.sandbox.site.submits();
  return wishes.map((wish, i) => {
    const id = ids[i]!;
    const email = harness.userEmail(wish.userIndex);
    const booking = bookings.find(sameSlot(wish));
    const ours = submits.filter((s) => sameSlot(wish)(s) && s.email === email);
    const decisive = ours.find((s) => s.result === 'booked' || s.result === 'slot_taken');
    const last = ours[ours.length - 1];
    const attempt = attempts.get(id) ?? null;
    const release = wish.slot.releaseMs;
    return {
      wish,
      reservationId: id,
      status: statuses.get(id) ?? 'unknown',
      booking,
      won: booking !== undefined && booking.source === 'client' && booking.email === email && booking.hash === codes.get(id),
      submits: ours,
      lagMs: decisive ? decisive.arrivedAtMs - release : null,
      lastSubmitMs: last ? last.arrivedAtMs - release : null,
      attempt,
      fireAtSiteMs: attempt?.firedAtMs == null ? null : attempt.firedAtMs + harness.skewMs - release,
    };
  });
}

/**
 * Inserts `wishes`, waits for all of them to finish (at most `timeoutMs`) and describes the outcomes. The
 * caller positions the clock (and schedules competitors) before.
 *
 * @param options.allowUnfinished describe rows still open at the deadline (their status as it is) instead
 *   of throwing.
 * @throws Error naming the open rows when some are not final after `timeoutMs` (unless allowed).
 */
export async function bookAndWait(harness: BenchHarness, wishes: readonly Wish[], timeoutMs: number, options: { allowUnfinished?: boolean } = {}): Promise<WishOutcome[]> {
  const ids = await insertWishes(harness, wishes);
  const { statuses, finished } = await waitForFinal(harness, ids, timeoutMs);
  if (!finished && !options.allowUnfinished) {
    throw new Error(`${ids.length} reservation(s) not finished after ${timeoutMs} ms (open: ${describeOpen(statuses)})`);
  }
  return describeOutcomes(harness, wishes, ids, statuses);
}

/**
 * Puts the bench clock `leadMs` before `releaseMs`. A clock already standing between `keepWithinMs` and
 * `leadMs` before the release (a daemon's first round, started with a longer lead) is left alone: never a
 * jump while the daemon's start-up work (its site-clock estimate) may still run.
 */
export function standBefore(harness: BenchHarness, releaseMs: number, leadMs: number, keepWithinMs = 0): void {
  const untilMs = releaseMs - harness.clock.now();
  if (untilMs >= leadMs && untilMs <= keepWithinMs) return;
  harness.clock.moveTo(releaseMs - leadMs);
}

/** Per-phase series over outcomes: `fire_at_site` and every `timings_ms` phase (`open`, `fill`, `submit_to_result`, ...). */
export function phaseSeries(outcomes: readonly WishOutcome[]): Map<string, number[]> {
  const series = new Map<string, number[]>();
  const add = (key: string, value: number): void => {
    const list = series.get(key) ?? [];
    list.push(value);
    series.set(key, list);
  };
  for (const o of outcomes) {
    if (o.fireAtSiteMs !== null) add('fire_at_site', o.fireAtSiteMs);
    for (const [key, value] of Object.entries(o.attempt?.timingsMs ?? {})) add(key.replace(/_ms$/, ''), value);
  }
  return series;
}

/** Counts of each status. */
export function countStatuses(outcomes: readonly WishOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
}

/** Adds `counts` into `into`. */
export function addCounts(into: Record<string, number>, counts: Record<string, number>): void {
  for (const [key, n] of Object.entries(counts)) into[key] = (into[key] ?? 0) + n;
}

/** A short human line about one outcome for stderr: status, lag, and where the time went. */
export function describeForLog(o: WishOutcome): string {
  const t = o.attempt?.timingsMs ?? {};
  const fmt = (v: number | null | undefined): string => (v == null ? '-' : String(Math.round(v)));
  return `${o.status}${o.won ? '' : ' (lost)'}, lag ${fmt(o.lagMs)} ms [fire@site ${fmt(o.fireAtSiteMs)}, open ${fmt(t.open_ms)}, fill ${fmt(t.fill_ms)}, intent ${fmt(t.before_submit_ms)}, click→answer ${fmt(t.submit_to_result_ms)}, offset ${fmt(o.attempt?.siteClockOffsetMs)}]`;
}

/** Booking POSTs the site answered 429 (the limiter answers before reading the body: they name no slot). */
export function rateLimitedPosts(harness: BenchHarness): number {
  return harness.sandbox.site.submits().filter((s) => s.result === 'rate_limited').length;
}

/** Writes a progress line on stderr: `[part] message`. */
export function progress(part: string, message: string): void {
  process.stderr.write(`[${part}] ${message}\n`);
}
