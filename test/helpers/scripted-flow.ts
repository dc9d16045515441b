import type { APIRequestContext, Page } from 'playwright-core';
import type { ManualClock } from '../../src/clock.js';
import type { VenueConfig } from '../../src/config/schema.js';
import { buildImmediateRequest } from '../../src/contracts/index.js';
import type { BrowserPool, FlowResult, SlotFlow, SlotTarget } from '../../src/booking/flow.js';
import type { BookingSessionPort } from '../../src/booking/session-port.js';

/**
 * Fakes for executor tests that script the site's answer per submit (no browser, no database): a pool of
 * fake pages, a flow whose `answer` callback says what each submit gets (it awaits the intent first, as the
 * real flows do, unless the answer is `not_open_yet`), and session ports that record their attempts.
 */

/** The venue a scripted session books (the executor only hands it to the flow, which ignores it). */
const VENUE = { name: 'Club' } as unknown as VenueConfig;

/** One submit the scripted flow saw. */
export interface ScriptedSubmit {
  reservationId: number;
  court: number;
  /** Clock when the intent was granted (the submit left), or null when it was refused / not asked. */
  sentAtMs: number | null;
}

/**
 * What a submit answers: a flow result without the bookkeeping fields; `after` (if any) runs between the
 * intent and the answer (the submit in flight), and is awaited.
 */
export type ScriptedAnswer = Pick<FlowResult, 'outcome'> & Partial<Pick<FlowResult, 'message' | 'retryAfterMs' | 'confirmationCode'>> & { after?: () => Promise<void> };

/** A pool whose pages are plain objects. */
export function fakePool(): BrowserPool {
  return {
    acquire: async () => ({
      request: {} as APIRequestContext,
      page: async () => ({}) as Page,
      isClosed: () => false,
      browserId: 'fake-1',
      release: async () => {},
    }),
    close: async () => {},
  };
}

/**
 * A flow whose submits answer `answer(submit, n)` (n: 1-based count of submits of that reservation). A
 * `not_open_yet` answer sends nothing and asks no intent; any other awaits `onBeforeSubmit` first.
 */
export function scriptedFlow(clock: ManualClock, answer: (submit: ScriptedSubmit, n: number) => ScriptedAnswer) {
  const submits: ScriptedSubmit[] = [];
  const flow: SlotFlow<SlotTarget & { reservationId: number }> = {
    name: 'scripted',
    prepare: async (_lease, target) => ({ ...target, reservationId: Number(target.targetTime.slice(0, 2)) }),
    async submit(target, args) {
      const submit: ScriptedSubmit = { reservationId: target.reservationId, court: target.court, sentAtMs: null };
      submits.push(submit);
      const { after, ...said } = answer(submit, submits.filter((s) => s.reservationId === target.reservationId).length);
      const none = { confirmationCode: null, message: null, timingsMs: {} };
      if (said.outcome === 'not_open_yet') return { ...none, ...said, submitted: false };
      if (!(await args.onBeforeSubmit())) return { ...none, outcome: 'interrupted', message: 'not submitted: refused', submitted: false };
      submit.sentAtMs = clock.now();
      await after?.();
      return { ...none, confirmationCode: said.outcome === 'booked' ? `CODE-${target.reservationId}` : null, ...said, submitted: true };
    },
  };
  return { flow: flow as SlotFlow, submits };
}

/** A recorded attempt of a {@link scriptedSession}. */
export interface ScriptedAttempt {
  court: number;
  outcome?: string;
  error?: string | null;
  intents: number;
}

/**
 * A session port for reservation `id` (its slot time is `HH:00` with HH = id, so the flow can tell sessions
 * apart) firing at `fireAtMs`; `siteBlock` is the port's gate (absent: none).
 */
export function scriptedSession(id: number, fireAtMs: number, extra: { email?: string; venue?: string; courts?: number[]; siteBlock?: () => Promise<string | null> } = {}) {
  const attempts: ScriptedAttempt[] = [];
  const request = buildImmediateRequest(
    {
      user: { firstName: 'Ana', lastName: 'López', email: extra.email ?? 'ana@example.test', phone: '+502 5555 1234' },
      venue: extra.venue ?? 'club',
      targetDate: '2027-07-23',
      targetTime: `${String(id).padStart(2, '0')}:00`,
      courts: extra.courts ?? [1],
    },
    new Set([extra.venue ?? 'club']),
  );
  const port: BookingSessionPort = {
    reservationId: id,
    request,
    venue: VENUE,
    fireAt: new Date(fireAtMs),
    releaseAt: new Date(fireAtMs),
    siteClockOffsetMs: null,
    signal: new AbortController().signal,
    stopWaiting: new AbortController().signal,
    beginFire: async () => true,
    ...(extra.siteBlock ? { siteBlock: extra.siteBlock } : {}),
    stillHeld: async () => true,
    async startAttempt({ court }) {
      const attempt: ScriptedAttempt = { court, intents: 0 };
      attempts.push(attempt);
      return {
        attempt: attempts.length,
        recordIntent: async () => {
          attempt.intents += 1;
          return attempt.outcome === undefined;
        },
        recordAnswer: async () => undefined,
        finish: async ({ outcome, error }) => {
          attempt.outcome = outcome;
          attempt.error = error;
        },
      };
    },
  };
  return { port, attempts };
}
