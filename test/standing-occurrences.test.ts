import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { ContractError } from '../src/contracts/index.js';
import { dueOccurrences, listOccurrences } from '../src/standing/occurrences.js';
import { validateStanding } from '../src/standing/validate-standing.js';

const site = { baseUrl: 'http://127.0.0.1:9', ownerKey: 'a3f09c1e' };
const courts = { '1': { appointmentTypeId: 1, calendarId: 11 }, '2': { appointmentTypeId: 2, calendarId: 12 }, '3': { appointmentTypeId: 3, calendarId: 13 } };
const config = parseConfig({
  venues: {
    // A night-and-day 30-min grid, so 02:30 (inside Madrid's spring-forward gap) is a slot start.
    madrid: { name: 'Madrid', timeZone: 'Europe/Madrid', releaseRule: { hoursBefore: 48 }, site, courts, slotLengthS: 1800, firstSlotTime: '00:00', lastSlotTime: '23:30' },
    ny: { name: 'New York', timeZone: 'America/New_York', releaseRule: { hoursBefore: 48 }, site, courts },
  },
});
const madrid = config.venues.madrid!;
const ny = config.venues.ny!;

function fieldOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return `${(err as ContractError).field} | ${(err as Error).message}`;
  }
  throw new Error('did not throw');
}

describe('listOccurrences across DST', () => {
  it('Europe/Madrid spring forward (2027-03-28): a daily 02:30 is skipped on the night the clocks skip it, never moved to 03:00', () => {
    const got = listOccurrences({ cron: '30 2 * * *', venue: madrid, after: new Date('2027-03-25T00:00:00Z'), limit: 6 });
    expect(got.map((o) => [o.occurrence, o.slotAt.toISOString()])).toEqual([
      ['2027-03-25T02:30', '2027-03-25T01:30:00.000Z'],
      ['2027-03-26T02:30', '2027-03-26T01:30:00.000Z'],
      ['2027-03-27T02:30', '2027-03-27T01:30:00.000Z'],
      ['2027-03-29T02:30', '2027-03-29T00:30:00.000Z'],
      ['2027-03-30T02:30', '2027-03-30T00:30:00.000Z'],
      ['2027-03-31T02:30', '2027-03-31T00:30:00.000Z'],
    ]);
  });

  it('Europe/Madrid fall back (2027-10-31): a daily 02:30 that happens twice occurs once, at the earlier instant', () => {
    const got = listOccurrences({ cron: '30 2 * * *', venue: madrid, after: new Date('2027-10-29T12:00:00Z'), limit: 3 });
    expect(got.map((o) => [o.occurrence, o.slotAt.toISOString(), o.releaseAt.toISOString()])).toEqual([
      ['2027-10-30T02:30', '2027-10-30T00:30:00.000Z', '2027-10-28T00:30:00.000Z'],
      ['2027-10-31T02:30', '2027-10-31T00:30:00.000Z', '2027-10-29T00:30:00.000Z'],
      ['2027-11-01T02:30', '2027-11-01T01:30:00.000Z', '2027-10-30T01:30:00.000Z'],
    ]);
  });

  it('America/New_York: every Tuesday 19:00 stays 19:00 local across the 2027-03-14 change (the UTC instant moves an hour)', () => {
    const got = listOccurrences({ cron: '0 19 * * 2', venue: ny, after: new Date('2027-03-01T00:00:00Z'), limit: 3 });
    expect(got.map((o) => [o.occurrence, o.slotAt.toISOString()])).toEqual([
      ['2027-03-02T19:00', '2027-03-03T00:00:00.000Z'],
      ['2027-03-09T19:00', '2027-03-10T00:00:00.000Z'],
      ['2027-03-16T19:00', '2027-03-16T23:00:00.000Z'],
    ]);
  });

  it('untilDate ends the occurrences (inclusive)', () => {
    const got = listOccurrences({ cron: '0 19 * * 2', venue: ny, after: new Date('2027-03-01T00:00:00Z'), untilDate: '2027-03-09', limit: 10 });
    expect(got.map((o) => o.occurrence)).toEqual(['2027-03-02T19:00', '2027-03-09T19:00']);
  });
});

describe('dueOccurrences', () => {
  it('takes the occurrences whose release is after now and at most lookaheadMs ahead (bound inclusive)', () => {
    // Releases (48 h before): 2027-03-01T00:00Z (= now: passed), 03-08T00:00Z (= now + 7 d: in), 03-14T23:00Z (out).
    const due = dueOccurrences({ cron: '0 19 * * 2', venue: ny, now: new Date('2027-03-01T00:00:00Z'), lookaheadMs: 7 * 86_400_000, createdAt: new Date('2027-01-01T00:00:00Z'), untilDate: null });
    expect(due.map((o) => [o.occurrence, o.releaseAt.toISOString()])).toEqual([['2027-03-09T19:00', '2027-03-08T00:00:00.000Z']]);
  });

  it('never goes back before the standing row was created', () => {
    const due = dueOccurrences({ cron: '0 19 * * 2', venue: ny, now: new Date('2027-03-01T00:00:00Z'), lookaheadMs: 14 * 86_400_000, createdAt: new Date('2027-03-10T12:00:00Z'), untilDate: null });
    expect(due.map((o) => o.occurrence)).toEqual(['2027-03-16T19:00']);
  });
});

describe('validateStanding', () => {
  const now = new Date('2027-03-01T00:00:00Z');
  const ok = { venue: 'ny', courts: [3, 1], cron: '0 19 * * 2' };

  it('accepts a weekly slot on the grid', () => {
    expect(() => validateStanding(config, ok, now)).not.toThrow();
    expect(() => validateStanding(config, { ...ok, cron: '0 7,21 * * 1-5', untilDate: '2027-03-01' }, now)).not.toThrow();
  });

  it('refuses each bad field, naming it', () => {
    expect(fieldOf(() => validateStanding(config, { ...ok, venue: 'paris' }, now))).toBe('venue | venue: "paris" is not a venue of the configuration (its venues: madrid, ny)');
    expect(fieldOf(() => validateStanding(config, { ...ok, courts: [3, 4] }, now))).toBe('courts | courts: court 4 is not a court of venue "ny" (its courts: 1, 2, 3)');
    expect(fieldOf(() => validateStanding(config, { ...ok, courts: [1, 1] }, now))).toBe('courts | courts: court 1 is listed twice');
    expect(fieldOf(() => validateStanding(config, { ...ok, courts: [] }, now))).toBe('courts | courts: the court list is empty; give at least one court, e.g. "3,1"');
    expect(fieldOf(() => validateStanding(config, { ...ok, cron: '30 19 * * 2' }, now))).toBe('cron | cron: "30 19 * * 2" asks for 19:30, which is not a slot start at venue "ny" (slots start every 60 min from 07:00 to 21:00)');
    expect(fieldOf(() => validateStanding(config, { ...ok, cron: '0 22 * * 2' }, now))).toBe('cron | cron: "0 22 * * 2" asks for 22:00, which is not a slot start at venue "ny" (slots start every 60 min from 07:00 to 21:00)');
    expect(fieldOf(() => validateStanding(config, { ...ok, cron: '0 */2 * * 2' }, now))).toMatch(/^cron \| cron: "0 \*\/2 \* \* 2" is an interval pattern/);
    expect(fieldOf(() => validateStanding(config, { ...ok, cron: '30 0 19 * * 2' }, now))).toBe('cron | cron: "30 0 19 * * 2" fires at a second other than 0; slots start on whole minutes');
    expect(fieldOf(() => validateStanding(config, { ...ok, cron: 'Tuesday 19:00' }, now))).toMatch(/^cron \| cron: "Tuesday 19:00" looks like a date or time/);
    expect(fieldOf(() => validateStanding(config, { ...ok, cron: '0 19 30 2 *' }, now))).toBe('cron | cron: "0 19 30 2 *" never matches a real date');
    expect(fieldOf(() => validateStanding(config, { ...ok, untilDate: '2027-02-30' }, now))).toBe('until_date | until_date: "2027-02-30" is not a real calendar date');
    expect(fieldOf(() => validateStanding(config, { ...ok, untilDate: '2027-02-27' }, now))).toBe('until_date | until_date: 2027-02-27 is before today (2027-02-28 at venue "ny")');
  });
});
