import { describe, expect, it } from 'vitest';
import { createExecutor } from '../src/booking/executor.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { fakePool, scriptedFlow, scriptedSession, type ScriptedAnswer, type ScriptedSubmit } from './helpers/scripted-flow.js';
import { waitFor } from './helpers/wait.js';

/**
 * The executor and the site's refusals, on a manual clock with a scripted flow (no browser, no database):
 * a 429 retried on the same court once its Retry-After has passed and never before, within the attempt's
 * budget; a venue in its site_blocked cool-off submits nothing; one client account has one submit in flight.
 */

/** Fire instant; the retry budget (10 s) ends at FIRE_AT + 10_000. */
const FIRE_AT = Date.parse('2027-07-21T15:00:00.000Z');
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function executorFor(clock: ManualClock, answer: (submit: ScriptedSubmit, n: number) => ScriptedAnswer) {
  const scripted = scriptedFlow(clock, answer);
  const executor = createExecutor({
    clock,
    logger: createSilentLogger(),
    pool: fakePool(),
    flow: scripted.flow,
    executorId: 'test',
    attemptTimeoutMs: 5_000,
    notOpenRetryBudgetMs: 10_000,
    notOpenRetryIntervalMs: 250,
  });
  return { executor, submits: scripted.submits };
}

/** Waits until something sleeps on the clock, then moves it to `atMs`. */
async function whenParked(clock: ManualClock, atMs: number): Promise<void> {
  await waitFor(`a sleep before ${iso(atMs)}`, () => clock.pendingSleeps() > 0 || undefined, { timeoutMs: 5_000, everyMs: 1 });
  clock.set(atMs);
}

describe('executor: rate_limited', () => {
  it('retries the same court once Retry-After (2 s) has passed, not before, and books it', async () => {
    const clock = createManualClock(FIRE_AT);
    const { executor, submits } = executorFor(clock, (_s, n) => (n === 1 ? { outcome: 'rate_limited', retryAfterMs: 2_000, message: 'rate limited (HTTP 429)' } : { outcome: 'booked' }));
    const { port, attempts } = scriptedSession(9, FIRE_AT, { courts: [1, 2] });
    const running = executor.execute(port);
    await whenParked(clock, FIRE_AT + 1_999);
    // 1 ms short of Retry-After: still parked, still one submit.
    expect(clock.pendingSleeps()).toBe(1);
    expect(submits.map((s) => iso(s.sentAtMs))).toEqual(['2027-07-21T15:00:00.000Z']);
    clock.set(FIRE_AT + 2_000);
    const execution = await running;
    expect(execution.kind).toBe('settled');
    expect(execution.result).toMatchObject({ status: 'success', outcome: 'booked', court: 1, confirmationCode: 'CODE-9' });
    expect(submits).toEqual([
      { reservationId: 9, court: 1, sentAtMs: FIRE_AT },
      { reservationId: 9, court: 1, sentAtMs: FIRE_AT + 2_000 },
    ]);
    expect(attempts).toEqual([{ court: 1, outcome: 'booked', error: null, intents: 2 }]);
  });

  it('without Retry-After waits 1 s; a retry that would land after the budget is not made: failed rate_limited, no other court', async () => {
    const clock = createManualClock(FIRE_AT);
    // A 429 without Retry-After every second from +0 s: the retry at +10 s is the last within the budget
    // (fire + 10 s); the one its 429 asks for would come at +11 s, past it.
    const { executor, submits } = executorFor(clock, () => ({ outcome: 'rate_limited', message: 'rate limited (HTTP 429, no Retry-After): Rate limit reached.' }));
    const { port, attempts } = scriptedSession(9, FIRE_AT, { courts: [1, 2] });
    const running = executor.execute(port);
    for (let s = 1; s <= 10; s++) {
      await whenParked(clock, FIRE_AT + s * 1_000 - 1);
      expect(submits).toHaveLength(s);
      clock.set(FIRE_AT + s * 1_000);
    }
    const execution = await running;
    expect(execution.kind).toBe('settled');
    expect(execution.result).toMatchObject({ status: 'failure', outcome: 'rate_limited', court: null });
    expect(execution.result.errors).toEqual([
      'court 1: the site rate limited the booking (HTTP 429) past the retry budget: rate limited (HTTP 429, no Retry-After): Rate limit reached.',
    ]);
    expect(submits.map((s) => s.sentAtMs! - FIRE_AT)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000]);
    expect(submits.every((s) => s.court === 1)).toBe(true);
    expect(attempts).toEqual([{ court: 1, outcome: 'rate_limited', error: 'rate limited (HTTP 429, no Retry-After): Rate limit reached.', intents: 11 }]);
  });

  it('a Retry-After longer than the budget left stops at once', async () => {
    const clock = createManualClock(FIRE_AT);
    const { executor, submits } = executorFor(clock, () => ({ outcome: 'rate_limited', retryAfterMs: 60_000, message: 'rate limited' }));
    const { port } = scriptedSession(9, FIRE_AT);
    const execution = await executor.execute(port);
    expect(execution.result).toMatchObject({ status: 'failure', outcome: 'rate_limited' });
    expect(submits).toHaveLength(1);
    expect(clock.now()).toBe(FIRE_AT);
  });
});

describe('executor: form_rejected and the site_blocked gate', () => {
  it('form_rejected stops the booking failed with the site\'s message; no other court', async () => {
    const clock = createManualClock(FIRE_AT);
    const { executor, submits } = executorFor(clock, () => ({ outcome: 'form_rejected', message: 'the site refused the form (HTTP 400): email is invalid.' }));
    const { port, attempts } = scriptedSession(9, FIRE_AT, { courts: [1, 2] });
    const execution = await executor.execute(port);
    expect(execution.kind).toBe('settled');
    expect(execution.result).toMatchObject({ status: 'failure', outcome: 'form_rejected' });
    expect(execution.result.errors).toEqual(['court 1: the site rejected the booking form: the site refused the form (HTTP 400): email is invalid.']);
    expect(submits).toHaveLength(1);
    expect(attempts.map((a) => a.court)).toEqual([1]);
  });

  it('a port whose venue is blocked: nothing submitted, failed site_blocked with the gate\'s words', async () => {
    const clock = createManualClock(FIRE_AT);
    const { executor, submits } = executorFor(clock, () => ({ outcome: 'booked' }));
    const words = 'the site flagged this daemon\'s bookings as irregular usage at 2027-07-21T14:00:00.000Z; no booking is attempted for venue club until 2027-07-21T20:00:00.000Z; ask the club';
    const { port, attempts } = scriptedSession(9, FIRE_AT, { courts: [1, 2], siteBlock: async () => words });
    const execution = await executor.execute(port);
    expect(execution.kind).toBe('settled');
    expect(execution.result).toMatchObject({ status: 'failure', outcome: 'site_blocked' });
    expect(execution.result.errors).toEqual([`court 1: the site blocked the booking: ${words}`]);
    expect(submits).toEqual([]);
    expect(attempts).toEqual([{ court: 1, outcome: 'site_blocked', error: words, intents: 0 }]);
  });
});

describe('executor: one submit in flight per client account', () => {
  it('a second booking of the same venue + e-mail (other case, spaces) submits only after the first answered; another e-mail does not wait', async () => {
    const clock = createManualClock(FIRE_AT);
    let answerFirst!: () => void;
    const firstInFlight = new Promise<void>((resolve) => { answerFirst = resolve; });
    const order: string[] = [];
    const { executor, submits } = executorFor(clock, (s) => {
      order.push(`asked ${s.reservationId}`);
      if (s.reservationId === 7) return { outcome: 'booked', after: () => firstInFlight.then(() => { order.push('answered 7'); }) };
      return { outcome: 'booked', after: async () => { order.push(`sent ${s.reservationId}`); } };
    });
    const first = scriptedSession(7, FIRE_AT, { email: 'ana@example.test' });
    const second = scriptedSession(8, FIRE_AT, { email: '  ANA@Example.TEST ' });
    const other = scriptedSession(10, FIRE_AT, { email: 'bea@example.test' });
    const running1 = executor.execute(first.port);
    await waitFor('the first submit in flight', () => submits.find((s) => s.reservationId === 7)?.sentAtMs != null || undefined, { timeoutMs: 5_000, everyMs: 1 });
    const running2 = executor.execute(second.port);
    const running3 = executor.execute(other.port);
    // The other account books while the first is in flight.
    expect((await running3).result).toMatchObject({ status: 'success', confirmationCode: 'CODE-10' });
    await waitFor('the second submit asked', () => order.includes('asked 8') || undefined, { timeoutMs: 5_000, everyMs: 1 });
    // The second is waiting for the account's lock: no intent recorded, nothing sent.
    expect(second.attempts).toEqual([{ court: 1, intents: 0 }]);
    expect(submits.find((s) => s.reservationId === 8)?.sentAtMs).toBeNull();
    answerFirst();
    expect((await running1).result).toMatchObject({ status: 'success', confirmationCode: 'CODE-7' });
    expect((await running2).result).toMatchObject({ status: 'success', confirmationCode: 'CODE-8' });
    expect(order.filter((e) => !e.endsWith(' 10'))).toEqual(['asked 7', 'asked 8', 'answered 7', 'sent 8']);
    expect(second.attempts).toEqual([{ court: 1, outcome: 'booked', error: null, intents: 1 }]);
  });
  it('a submit that timed out keeps the account locked for 5 s more (its request may still reach the site)', async () => {
    const clock = createManualClock(FIRE_AT);
    const { executor, submits } = executorFor(clock, (s) => (s.reservationId === 7 ? { outcome: 'timeout', message: 'no answer' } : { outcome: 'booked' }));
    const first = scriptedSession(7, FIRE_AT, { email: 'ana@example.test' });
    const second = scriptedSession(8, FIRE_AT, { email: 'ana@example.test' });
    expect((await executor.execute(first.port)).kind).toBe('unknown');
    const running2 = executor.execute(second.port);
    await waitFor('the second submit asked', () => submits.some((s) => s.reservationId === 8) || undefined, { timeoutMs: 5_000, everyMs: 1 });
    clock.set(FIRE_AT + 4_999);
    expect(submits.find((s) => s.reservationId === 8)?.sentAtMs).toBeNull();
    clock.set(FIRE_AT + 5_000);
    expect((await running2).result).toMatchObject({ status: 'success', confirmationCode: 'CODE-8' });
    expect(submits.find((s) => s.reservationId === 8)?.sentAtMs).toBe(FIRE_AT + 5_000);
  });
});

describe('executor: a time absent at the fire (taken or not released yet)', () => {
  it('first pass: court 1 absent → court 2 at once, booked; no not-open retry spent on court 1', async () => {
    const clock = createManualClock(FIRE_AT);
    const { executor, submits } = executorFor(clock, (s) => (s.court === 1 ? { outcome: 'not_open_yet' } : { outcome: 'booked' }));
    const { port, attempts } = scriptedSession(9, FIRE_AT, { courts: [1, 2] });
    const execution = await executor.execute(port);
    expect(execution.result).toMatchObject({ status: 'success', court: 2, confirmationCode: 'CODE-9' });
    expect(submits).toEqual([
      { reservationId: 9, court: 1, sentAtMs: null },
      { reservationId: 9, court: 2, sentAtMs: FIRE_AT },
    ]);
    expect(attempts).toEqual([
      { court: 1, outcome: 'not_open_yet', error: 'not_open_yet', intents: 0 },
      { court: 2, outcome: 'booked', error: null, intents: 1 },
    ]);
    expect(clock.now()).toBe(FIRE_AT);
  });

  it('every court absent in the first pass → a second pass in order, court 1 retried every 250 ms until it opens', async () => {
    const clock = createManualClock(FIRE_AT);
    const opensAtMs = FIRE_AT + 500;
    const { executor, submits } = executorFor(clock, () => (clock.now() < opensAtMs ? { outcome: 'not_open_yet' } : { outcome: 'booked' }));
    const { port, attempts } = scriptedSession(9, FIRE_AT, { courts: [1, 2] });
    const running = executor.execute(port);
    await whenParked(clock, FIRE_AT + 250);
    await whenParked(clock, FIRE_AT + 500);
    const execution = await running;
    expect(execution.result).toMatchObject({ status: 'success', court: 1, confirmationCode: 'CODE-9' });
    expect(submits.map((s) => [s.court, iso(s.sentAtMs)])).toEqual([
      [1, null], [2, null], // first pass: one look each
      [1, null], [1, null], [1, '2027-07-21T15:00:00.500Z'], // second pass: court 1 at +0, +250, +500
    ]);
    expect(attempts.map((a) => `${a.court} ${a.outcome}`)).toEqual(['1 not_open_yet', '2 not_open_yet', '1 booked']);
  });
});
