import type { APIRequestContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import { buildImmediateRequest } from '../src/contracts/index.js';
import { COURTS_PREPARED_AHEAD, createExecutor } from '../src/booking/executor.js';
import type { BookingSessionPort } from '../src/booking/session-port.js';
import type { BrowserPool, FlowResult, SlotFlow, SlotTarget } from '../src/booking/flow.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { LA_VILLA } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * The executor's court loop with a scripted flow and pool on a manual clock (no browser, no database):
 * every preferred court up to COURTS_PREPARED_AHEAD is prepared BEFORE the fire instant, so a fallback
 * court fires at once when the first is taken (anything that can be done before the release is done
 * before it); long waits warm the prepared pages once, 3 s before the fire; every page is released.
 */

const T0 = Date.parse('2027-07-21T14:59:00.000Z');
const FIRE_AT = Date.parse('2027-07-21T15:00:00.000Z');
/** The hash the scripted site answers a booking with. */
const ANSWER_HASH = '0123456789abcdef0123456789abcdef';
/** Five courts, each its own appointment type and calendar. */
const COURTS = {
  '1': { appointmentTypeId: 70000101, calendarId: 9000201 },
  '2': { appointmentTypeId: 70000102, calendarId: 9000202 },
  '3': { appointmentTypeId: 70000103, calendarId: 9000203 },
  '4': { appointmentTypeId: 70000104, calendarId: 9000204 },
  '5': { appointmentTypeId: 70000105, calendarId: 9000205 },
};
const venue = parseConfig({ venues: { club: { ...LA_VILLA, courts: COURTS, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } } } }).venues.club!;

interface Event {
  what: 'acquire' | 'release' | 'prepare' | 'warm' | 'submit';
  court?: number;
  atMs: number;
}

/**
 * A scripted flow: `answers[court]` is the outcome of that court's submit (default `booked`); `lost` means the
 * form was submitted and the answer timed out.
 */
function createScript(clock: ManualClock, answers: Record<number, FlowResult['outcome'] | 'lost' | 'unprepared'>) {
  const events: Event[] = [];
  const pages: Array<{ lease: number; closed: boolean }> = [];
  let leases = 0;
  const pool: BrowserPool = {
    async acquire() {
      const n = ++leases;
      events.push({ what: 'acquire', atMs: clock.now() });
      const page = { lease: n, closed: false };
      pages.push(page);
      return {
        request: {} as APIRequestContext,
        page: async () => page as unknown as Page,
        isClosed: () => page.closed,
        browserId: 'fake-1',
        release: async () => {
          events.push({ what: 'release', court: n, atMs: clock.now() });
        },
      };
    },
    close: async () => {},
  };
  const flow: SlotFlow<SlotTarget> = {
    name: 'scripted',
    async prepare(_page, target) {
      events.push({ what: 'prepare', court: target.court, atMs: clock.now() });
      if (answers[target.court] === 'unprepared') throw new Error(`court ${target.court}: the slot page did not load`);
      return target;
    },
    async submit(target, args) {
      const answer = answers[target.court] ?? 'booked';
      if (answer === 'unprepared') throw new Error('submit on a page that was never prepared');
      const submits = answer === 'booked' || answer === 'lost';
      if (submits && !(await args.onBeforeSubmit())) {
        return { outcome: 'interrupted', confirmationCode: null, message: 'not submitted: refused', submitted: false, timingsMs: {} };
      }
      events.push({ what: 'submit', court: target.court, atMs: clock.now() });
      // The site's answer carries a hash: the flow hands it over before it returns.
      if (answer === 'booked') await args.onAnswer?.(ANSWER_HASH);
      if (answer === 'lost') return { outcome: 'timeout', confirmationCode: null, message: 'no answer within 5000 ms', submitted: true, timingsMs: {} };
      return { outcome: answer, confirmationCode: answer === 'booked' ? `CODE-${target.court}` : null, message: null, submitted: submits, timingsMs: {} };
    },
    async warm(target) {
      events.push({ what: 'warm', court: target.court, atMs: clock.now() });
    },
  };
  const attempts: Array<{ court: number; outcome?: string; submitted: boolean }> = [];
  /** Hashes stored through `recordAnswer`, with the attempt's court and whether it was still open. */
  const answered: Array<{ court: number; hash: string; open: boolean }> = [];
  /** Whether the session still holds the row; `stealAtFire`: another owner takes the row right after the fire began. */
  const hold = { held: true, fired: 0, stealAtFire: false };
  const executor = createExecutor({
    clock,
    logger: createSilentLogger(),
    pool,
    flow: flow as SlotFlow,
    executorId: 'test',
    attemptTimeoutMs: 5_000,
    notOpenRetryBudgetMs: 0,
    notOpenRetryIntervalMs: 250,
  });
  /** A session port over `attempts` and `hold`, as `src/booking-session/` implements it against the database. */
  const sessionFor = (courts: number[], extra: Partial<Pick<BookingSessionPort, 'signal' | 'stopWaiting'>> = {}): BookingSessionPort => {
    const request = buildImmediateRequest(
      { user: { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' }, venue: 'club', targetDate: '2027-07-23', targetTime: '09:00', courts },
      new Set(['club']),
    );
    return {
      reservationId: 7,
      request,
      venue,
      fireAt: new Date(FIRE_AT),
      releaseAt: new Date(FIRE_AT),
      siteClockOffsetMs: null,
      signal: new AbortController().signal,
      stopWaiting: new AbortController().signal,
      ...extra,
      beginFire: async () => {
        hold.fired++;
        const held = hold.held;
        if (hold.stealAtFire) hold.held = false;
        return held;
      },
      stillHeld: async () => hold.held,
      async startAttempt({ court }) {
        attempts.push({ court, submitted: false });
        const index = attempts.length - 1;
        return {
          attempt: attempts.length,
          recordIntent: async () => {
            if (!hold.held || attempts[index]!.outcome !== undefined) return false;
            attempts[index]!.submitted = true;
            return true;
          },
          recordAnswer: async (hash) => {
            answered.push({ court, hash, open: attempts[index]!.outcome === undefined });
          },
          finish: async ({ outcome }) => {
            attempts[index]!.outcome = outcome;
          },
        };
      },
    };
  };
  return { events, attempts, answered, executor, pages, hold, sessionFor, leases: () => leases };
}

/** Moves the manual clock to each instant once something sleeps on it. */
async function driveTo(clock: ManualClock, instantsMs: number[]): Promise<void> {
  for (const atMs of instantsMs) {
    await waitFor(`a sleep before ${new Date(atMs).toISOString()}`, () => clock.pendingSleeps() > 0 || undefined, { timeoutMs: 5_000, everyMs: 1 });
    clock.set(atMs);
  }
}

const at = (events: Event[], what: Event['what']) => events.filter((e) => e.what === what).map((e) => ({ court: e.court, at: new Date(e.atMs).toISOString() }));

describe('executor: courts prepared ahead', () => {
  it('prepares the first three courts before the release, warms them 3 s before, and falls back to court 2 at the fire instant', async () => {
    expect(COURTS_PREPARED_AHEAD).toBe(3);
    const clock = createManualClock(T0);
    const s = createScript(clock, { 1: 'slot_taken' });
    const running = s.executor.execute(s.sessionFor([1, 2, 3, 4]));
    await driveTo(clock, [FIRE_AT - 3_000, FIRE_AT]);
    const { result } = await running;
    expect(result).toMatchObject({ status: 'success', court: 2, confirmationCode: 'CODE-2' });
    expect(at(s.events, 'prepare')).toEqual([1, 2, 3].map((court) => ({ court, at: '2027-07-21T14:59:00.000Z' })));
    expect(at(s.events, 'warm')).toEqual([1, 2, 3].map((court) => ({ court, at: '2027-07-21T14:59:57.000Z' })));
    expect(at(s.events, 'submit')).toEqual([
      { court: 1, at: '2027-07-21T15:00:00.000Z' },
      { court: 2, at: '2027-07-21T15:00:00.000Z' },
    ]);
    expect(s.attempts).toEqual([
      { court: 1, outcome: 'slot_taken', submitted: false },
      { court: 2, outcome: 'booked', submitted: true },
    ]);
    // The answer's hash reached the attempt port while the attempt was still open.
    expect(s.answered).toEqual([{ court: 2, hash: ANSWER_HASH, open: true }]);
    expect(s.leases()).toBe(3);
    expect(new Set(s.events.filter((e) => e.what === 'release').map((e) => e.court))).toEqual(new Set([1, 2, 3]));
  });

  it('prepares a fourth court only on its turn, after the fire instant, and releases every page', async () => {
    const clock = createManualClock(FIRE_AT - 5_000); // a short wait: no warm-up
    const s = createScript(clock, { 1: 'slot_taken', 2: 'slot_taken', 3: 'slot_taken' });
    const running = s.executor.execute(s.sessionFor([1, 2, 3, 4, 5]));
    await driveTo(clock, [FIRE_AT]);
    const { result } = await running;
    expect(result).toMatchObject({ status: 'success', court: 4 });
    expect(at(s.events, 'warm')).toEqual([]);
    expect(at(s.events, 'prepare')).toEqual([
      { court: 1, at: '2027-07-21T14:59:55.000Z' },
      { court: 2, at: '2027-07-21T14:59:55.000Z' },
      { court: 3, at: '2027-07-21T14:59:55.000Z' },
      { court: 4, at: '2027-07-21T15:00:00.000Z' },
    ]);
    expect(s.attempts.map((a) => a.court)).toEqual([1, 2, 3, 4]);
    expect(s.events.filter((e) => e.what === 'release')).toHaveLength(4);
  });

  it('a stop while waiting submits nothing, records interrupted and releases every prepared page', async () => {
    const clock = createManualClock(T0);
    const s = createScript(clock, {});
    const stop = new AbortController();
    const running = s.executor.execute(s.sessionFor([1, 2], { stopWaiting: stop.signal }));
    await waitFor('the wait for the fire instant', () => clock.pendingSleeps() > 0 || undefined, { everyMs: 1 });
    stop.abort();
    const { result } = await running;
    expect(result).toMatchObject({ status: 'failure', outcome: 'interrupted' });
    expect(at(s.events, 'submit')).toEqual([]);
    expect(s.attempts).toEqual([{ court: 1, outcome: 'interrupted', submitted: false }]);
    expect(s.events.filter((e) => e.what === 'release')).toHaveLength(2);
  });

  it('a page whose browser died while waiting is prepared again on a new page before the fire', async () => {
    const clock = createManualClock(T0);
    const s = createScript(clock, {});
    const running = s.executor.execute(s.sessionFor([1]));
    await waitFor('the wait for the warm-up', () => clock.pendingSleeps() > 0 || undefined, { everyMs: 1 });
    s.pages[0]!.closed = true; // Chromium was killed
    await driveTo(clock, [FIRE_AT - 3_000, FIRE_AT]);
    const { result } = await running;
    expect(result).toMatchObject({ status: 'success', court: 1 });
    expect(at(s.events, 'prepare')).toEqual([
      { court: 1, at: '2027-07-21T14:59:00.000Z' },
      { court: 1, at: '2027-07-21T14:59:57.000Z' }, // revived at the warm-up, before the fire
    ]);
    expect(at(s.events, 'submit')).toEqual([{ court: 1, at: '2027-07-21T15:00:00.000Z' }]);
    expect(s.leases()).toBe(2);
    expect(s.events.filter((e) => e.what === 'release').map((e) => e.court)).toEqual([1, 2]);
  });

  it('a lease stolen right before the intent: nothing is submitted, the attempt is interrupted, no fallback court', async () => {
    const clock = createManualClock(FIRE_AT - 5_000);
    const s = createScript(clock, {});
    s.hold.stealAtFire = true;
    const running = s.executor.execute(s.sessionFor([1, 2]));
    await driveTo(clock, [FIRE_AT]);
    const execution = await running;
    expect(execution.kind).toBe('interrupted');
    expect(execution.result).toMatchObject({ status: 'failure', outcome: 'interrupted' });
    expect(execution.result.errors).toEqual(['court 1: interrupted before the submit: not submitted: refused']);
    expect(at(s.events, 'submit')).toEqual([]);
    expect(s.attempts).toEqual([{ court: 1, outcome: 'interrupted', submitted: false }]);
  });

  it('a submit whose answer is lost ends the booking as unknown: no other court is submitted', async () => {
    const clock = createManualClock(FIRE_AT - 5_000);
    const s = createScript(clock, { 1: 'lost' });
    const running = s.executor.execute(s.sessionFor([1, 2]));
    await driveTo(clock, [FIRE_AT]);
    const execution = await running;
    expect(execution.kind).toBe('unknown');
    expect(execution.result).toMatchObject({ status: 'failure', outcome: 'unknown', confirmationCode: null });
    expect(execution.result.errors).toEqual(["court 1: submitted, but the site's answer is unknown (timed out: no answer within 5000 ms)"]);
    expect(at(s.events, 'submit')).toEqual([{ court: 1, at: '2027-07-21T15:00:00.000Z' }]);
    expect(s.attempts).toEqual([{ court: 1, outcome: 'unknown', submitted: true }]);
  });

  it('court 1 whose page never loaded: the fire begins once, and court 2 is tried and booked', async () => {
    const clock = createManualClock(FIRE_AT - 5_000);
    const s = createScript(clock, { 1: 'unprepared' });
    const running = s.executor.execute(s.sessionFor([1, 2]));
    await driveTo(clock, [FIRE_AT]);
    const execution = await running;
    expect(execution.kind).toBe('settled');
    expect(execution.result).toMatchObject({ status: 'success', court: 2, confirmationCode: 'CODE-2' });
    expect(s.hold.fired).toBe(1);
    expect(s.attempts).toEqual([
      { court: 1, outcome: 'error', submitted: false },
      { court: 2, outcome: 'booked', submitted: true },
    ]);
  });
});
