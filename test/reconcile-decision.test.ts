import { describe, expect, it } from 'vitest';
import type { SiteAppointment } from '../src/booking/session-port.js';
import { decideFromSite, openAttempts, whatToAsk, type ReconcileDecision, type SiteAnswers } from '../src/booking-session/reconcile-decision.js';
import type { AttemptOutcome } from '../src/db/types.js';
import type { AttemptRow } from '../src/reservations/index.js';

/**
 * The pure rules of crash reconciliation, one row per case: what is asked of the site, and what the answers
 * decide. The site is an in-memory answer here; `test/reconcile.test.ts` runs the same rules against the
 * Acuity look-alike and Postgres.
 */

const NOW = new Date('2027-07-21T15:00:00.000Z');
const ROW: { target_date: string; target_time: string; slot_at: Date; first_name: string; last_name?: string; email?: string } = { target_date: '2027-07-22', target_time: '09:00', slot_at: new Date('2027-07-22T15:00:00.000Z'), first_name: 'Ana' };
const STARTED = { ...ROW, target_date: '2027-07-21', target_time: '08:00', slot_at: new Date('2027-07-21T14:00:00.000Z') };
const H1 = '11111111111111111111111111111111';
const H2 = '22222222222222222222222222222222';
const CAUSE = 'its daemon stopped';

function attempt(n: number, court: number, over: { outcome?: AttemptOutcome; code?: string; submitted?: boolean; reconciled?: boolean } = {}): AttemptRow {
  return {
    id: 100 + n,
    reservation_id: 7,
    attempt: n,
    court,
    daemon_id: 'dead',
    browser_id: null,
    flow: 'acuity-spa',
    started_at: NOW,
    submitted_at: over.submitted === false ? null : NOW,
    finished_at: over.outcome ? NOW : null,
    outcome: over.outcome ?? null,
    confirmation_code: over.code ?? null,
    error: null,
    metadata: over.reconciled ? { reconciled_at: NOW.toISOString() } : {},
  } as AttemptRow;
}

function appointment(hash: string, over: Partial<SiteAppointment> = {}): SiteAppointment {
  return { id: 1, hash, date: '2027-07-22', time: '09:00', appointmentTypeID: 70000101, calendarID: 9000201, court: 1, firstName: 'Ana', lastName: 'López', email: 'ana@example.test', canceled: false, ...over };
}

const site = (appointments: SiteAppointment[] = [], offered: Array<[number, boolean]> = []): SiteAnswers => ({ appointments, offered: new Map(offered) });

/** The decision, with the attempt of a `booked` reduced to its number. */
function decide(attempts: AttemptRow[], answers: SiteAnswers, row = ROW): ReconcileDecision | { kind: 'booked'; court: number; confirmationCode: string; attempt: number; from: string } {
  const decision = decideFromSite({ row, attempts, open: openAttempts(attempts), site: answers, cause: CAUSE, now: NOW });
  return decision.kind === 'booked' ? { ...decision, attempt: decision.attempt.attempt } : decision;
}

describe('which attempts are open, and what is asked', () => {
  it.each([
    ['an open attempt with a hash: its hash, no offered check', [attempt(1, 1, { code: H1 })], ROW, { hashes: [H1], courts: [] }],
    ['without a hash: the courts of the open attempts', [attempt(1, 1, { outcome: 'slot_taken' }), attempt(2, 2, { outcome: 'timeout' }), attempt(3, 3)], ROW, { hashes: [], courts: [2, 3] }],
    ['both kinds', [attempt(1, 1, { outcome: 'error' }), attempt(2, 2, { code: H2, outcome: 'unknown' })], ROW, { hashes: [H2], courts: [1] }],
    ['a started slot: hashes only, never the offered times', [attempt(1, 1, { code: H1 }), attempt(2, 2)], STARTED, { hashes: [H1], courts: [] }],
    ['unsubmitted, reconciled, definitive no and confirmed attempts are not open', [attempt(1, 1, { submitted: false }), attempt(2, 1, { reconciled: true }), attempt(3, 2, { outcome: 'not_open_yet' }), attempt(4, 3, { outcome: 'booked', code: H1 })], ROW, { hashes: [], courts: [] }],
  ])('%s', (_name, attempts, row, expected) => {
    expect(whatToAsk(row, openAttempts(attempts), NOW)).toEqual(expected);
  });
});

describe('what the answers decide', () => {
  it.each<[string, AttemptRow[], SiteAnswers, typeof ROW, unknown]>([
    [
      'hash found, not cancelled, same date, time and court → booked from the site, code = hash',
      [attempt(1, 1, { outcome: 'slot_taken' }), attempt(2, 2, { code: H2 })],
      site([appointment(H2, { court: 2, appointmentTypeID: 70000102, calendarID: 9000202 })]),
      ROW,
      { kind: 'booked', court: 2, confirmationCode: H2, attempt: 2, from: 'site' },
    ],
    [
      'hash found on a started slot → booked (the hash proves it)',
      [attempt(1, 1, { code: H1 })],
      site([appointment(H1, { date: '2027-07-21', time: '08:00' })]),
      STARTED,
      { kind: 'booked', court: 1, confirmationCode: H1, attempt: 1, from: 'site' },
    ],
    [
      'hash found but cancelled → needs_attention',
      [attempt(1, 1, { code: H1 })],
      site([appointment(H1, { canceled: true })]),
      ROW,
      { kind: 'needs_attention', reason: `the site shows appointment ${H1} cancelled: check with the club before retrying` },
    ],
    [
      'hash found for the right slot but another client (e-mail) → needs_attention',
      [attempt(1, 1, { code: H1 })],
      site([appointment(H1, { email: 'mallory@x.test' })]),
      { ...ROW, last_name: 'López', email: 'ana@example.test' },
      { kind: 'needs_attention', reason: `the site's appointment ${H1}, answered to attempt 1 on court 1: the site's booking is for another client (email differs): check with the club before retrying` },
    ],
    [
      'hash found for our client, e-mail in another case → booked',
      [attempt(1, 1, { code: H1 })],
      site([appointment(H1, { email: 'ANA@example.test' })]),
      { ...ROW, last_name: 'López', email: 'ana@example.test' },
      { kind: 'booked', court: 1, confirmationCode: H1, attempt: 1, from: 'site' },
    ],
    [
      'hash found for another court → needs_attention',
      [attempt(1, 1, { code: H1 })],
      site([appointment(H1, { court: 2 })]),
      ROW,
      { kind: 'needs_attention', reason: `the site's appointment ${H1}, answered to attempt 1 on court 1, is for 2027-07-22 at 09:00 on court 2, not 2027-07-22 at 09:00 on court 1: check with the club before retrying` },
    ],
    [
      'hash found for a court the venue does not have → needs_attention',
      [attempt(1, 1, { code: H1 })],
      site([appointment(H1, { court: null })]),
      ROW,
      { kind: 'needs_attention', reason: `the site's appointment ${H1}, answered to attempt 1 on court 1, is for 2027-07-22 at 09:00 on a court this venue does not have, not 2027-07-22 at 09:00 on court 1: check with the club before retrying` },
    ],
    [
      'hash found for another time → needs_attention',
      [attempt(1, 1, { code: H1 })],
      site([appointment(H1, { time: '10:00' })]),
      ROW,
      { kind: 'needs_attention', reason: `the site's appointment ${H1}, answered to attempt 1 on court 1, is for 2027-07-22 at 10:00 on court 1, not 2027-07-22 at 09:00 on court 1: check with the club before retrying` },
    ],
    [
      'hash not found → needs_attention (the site does not know the hash it gave)',
      [attempt(1, 1, { code: H1 })],
      site([]),
      ROW,
      { kind: 'needs_attention', reason: `the site answered attempt 1 on court 1 with appointment ${H1}, but does not know that appointment now (outcome unknown: ${CAUSE}): check with the club for a booking on 2027-07-22 at 09:00 before retrying` },
    ],
    [
      'two hashes, both ours → needs_attention (a double booking)',
      [attempt(1, 1, { code: H1, outcome: 'site_changed' }), attempt(2, 2, { code: H2 })],
      site([appointment(H1), appointment(H2, { court: 2 })]),
      ROW,
      { kind: 'needs_attention', reason: `the site holds 2 appointments of this reservation on 2027-07-22 at 09:00 (court 1: ${H1}; court 2: ${H2}): cancel all but one with the club` },
    ],
    [
      'no hash, offered on every court submitted to → requeue (not on the site)',
      [attempt(1, 1, { outcome: 'timeout' }), attempt(2, 2)],
      site([], [[1, true], [2, true]]),
      ROW,
      { kind: 'requeue', why: 'not_on_site' },
    ],
    [
      'no hash, no longer offered on one court → needs_attention naming it and the first name',
      [attempt(1, 1, { outcome: 'timeout' }), attempt(2, 2)],
      site([], [[1, true], [2, false]]),
      ROW,
      {
        kind: 'needs_attention',
        reason: `attempts 1 (court 1), 2 (court 2) was submitted and its outcome is unknown (${CAUSE}) with no appointment hash from the site; the slot 2027-07-22 at 09:00 is no longer offered on court 2: the booking may be this reservation's or someone else's; check the e-mail of Ana / the club's page`,
      },
    ],
    [
      'no hash, the slot has started → needs_attention (absence proves nothing)',
      [attempt(1, 2)],
      site(),
      STARTED,
      {
        kind: 'needs_attention',
        reason: `attempt 1 on court 2 was submitted and its outcome is unknown (${CAUSE}) with no appointment hash from the site; the slot 2027-07-21 at 08:00 has started, so the site's offered times prove nothing: check the e-mail of Ana / the club's page for a booking`,
      },
    ],
    [
      'a hash that is ours, and an attempt without one whose court is no longer offered → needs_attention',
      [attempt(1, 1, { outcome: 'error' }), attempt(2, 2, { code: H2 })],
      site([appointment(H2, { court: 2 })], [[1, false]]),
      ROW,
      {
        kind: 'needs_attention',
        reason: `attempt 1 on court 1 was submitted and its outcome is unknown (${CAUSE}) with no appointment hash from the site; the slot 2027-07-22 at 09:00 is no longer offered on court 1: the booking may be this reservation's or someone else's; check the e-mail of Ana / the club's page`,
      },
    ],
    [
      'an attempt read a code, a later one is open and the slot still offered → needs_attention',
      [attempt(1, 1, { outcome: 'booked', code: H1 }), attempt(2, 2)],
      site([], [[2, true]]),
      ROW,
      { kind: 'needs_attention', reason: `attempt 1 read confirmation code ${H1} for court 1, but attempt 2 on court 2 was submitted after it with an unknown outcome and the slot is still offered: check the site` },
    ],
  ])('%s', (_name, attempts, answers, row, expected) => {
    expect(decide(attempts, answers, row)).toEqual(expected);
  });

  it('no reason ever names the e-mail address', () => {
    const reasons = [
      decide([attempt(1, 1, { code: H1 })], site([appointment(H1, { canceled: true })])),
      decide([attempt(1, 1)], site([], [[1, false]])),
      decide([attempt(1, 1, { code: H1 })], site([appointment(H1, { court: 3 })])),
    ].map((d) => ('reason' in d ? d.reason : ''));
    for (const reason of reasons) expect(reason).not.toContain('ana@example.test');
  });
});
