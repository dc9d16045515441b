import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createExecutor } from '../src/booking/executor.js';
import { createBookingSessions } from '../src/booking-session/index.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import type { VenueConfig } from '../src/config/schema.js';
import { buildImmediateRequest } from '../src/contracts/index.js';
import { getReservation, listAttempts } from '../src/reservations/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { fakePool, scriptedFlow, type ScriptedAnswer } from './helpers/scripted-flow.js';

/**
 * The site_blocked cool-off against the real Postgres: the site's "irregular usage" answer records a block of
 * the venue (`site_blocks`); within the cool-off a booking of that venue, by this daemon or another, submits
 * nothing and ends failed with the block's words, while another venue books; after it the venue books again.
 * The booking sessions and executor are real; only the flow is scripted (its answer by slot time).
 */

const T0 = Date.parse('2027-07-21T15:00:00.000Z');
const COOL_OFF_MS = 21_600_000;
const ALERT = 'Se detectó un uso irregular del sitio. Comunícate con el negocio para hacer una reserva.';
const EMAIL = 'ana.secret@example.test';
const venues = { club: { name: 'Club' } as unknown as VenueConfig, other: { name: 'Other' } as unknown as VenueConfig };

let database: TestDatabase;
let clock: ManualClock;
const lines: Array<Record<string, unknown>> = [];
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
});

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  lines.length = 0;
});

/** Sessions of daemon `daemonId` whose flow answers 07:00 with the irregular-usage 422 and books the rest. */
function daemon(daemonId: string) {
  const answer = (s: { court: number }, _n: number, time: string): ScriptedAnswer =>
    time === '07:00'
      ? { outcome: 'site_blocked', message: ALERT }
      : time === '11:00'
        ? { outcome: 'form_rejected', message: `the site refused the form (HTTP 400): ${EMAIL.toUpperCase()} / +502 5555 1234 already has a booking` }
        : { outcome: 'booked', confirmationCode: `CODE-${time}-${s.court}` };
  let time = '';
  const scripted = scriptedFlow(clock, (s, n) => answer(s, n, time));
  const executor = createExecutor({ clock, logger, pool: fakePool(), flow: scripted.flow, executorId: daemonId, attemptTimeoutMs: 5_000, notOpenRetryBudgetMs: 0, notOpenRetryIntervalMs: 250 });
  const sessions = createBookingSessions({ db: database.db, clock, logger, daemonId, venues, leaseMs: 30_000, executor, siteBlockedCoolOffMs: COOL_OFF_MS });
  /** Books `venue` at `targetTime` now (as `book-now` does); resolves the session's end. */
  async function bookNow(venue: 'club' | 'other', targetTime: string) {
    time = targetTime;
    const request = buildImmediateRequest({ user: { firstName: 'Ana', lastName: 'López', email: EMAIL, phone: '+502 5555 1234' }, venue, targetDate: '2027-07-23', targetTime, courts: [1, 2] }, new Set(['club', 'other']));
    const now = new Date(clock.now());
    // Each time its own slot instant: one person never holds two bookings of one slot (reservations_one_booking_per_user_slot).
    const session = await sessions.holdImmediate({ request, releaseAt: now, slotAt: new Date(`2027-07-23T${targetTime}:00.000Z`) });
    const end = await session.run({ fireAt: now, siteClockOffsetMs: null, signal: new AbortController().signal });
    return { id: session.id, end };
  }
  return { bookNow, submits: scripted.submits };
}

const blocks = () => database.db.selectFrom('site_blocks').selectAll().execute();

describe('site_blocked cool-off per venue', () => {
  it('records the block, refuses the venue for the cool-off (any daemon), lets another venue book, and lets the venue book after it', async () => {
    clock = createManualClock(T0);
    const a = daemon('daemon-a');
    const flagged = await a.bookNow('club', '07:00');
    // After a submit the flag is not the site's "no" (the flagged POST may be the browser's re-send of one that
    // booked): the outcome is unknown and reconciliation looks; the venue cools off all the same.
    const flaggedWords = `court 1: submitted, but the site's answer is unknown (the site blocked the booking: ${ALERT})`;
    expect(flagged.end.result).toMatchObject({ status: 'failure', outcome: 'unknown', errors: [flaggedWords] });
    expect(a.submits.map((s) => s.court)).toEqual([1]); // no second court after the block
    const blocked = await blocks();
    expect(blocked).toEqual([
      { venue: 'club', blocked_at: new Date('2027-07-21T15:00:00.000Z'), blocked_until: new Date('2027-07-21T21:00:00.000Z'), reason: flaggedWords },
    ]);
    const alerts = lines.filter((l) => l.alert === 'site_blocked');
    expect(alerts.map((l) => ({ level: l.level, venue: l.venue, until: l.until }))).toEqual([{ level: 'error', venue: 'club', until: '2027-07-21T21:00:00.000Z' }]);

    // An hour later, another daemon on the same database: nothing submitted for the club.
    clock.set(T0 + 3_600_000);
    const b = daemon('daemon-b');
    const refused = await b.bookNow('club', '08:00');
    const words = "the site flagged this daemon's bookings as irregular usage at 2027-07-21T15:00:00.000Z; no booking is attempted for venue club until 2027-07-21T21:00:00.000Z; ask the club";
    expect(refused.end).toMatchObject({ recorded: true, result: { status: 'failure', outcome: 'site_blocked', errors: [`court 1: the site blocked the booking: ${words}`] } });
    expect(b.submits).toEqual([]);
    const row = await getReservation(database.db, refused.id);
    expect({ status: row?.status, reason: row?.reason }).toEqual({ status: 'failed', reason: `court 1: the site blocked the booking: ${words}` });
    expect((await listAttempts(database.db, refused.id)).map((x) => ({ court: x.court, outcome: x.outcome, submitted: x.submitted_at !== null, error: x.error }))).toEqual([
      { court: 1, outcome: 'site_blocked', submitted: false, error: words },
    ]);
    // Our own refusal does not extend the block, nor log a second alert.
    expect(await blocks()).toEqual(blocked);
    expect(lines.filter((l) => l.alert === 'site_blocked')).toHaveLength(1);

    // Another venue books meanwhile.
    const other = await b.bookNow('other', '09:00');
    expect(other.end.result).toMatchObject({ status: 'success', court: 1, confirmationCode: 'CODE-09:00-1' });

    // At the end of the cool-off the club books again.
    clock.set(T0 + COOL_OFF_MS);
    const after = await b.bookNow('club', '10:00');
    expect(after.end.result).toMatchObject({ status: 'success', court: 1, confirmationCode: 'CODE-10:00-1' });

    // The client's e-mail is in no log line.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => JSON.stringify(l).includes(EMAIL))).toEqual([]);
  }, 30_000);
});

describe('a site refusal that quotes the form back', () => {
  it('leaves the e-mail and phone out of the attempts, the stored result and the logs', async () => {
    clock = createManualClock(T0);
    const { id, end } = await daemon('daemon-a').bookNow('other', '11:00');
    expect(end.result).toMatchObject({ status: 'failure', outcome: 'form_rejected' });
    const attempts = await listAttempts(database.db, id);
    expect(attempts.map((a) => [a.court, a.outcome, a.error])).toEqual([
      [1, 'form_rejected', 'the site refused the form (HTTP 400): [e-mail] / [phone] already has a booking'],
    ]);
    const row = await getReservation(database.db, id);
    expect(row?.status).toBe('failed');
    for (const text of [JSON.stringify(row?.result), JSON.stringify(attempts), ...lines.map((l) => JSON.stringify(l))]) {
      expect(text.toLowerCase()).not.toContain(EMAIL);
      expect(text).not.toContain('5555 1234');
    }
  }, 30_000);
});
