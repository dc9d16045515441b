import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type ChromiumPool } from '../src/booking/browser.js';
import { createExecutor, type ExecutorOptions } from '../src/booking/executor.js';
import type { FlowResult, SlotFlow, SlotTarget } from '../src/booking/flow.js';
import { acuityTargetOf, createAcuityFlow, type AcuityHandle } from '../src/booking/flows/acuity.js';
import type { BookingSessionPort, Execution } from '../src/booking/session-port.js';
import { createManualClock, systemClock, type ManualClock } from '../src/clock.js';
import { buildImmediateRequest, type JsonObject } from '../src/contracts/index.js';
import { ReservdError } from '../src/errors.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { SPA_ALERT_ES } from './helpers/acuity-spa.js';
import { LA_VILLA, startTestSandbox, T0, testConfig, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * The executor driving the real Acuity flow (`createAcuityFlow`) through Chromium against the look-alike:
 * court fallback on real pages, "not open yet" retried until the time appears, a competitor's booking
 * answered 409, a submit the captcha flags, a lost answer. The executor and the site share a manual clock
 * (releases, the fire instant and the retry pauses move only when the test moves it); the flow's own phase
 * timings use real time. The held row is the executor's own port ({@link recordingSession}): no database.
 */

const DAY = '2027-07-23';
/** 2027-07-23 10:00 in Guatemala opens at 16:00Z (hoursBefore 48), an hour after {@link T0}. */
const RELEASE_10 = Date.parse('2027-07-21T16:00:00.000Z');
const ANA = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' };

let clock: ManualClock;
let sandbox: TestSandbox;
let pool: ChromiumPool;

/** One attempt as the executor drove it through the port. */
interface AttemptRecord {
  court: number;
  /** Intents granted (the executor asks before every submit of the attempt). */
  intents: number;
  outcome?: string;
  confirmationCode?: string | null;
  error?: string | null;
  metadata?: JsonObject;
  /** The hash handed over the moment the booking answer arrived (the attempt port's `recordAnswer`). */
  answeredHash?: string;
}

/**
 * A {@link BookingSessionPort} for `courts` of la-villa `time` on {@link DAY}, recording its attempts; the row is
 * always held. `fireAtMs` defaults to the clock's now (fire at once).
 */
function recordingSession(time: string, courts: number[], fireAtMs = clock.now()): { session: BookingSessionPort; attempts: AttemptRecord[] } {
  const attempts: AttemptRecord[] = [];
  const request = buildImmediateRequest({ user: ANA, venue: 'la-villa', targetDate: DAY, targetTime: time, courts }, new Set(['la-villa']));
  const session: BookingSessionPort = {
    reservationId: 41,
    request,
    venue: sandbox.venue(),
    fireAt: new Date(fireAtMs),
    releaseAt: new Date(fireAtMs),
    siteClockOffsetMs: null,
    signal: new AbortController().signal,
    stopWaiting: new AbortController().signal,
    beginFire: async () => true,
    stillHeld: async () => true,
    async startAttempt({ court }) {
      const record: AttemptRecord = { court, intents: 0 };
      attempts.push(record);
      return {
        attempt: attempts.length,
        recordIntent: async () => {
          record.intents += 1;
          return true;
        },
        recordAnswer: async (hash) => {
          record.answeredHash = hash;
        },
        finish: async ({ outcome, confirmationCode, error, metadata }) => {
          Object.assign(record, { outcome, confirmationCode, error, metadata });
        },
      };
    },
  };
  return { session, attempts };
}

/** The real Acuity flow, with what each prepare showed and each submit returned recorded by court. */
function observedFlow(): { flow: SlotFlow; prepared: Array<{ court: number; view: string | null }>; results: Array<{ court: number } & Pick<FlowResult, 'outcome' | 'submitted' | 'message'>> } {
  const real = createAcuityFlow({ clock: systemClock });
  const prepared: Array<{ court: number; view: string | null }> = [];
  const results: Array<{ court: number } & Pick<FlowResult, 'outcome' | 'submitted' | 'message'>> = [];
  const flow: SlotFlow<AcuityHandle> = {
    name: real.name,
    async prepare(lease, target) {
      const handle = await real.prepare(lease, target);
      prepared.push({ court: target.court, view: handle.preparedView });
      return handle;
    },
    async submit(handle, args) {
      const result = await real.submit(handle, args);
      results.push({ court: handle.target.court, outcome: result.outcome, submitted: result.submitted, message: result.message });
      return result;
    },
  };
  return { flow: flow as SlotFlow, prepared, results };
}

/** Runs `session` on an executor over the real flow (not-open retries off unless asked). */
function execute(session: BookingSessionPort, flow: SlotFlow, options: Partial<ExecutorOptions> = {}): Promise<Execution> {
  const executor = createExecutor({
    clock,
    logger: createSilentLogger(),
    pool,
    flow,
    executorId: 'flow-test',
    attemptTimeoutMs: 10_000,
    notOpenRetryBudgetMs: 0,
    notOpenRetryIntervalMs: 250,
    ...options,
  });
  return executor.execute(session);
}

const submitsView = () => sandbox.site.submits().map((s) => `${s.court} ${s.time} ${s.email} ${s.result} ${s.arrivedAt}`);

beforeAll(async () => {
  clock = createManualClock(T0);
  sandbox = await startTestSandbox({ clock, switches: { limiter: { enabled: false } } });
  pool = createBrowserPool({ executablePath: findChromium(null), headless: true, logger: { info() {}, warn() {} } });
});
afterAll(async () => {
  await pool?.close();
  await sandbox?.stop();
});
beforeEach(() => {
  clock.set(T0);
  sandbox.site.reset();
});

describe('acuityTargetOf (config → the page\'s target)', () => {
  const villa = testConfig('https://example.as.me').venues['la-villa']!;
  const slot = (over: Partial<SlotTarget> = {}): SlotTarget => ({ venue: villa, court: 2, targetDate: DAY, targetTime: '09:00', ...over });

  it('maps a court of LA_VILLA to its appointment type, calendar and the slot\'s UTC offset', () => {
    expect(acuityTargetOf(slot())).toEqual({
      baseUrl: 'https://example.as.me',
      ownerKey: 'a3f09c1e',
      court: 2,
      appointmentTypeId: 70000102,
      calendarId: 9000202,
      date: DAY,
      time: '09:00',
      utcOffset: '-06:00',
      allowedHosts: ['www.google.com', 'www.gstatic.com'],
      allowedPostHosts: ['www.google.com'],
      requestBudget: { requests: 300, perS: 60 },
    });
    const ny = testConfig('https://example.as.me', { ny: { ...LA_VILLA, timeZone: 'America/New_York' } }).venues.ny!;
    expect(acuityTargetOf(slot({ venue: ny })).utcOffset).toBe('-04:00');
    expect(acuityTargetOf(slot({ venue: ny, targetDate: '2027-12-01' })).utcOffset).toBe('-05:00');
  });

  it('refuses a court the venue does not have and a time the clocks skip', () => {
    const unknown = (() => {
      try {
        acuityTargetOf(slot({ court: 7 }));
      } catch (err) {
        return err;
      }
    })();
    expect(unknown).toBeInstanceOf(ReservdError);
    expect(unknown).toMatchObject({ code: 'unknown_court', message: 'venue "La Villa Tennis": court 7 is not configured (courts: 1, 2, 3)' });
    const ny = testConfig('https://example.as.me', { ny: { ...LA_VILLA, timeZone: 'America/New_York' } }).venues.ny!;
    expect(() => acuityTargetOf(slot({ venue: ny, targetDate: '2027-03-14', targetTime: '02:00' }))).toThrow(RangeError);
  });
});

describe('the executor on the real Acuity flow (Chromium, look-alike)', () => {
  it('books the first court through the page: the site\'s hash is the confirmation code, the attempt has fired_at and the phase timings', async () => {
    const { flow, prepared } = observedFlow();
    const { session, attempts } = recordingSession('09:00', [1, 2]);
    const execution = await execute(session, flow);
    const [booking] = sandbox.site.bookings();
    expect(execution.kind).toBe('settled');
    expect(execution.result).toMatchObject({ status: 'success', court: 1, confirmationCode: booking!.hash });
    expect(booking).toMatchObject({ venue: 'la-villa', court: 1, date: DAY, time: '09:00', ...ANA, source: 'client' });
    expect(prepared).toEqual(expect.arrayContaining([{ court: 1, view: 'form' }, { court: 2, view: 'form' }]));
    expect(submitsView()).toEqual(['1 09:00 ana@example.test booked 2027-07-21T15:00:00.000Z']);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ court: 1, intents: 1, outcome: 'booked', confirmationCode: booking!.hash, error: null });
    expect(attempts[0]!.metadata).toMatchObject({ flow: 'acuity', court: 1, courts_tried: [1], submitted: true, fired_at: '2027-07-21T15:00:00.000Z' });
    const timings = attempts[0]!.metadata!.timings_ms as Record<string, number>;
    expect(Object.keys(timings).sort()).toEqual(['before_submit_ms', 'fill_ms', 'open_ms', 'prepare_ms', 'submit_to_result_ms', 'total_ms']);
  }, 60_000);

  it('court fallback: court 1, taken before the fire, is absent from its calendar (not_open_yet, nothing sent); court 2 books', async () => {
    sandbox.site.book({ venue: 'la-villa', court: 1, date: DAY, time: '09:00' });
    const { flow, results } = observedFlow();
    const { session, attempts } = recordingSession('09:00', [1, 2]);
    const execution = await execute(session, flow);
    expect(execution.result).toMatchObject({ status: 'success', court: 2 });
    expect(results.map((r) => `${r.court} ${r.outcome} ${r.submitted}`)).toEqual(['1 not_open_yet false', '2 booked true']);
    expect(attempts.map((a) => `${a.court} ${a.outcome} intents ${a.intents}`)).toEqual(['1 not_open_yet intents 0', '2 booked intents 1']);
    expect(submitsView()).toEqual(['2 09:00 ana@example.test booked 2027-07-21T15:00:00.000Z']);
    expect(sandbox.site.bookings().map((b) => `${b.court} ${b.source}`)).toEqual(['1 control', '2 client']);
  }, 60_000);

  it('not_open_yet is retried until the time appears: fired 1.5 s early, the retry after the release books, one attempt', async () => {
    clock.set(RELEASE_10 - 1_500);
    const { flow, prepared, results } = observedFlow();
    const { session, attempts } = recordingSession('10:00', [1]);
    const running = execute(session, flow, { notOpenRetryBudgetMs: 10_000 });
    // The first submit found 10:00 absent; the executor now pauses 250 ms (on the manual clock) before retrying.
    await waitFor('the executor\'s not-open pause', () => clock.pendingSleeps() === 1, { timeoutMs: 30_000, everyMs: 20 });
    expect(prepared).toEqual([{ court: 1, view: 'calendar' }]);
    expect(results.map((r) => r.outcome)).toEqual(['not_open_yet']);
    expect(sandbox.site.submits()).toEqual([]);
    clock.set(RELEASE_10);
    const execution = await running;
    expect(execution.result).toMatchObject({ status: 'success', court: 1, confirmationCode: sandbox.site.bookings()[0]!.hash });
    expect(results.map((r) => r.outcome)).toEqual(['not_open_yet', 'booked']);
    expect(submitsView()).toEqual(['1 10:00 ana@example.test booked 2027-07-21T16:00:00.000Z']);
    expect(attempts.map((a) => `${a.court} ${a.outcome} intents ${a.intents}`)).toEqual(['1 booked intents 1']);
  }, 60_000);

  it('a competitor books court 1 between prepare and fire: the page\'s POST gets 409 (slot_taken, submitted), court 2 books', async () => {
    const { flow, prepared, results } = observedFlow();
    const { session, attempts } = recordingSession('09:00', [1, 2], T0 + 2_000);
    expect(new Date(sandbox.site.scheduleCompetitor({ venue: 'la-villa', court: 1, date: DAY, time: '09:00' }, 1_000)).toISOString()).toBe('2027-07-21T15:00:01.000Z');
    const running = execute(session, flow);
    // Both pages show the form (released at T0); the executor and the competitor wait on the clock.
    await waitFor('both courts prepared, the fire awaited', () => prepared.length === 2 && clock.pendingSleeps() === 2, { timeoutMs: 30_000, everyMs: 20 });
    expect(prepared).toEqual(expect.arrayContaining([{ court: 1, view: 'form' }, { court: 2, view: 'form' }]));
    clock.set(T0 + 1_000);
    await sandbox.site.competitorsSettled();
    expect(sandbox.site.bookings().map((b) => `${b.court} ${b.source} ${b.arrivedAt}`)).toEqual(['1 competitor 2027-07-21T15:00:01.000Z']);
    clock.set(T0 + 2_000);
    const execution = await running;
    expect(execution.result).toMatchObject({ status: 'success', court: 2 });
    expect(results.map((r) => `${r.court} ${r.outcome} ${r.submitted}`)).toEqual(['1 slot_taken true', '2 booked true']);
    expect(submitsView()).toEqual([
      '1 09:00 ana@example.test slot_taken 2027-07-21T15:00:02.000Z',
      '2 09:00 ana@example.test booked 2027-07-21T15:00:02.000Z',
    ]);
    expect(attempts.map((a) => `${a.court} ${a.outcome} intents ${a.intents}`)).toEqual(['1 slot_taken intents 1', '2 booked intents 1']);
  }, 60_000);

  it('the captcha flags the submit: the page shows the irregular-usage alert (site_blocked); the executor ends unknown, no second court', async () => {
    sandbox.site.setSwitches({ captchaVerdict: { kind: 'fail' } });
    const { flow, results } = observedFlow();
    const { session, attempts } = recordingSession('09:00', [1, 2]);
    const execution = await execute(session, flow);
    expect(results).toEqual([{ court: 1, outcome: 'site_blocked', submitted: true, message: SPA_ALERT_ES }]);
    // A submitted site_blocked is not among the site's definitive "no" answers (court-fallback.ts): unknown.
    expect(execution.kind).toBe('unknown');
    expect(execution.result).toMatchObject({ status: 'failure', outcome: 'unknown' });
    expect(execution.result.errors).toEqual([`court 1: submitted, but the site's answer is unknown (the site blocked the booking: ${SPA_ALERT_ES})`]);
    expect(attempts.map((a) => `${a.court} ${a.outcome} intents ${a.intents}`)).toEqual(['1 unknown intents 1']);
    expect(attempts[0]!.error).toBe(SPA_ALERT_ES);
    expect(submitsView()).toEqual(['1 09:00 ana@example.test blocked 2027-07-21T15:00:00.000Z']);
    expect(sandbox.site.bookings()).toEqual([]);
  }, 60_000);

  it('a court the venue does not have fails before anything is sent (error), and the next court books', async () => {
    const { flow, results } = observedFlow();
    const { session, attempts } = recordingSession('09:00', [7, 3]);
    const execution = await execute(session, flow);
    expect(execution.result).toMatchObject({ status: 'success', court: 3 });
    expect(results.map((r) => `${r.court} ${r.outcome}`)).toEqual(['3 booked']);
    expect(attempts.map((a) => `${a.court} ${a.outcome} intents ${a.intents}`)).toEqual(['7 error intents 0', '3 booked intents 1']);
    expect(attempts[0]!.error).toBe('venue "La Villa Tennis": court 7 is not configured (courts: 1, 2, 3)');
    expect(submitsView()).toEqual(['3 09:00 ana@example.test booked 2027-07-21T15:00:00.000Z']);
  }, 60_000);

  it('no answer within the attempt budget: timeout after the submit ends unknown, the site holds the booking, court 2 is never submitted', async () => {
    // The slow answer waits on the manual clock, which does not move until the end of the test.
    sandbox.site.setSwitches({ slowSubmitMs: 60_000 });
    const { flow, results } = observedFlow();
    const { session, attempts } = recordingSession('09:00', [1, 2]);
    const execution = await execute(session, flow, { attemptTimeoutMs: 1_500 });
    expect(results.map((r) => `${r.court} ${r.outcome} ${r.submitted}`)).toEqual(['1 timeout true']);
    expect(execution.kind).toBe('unknown');
    expect(attempts.map((a) => `${a.court} ${a.outcome} intents ${a.intents}`)).toEqual(['1 unknown intents 1']);
    expect(sandbox.site.bookings()).toEqual([expect.objectContaining({ court: 1, time: '09:00', email: ANA.email, source: 'client' })]);
    expect(sandbox.site.submits().map((s) => s.court)).toEqual([1]);
    clock.advance(60_000); // lets the sandbox send its late answer
  }, 60_000);
});
