import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAcuitySiteLookup, isTimeOffered, lookupAppointmentsByHash, type OfferedArgs } from '../src/booking/flows/acuity-spa-lookup.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { createAcuitySpaSite, type AcuitySpaSite } from '../src/sandbox/acuity-spa/site.js';
import { SPA_OWNER, spaClub } from './helpers/acuity-spa.js';

/**
 * The look-ups a member can do on the Acuity client page (by hash, offered times), against the look-alike,
 * which serves exactly the real page's routes and JSON (docs/acuity-site.md).
 */

const CLUB = spaClub(3);
/** 2027-07-21 09:00 in Guatemala: 2027-07-23 09:00 is released this instant, 10:00 at 16:00Z. */
const T0 = Date.parse('2027-07-21T15:00:00Z');
const DAY = '2027-07-23';
const ZONE = 'America/Guatemala';
const ANA = { firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.test', phone: '+502 5555 1234' };
const [C1, C2] = CLUB.courts as [(typeof CLUB.courts)[0], (typeof CLUB.courts)[0]];
const UNKNOWN_HASH = 'ffffffffffffffffffffffffffffffff';

let clock: ManualClock;
let site: AcuitySpaSite;
let url: string;
let odd: Server;
let oddUrl: string;
let oddBody: unknown;

const signal = (): AbortSignal => new AbortController().signal;
const offeredArgs = (time: string, over: Partial<OfferedArgs> = {}): OfferedArgs => ({
  baseUrl: url, ownerKey: SPA_OWNER, appointmentTypeId: C1.appointmentTypeId, calendarId: C1.calendarId, date: DAY, time, timeZone: ZONE, ...over,
});

beforeAll(async () => {
  clock = createManualClock(T0);
  site = createAcuitySpaSite({ clock, venues: [CLUB], confirmationOrigin: 'http://127.0.0.1:9' });
  url = await site.start(0);
  // A site whose answers have another shape (its body is set per test).
  odd = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(oddBody));
  });
  await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
  oddUrl = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await site?.stop();
  await new Promise((resolve) => odd?.close(resolve));
});
beforeEach(() => {
  clock.set(T0);
  site.reset();
  site.state.setSwitches({ limiter: { enabled: false } });
});

describe('lookupAppointmentsByHash', () => {
  it('finds a booking by its hash with the fields reconciliation reads; an unknown hash is absent', async () => {
    const booked = site.book({ ownerKey: SPA_OWNER, court: 2, date: DAY, time: '09:00' }, ANA)!;
    const found = await lookupAppointmentsByHash({ baseUrl: url, ownerKey: SPA_OWNER, hashes: [booked.hash, UNKNOWN_HASH] }, signal());
    expect(found).toEqual([
      {
        id: booked.id,
        hash: booked.hash,
        date: '2027-07-23',
        time: '09:00',
        appointmentTypeID: 70000102,
        calendarID: 9000202,
        firstName: 'Ana',
        lastName: 'Pérez',
        email: 'ana@example.test',
        canceled: false,
      },
    ]);
    expect(await lookupAppointmentsByHash({ baseUrl: url, ownerKey: SPA_OWNER, hashes: [UNKNOWN_HASH] }, signal())).toEqual([]);
    // GET only: the look-ups are the only XHRs the site saw.
    expect(site.state.xhrs().map((x) => [x.method, x.status])).toEqual([['GET', 200], ['GET', 200]]);
  });

  it.skip('a cancelled appointment comes back with canceled: true (the look-alike has no cancel route yet)', () => {});

  it('no hashes → [] without a request; a malformed hash, an unknown owner or another shape → an Error without client data', async () => {
    expect(await lookupAppointmentsByHash({ baseUrl: url, ownerKey: SPA_OWNER, hashes: [] })).toEqual([]);
    expect(site.state.xhrs()).toEqual([]);
    await expect(lookupAppointmentsByHash({ baseUrl: url, ownerKey: SPA_OWNER, hashes: ['ABC'] })).rejects.toThrow('appointment hash "ABC" is not 32 hex digits');
    await expect(lookupAppointmentsByHash({ baseUrl: url, ownerKey: '00000000', hashes: [UNKNOWN_HASH] })).rejects.toThrow(
      `GET ${url}/api/scheduling/v1/appointments answered HTTP 400 (bad_request)`,
    );
    oddBody = { appointments: [{ id: 1, hash: UNKNOWN_HASH, date: '2027-07-23', time: '09:00', appointmentTypeID: 1, calendarID: 2, firstName: 'Ana', lastName: 'P', email: 'ana@example.test' }] };
    const error = await lookupAppointmentsByHash({ baseUrl: oddUrl, ownerKey: SPA_OWNER, hashes: [UNKNOWN_HASH] }).catch((e: Error) => e);
    expect((error as Error).message).toBe(`GET ${oddUrl}/api/scheduling/v1/appointments answered an unexpected shape: invalid_type at appointments.0.canceled`);
    expect((error as Error).message).not.toContain('ana@');
  });

  it('an aborted signal (the caller\'s timeout) rejects', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(lookupAppointmentsByHash({ baseUrl: url, ownerKey: SPA_OWNER, hashes: [UNKNOWN_HASH] }, stop.signal)).rejects.toThrow(/abort/i);
  });
});

describe('isTimeOffered', () => {
  it('offered (released, free) → true; taken → false; not released yet → false; another court is its own', async () => {
    expect(await isTimeOffered(offeredArgs('09:00'), signal())).toBe(true);
    expect(await isTimeOffered(offeredArgs('10:00'), signal())).toBe(false);
    site.book({ ownerKey: SPA_OWNER, court: 1, date: DAY, time: '09:00' });
    expect(await isTimeOffered(offeredArgs('09:00'), signal())).toBe(false);
    expect(await isTimeOffered(offeredArgs('09:00', { appointmentTypeId: C2.appointmentTypeId, calendarId: C2.calendarId }), signal())).toBe(true);
    clock.set(Date.parse('2027-07-21T16:00:00Z'));
    expect(await isTimeOffered(offeredArgs('10:00'), signal())).toBe(true);
  });

  it('reads both offset spellings (-06:00 and -0600)', async () => {
    site.state.setSwitches({ offsetFormat: 'compact' });
    expect(await isTimeOffered(offeredArgs('09:00'), signal())).toBe(true);
    expect(await isTimeOffered(offeredArgs('08:00'), signal())).toBe(true);
    expect(await isTimeOffered(offeredArgs('10:00'), signal())).toBe(false);
  });

  it('a past date or a wrong calendar → the site\'s 400 as an Error; a time it cannot read or slotsAvailable 0', async () => {
    await expect(isTimeOffered(offeredArgs('09:00', { date: '2027-07-20' }))).rejects.toThrow(`GET ${url}/api/scheduling/v1/availability/times answered HTTP 400 (bad_request)`);
    await expect(isTimeOffered(offeredArgs('09:00', { calendarId: 1 }))).rejects.toThrow('answered HTTP 400 (bad_request)');
    oddBody = { '2027-07-23': [{ time: '2027-07-23T09:00:00-0600', slotsAvailable: 0 }, { time: '2027-07-23T10:00-06:00', slotsAvailable: 1 }] };
    expect(await isTimeOffered(offeredArgs('09:00', { baseUrl: oddUrl }))).toBe(false);
    expect(await isTimeOffered(offeredArgs('10:00', { baseUrl: oddUrl }))).toBe(true);
    oddBody = { '2027-07-23': [{ time: '9am' }] };
    await expect(isTimeOffered(offeredArgs('09:00', { baseUrl: oddUrl }))).rejects.toThrow(`GET ${oddUrl}/api/scheduling/v1/availability/times answered a time it cannot read: "9am"`);
  });
});

describe('createAcuitySiteLookup', () => {
  const lookup = () =>
    createAcuitySiteLookup((id) =>
      id === 'club'
        ? { baseUrl: url, ownerKey: SPA_OWNER, timeZone: ZONE, courts: { 1: { appointmentTypeId: C1.appointmentTypeId, calendarId: C1.calendarId }, 2: { appointmentTypeId: C2.appointmentTypeId, calendarId: C2.calendarId } } }
        : undefined,
    );

  it('names the venue court of each appointment by type AND calendar (null for a court the venue does not have)', async () => {
    const two = site.book({ ownerKey: SPA_OWNER, court: 2, date: DAY, time: '09:00' }, ANA)!;
    const three = site.book({ ownerKey: SPA_OWNER, court: 3, date: DAY, time: '09:00' }, ANA)!;
    const found = await lookup().byHash('club', [two.hash, three.hash], signal());
    expect(found.map((a) => [a.hash, a.court])).toEqual([[two.hash, 2], [three.hash, null]]);
    expect(await lookup().offered('club', 2, DAY, '08:00', signal())).toBe(true);
    expect(await lookup().offered('club', 1, DAY, '10:00', signal())).toBe(false);
  });

  it('an unknown venue or court → an Error naming it', async () => {
    await expect(lookup().byHash('elsewhere', [UNKNOWN_HASH], signal())).rejects.toThrow('venue "elsewhere" has no Acuity site to look up');
    await expect(lookup().offered('club', 3, DAY, '09:00', signal())).rejects.toThrow('venue "club" has no court 3 on its Acuity site');
  });
});
