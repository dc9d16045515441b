import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type BrowserLease, type ChromiumPool } from '../src/booking/browser.js';
import { createAcuitySpaFlow, type AcuitySpaTarget } from '../src/booking/flows/acuity-spa.js';
import { createManualClock, systemClock, type ManualClock } from '../src/clock.js';
import { finishAttempt, insertReservation, insertUser, recordSiteAnswer, startAttempt } from '../src/reservations/index.js';
import { createAcuitySpaSite, type AcuitySpaSite } from '../src/sandbox/acuity-spa/site.js';
import { SPA_OWNER, spaClub } from './helpers/acuity-spa.js';
import { createTestDatabase, setAttemptSubmitted, type TestDatabase } from './helpers/database.js';

/**
 * The site's hash is stored the moment its answer arrives: the SPA flow hands it to `onAnswer` before it
 * checks the confirmation route and before `submit` resolves, and `recordSiteAnswer` writes it on the still
 * open attempt in Postgres. A crash after that leaves "the site answered with this hash" to look up.
 */

const CLUB = spaClub(2);
/** 2027-07-21 09:00 in Guatemala: 2027-07-23 09:00 is released this instant. */
const T0 = Date.parse('2027-07-21T15:00:00Z');
const C1 = CLUB.courts[0]!;
const USER = { firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.test', phone: '+502 5555 1234' };
const logger = { info: () => undefined, warn: () => undefined };

let clock: ManualClock;
let site: AcuitySpaSite;
let url: string;
let pool: ChromiumPool;
let lease: BrowserLease;
let database: TestDatabase;

const target = (time: string): AcuitySpaTarget => ({
  baseUrl: url, ownerKey: SPA_OWNER, court: 1, appointmentTypeId: C1.appointmentTypeId, calendarId: C1.calendarId, date: '2027-07-23', time, utcOffset: '-06:00',
});
const flow = createAcuitySpaFlow({ clock: systemClock });

/** An attempt with its intent written, as the executor has it when it clicks. */
async function openAttempt(): Promise<number> {
  const userId = await insertUser(database.db, USER);
  const reservationId = await insertReservation(database.db, {
    userId, venue: 'club', targetDate: '2027-07-23', targetTime: '09:00', courts: [1], status: 'booking',
    releaseAt: new Date(T0), slotAt: new Date('2027-07-23T15:00:00Z'), leaseOwner: 'daemon-1', leaseExpiresAt: new Date(T0 + 30_000), now: new Date(T0),
  });
  const { id } = await startAttempt(database.db, { reservationId, court: 1, daemonId: 'daemon-1', browserId: 'chromium-1', flow: 'acuity-spa', now: new Date(T0) });
  await setAttemptSubmitted(database.db, id, new Date(T0));
  return id;
}

/** What the attempt's row says now. */
const attemptRow = async (id: number) => {
  const row = await database.db.selectFrom('booking_attempts').select(['outcome', 'confirmation_code', 'finished_at']).where('id', '=', String(id)).executeTakeFirstOrThrow();
  return { outcome: row.outcome, code: row.confirmation_code, finished: row.finished_at !== null };
};

beforeAll(async () => {
  database = await createTestDatabase();
  clock = createManualClock(T0);
  site = createAcuitySpaSite({ clock, venues: [CLUB], confirmationOrigin: 'http://127.0.0.1:9' });
  url = await site.start(0);
  pool = createBrowserPool({ executablePath: findChromium(null), headless: true, logger });
}, 60_000);
afterAll(async () => {
  await pool?.close();
  await site?.stop();
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  clock.set(T0);
  site.reset();
  site.state.setSwitches({ limiter: { enabled: false } });
  lease = await pool.acquire();
  return async () => {
    await lease.release();
  };
});

describe('onAnswer: the hash is stored while the outcome is still open', () => {
  it('the hash is on the open attempt in Postgres before submit resolves; then the outcome is booked with it', async () => {
    const attemptId = await openAttempt();
    const handle = await flow.prepare(lease, target('09:00'));
    let resolved = false;
    const seen: Array<{ hash: string; resolved: boolean; onPage: string; row: Awaited<ReturnType<typeof attemptRow>> }> = [];
    const submitting = flow.submit(handle, {
      user: USER,
      timeoutMs: 10_000,
      onBeforeSubmit: async () => true,
      onAnswer: async (hash) => {
        expect(await recordSiteAnswer(database.db, { attemptId, hash })).toBe(true);
        // A crash here leaves exactly this row: intent, no outcome, the site's hash.
        seen.push({ hash, resolved, onPage: site.state.bookings()[0]!.hash, row: await attemptRow(attemptId) });
      },
    });
    const result = await submitting.finally(() => (resolved = true));
    expect(result).toMatchObject({ outcome: 'booked', submitted: true });
    const hash = site.state.bookings()[0]!.hash;
    expect(result.confirmationCode).toBe(hash);
    expect(seen).toEqual([{ hash, resolved: false, onPage: hash, row: { outcome: null, code: hash, finished: false } }]);
    // Finishing the attempt afterwards keeps the code; a finished attempt takes no further answer.
    await finishAttempt(database.db, { attemptId, outcome: 'booked', confirmationCode: hash, error: null, metadata: {}, now: new Date(T0 + 1_000) });
    expect(await recordSiteAnswer(database.db, { attemptId, hash: 'ffffffffffffffffffffffffffffffff' })).toBe(false);
    expect(await attemptRow(attemptId)).toEqual({ outcome: 'booked', code: hash, finished: true });
  }, 40_000);

  it('an onAnswer that throws does not change the outcome', async () => {
    const handle = await flow.prepare(lease, target('09:00'));
    const result = await flow.submit(handle, {
      user: USER,
      timeoutMs: 10_000,
      onBeforeSubmit: async () => true,
      onAnswer: () => {
        throw new Error('the database is down');
      },
    });
    expect(result).toMatchObject({ outcome: 'booked', submitted: true, confirmationCode: site.state.bookings()[0]!.hash });
  }, 40_000);

  it('an answer lost after the commit carries no hash: onAnswer is never called, nothing reads as booked', async () => {
    site.state.setSwitches({ loseAnswerAfterCommit: 'once' });
    const handle = await flow.prepare(lease, target('09:00'));
    const hashes: string[] = [];
    const result = await flow.submit(handle, { user: USER, timeoutMs: 10_000, onBeforeSubmit: async () => true, onAnswer: (hash) => void hashes.push(hash) });
    // Chromium sends the POST again on its own when a REUSED connection dies without an answer (the usual
    // case here); the retry's captcha token is spent, so the site flags it (422) and the flow reports
    // `site_blocked` after a submit, which the executor treats as an unknown outcome (`nextStep`). On a
    // fresh connection there is no retry and the outcome is `unknown`. Never a booking either way.
    const posts = site.state.xhrs().map((x) => [x.method, x.status]);
    const retried = posts.length === 2;
    expect(posts).toEqual(retried ? [['POST', 'lost'], ['POST', 422]] : [['POST', 'lost']]);
    expect(result).toMatchObject({ outcome: retried ? 'site_blocked' : 'unknown', submitted: true, confirmationCode: null });
    expect(hashes).toEqual([]);
    // The site holds the booking all the same: reconciliation sees the slot no longer offered.
    expect(site.state.bookings().map((b) => [b.slot.date, b.slot.time, b.source])).toEqual([['2027-07-23', '09:00', 'client']]);
  }, 40_000);
});
