import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/load.js';
import type { ReleaseRule } from '../src/config/schema.js';
import { findReleaseCronProblem } from '../src/config/release-cron.js';
import { firstCronReleaseFrom, nextCronReleases } from '../src/scheduling/cron-release.js';
import { computeReleaseAt, describeReleaseRule } from '../src/scheduling/release-time.js';

/**
 * The cron release rule against the cases of docs/release-rules.md: C02, C04 and C05 lists with
 * their exact instants, a `{ cron, horizonDays }` release per DST case, the inclusive start of the day,
 * and the config schema's checks. C06 (host zones) runs in child processes in `release-time.test.ts`.
 */

const after = (iso: string): Date => new Date(iso);
const runs = (pattern: string, zone: string, from: string, count: number): string[] =>
  nextCronReleases(pattern, zone, after(from), count).map((d) => d.toISOString());
const release = (rule: ReleaseRule, date: string, time: string, zone: string): string =>
  computeReleaseAt(rule, date, time, zone).toISOString();

describe('nextCronReleases: the cases', () => {
  it('C02 daily 07:00 in Europe/London across both DST changes', () => {
    expect(runs('0 7 * * *', 'Europe/London', '2027-03-26T12:00:00Z', 3)).toEqual([
      '2027-03-27T07:00:00.000Z', '2027-03-28T06:00:00.000Z', '2027-03-29T06:00:00.000Z',
    ]);
    expect(runs('0 7 * * *', 'Europe/London', '2027-10-29T12:00:00Z', 3)).toEqual([
      '2027-10-30T06:00:00.000Z', '2027-10-31T07:00:00.000Z', '2027-11-01T07:00:00.000Z',
    ]);
  });

  it('C04 America/Santiago: midnight inside the gap fires at the first instant of the day; 23:30 twice fires once', () => {
    expect(runs('0 0 * * *', 'America/Santiago', '2027-09-03T12:00:00Z', 3)).toEqual([
      '2027-09-04T04:00:00.000Z', '2027-09-05T04:00:00.000Z', '2027-09-06T03:00:00.000Z',
    ]);
    expect(runs('30 23 * * *', 'America/Santiago', '2027-04-02T12:00:00Z', 3)).toEqual([
      '2027-04-03T02:30:00.000Z', '2027-04-04T02:30:00.000Z', '2027-04-05T03:30:00.000Z',
    ]);
  });

  it('C05 America/New_York: one run at the end of the skipped hour, one run in the repeated hour', () => {
    expect(runs('30 2 * * *', 'America/New_York', '2027-03-12T12:00:00Z', 3)).toEqual([
      '2027-03-13T07:30:00.000Z', '2027-03-14T07:00:00.000Z', '2027-03-15T06:30:00.000Z',
    ]);
    expect(runs('30 1 * * *', 'America/New_York', '2027-11-05T12:00:00Z', 3)).toEqual([
      '2027-11-06T05:30:00.000Z', '2027-11-07T05:30:00.000Z', '2027-11-08T06:30:00.000Z',
    ]);
    // Starting inside the repeated hour, between its two 01:30s: the second 01:30 (06:30Z) never fires.
    expect(runs('30 1 * * *', 'America/New_York', '2027-11-07T05:30:00Z', 1)).toEqual(['2027-11-08T06:30:00.000Z']);
  });

  it('lists of fixed hours follow the same policy (one run per wall-clock time, gap → end of the gap)', () => {
    expect(runs('30 1,2 * * *', 'America/New_York', '2027-11-07T00:00:00Z', 3)).toEqual([
      '2027-11-07T05:30:00.000Z', '2027-11-07T07:30:00.000Z', '2027-11-08T06:30:00.000Z',
    ]);
    expect(runs('30 1,2 * * *', 'America/New_York', '2027-03-14T00:00:00Z', 2)).toEqual(['2027-03-14T06:30:00.000Z', '2027-03-14T07:00:00.000Z']);
  });

  it('is strictly after its start, to the millisecond', () => {
    expect(runs('0 7 * * *', 'Europe/London', '2027-03-27T07:00:00.000Z', 1)).toEqual(['2027-03-28T06:00:00.000Z']);
    expect(runs('0 7 * * *', 'Europe/London', '2027-03-27T06:59:59.999Z', 1)).toEqual(['2027-03-27T07:00:00.000Z']);
    expect(runs('0 7 * * *', 'Europe/London', '2027-03-27T07:00:00.001Z', 1)).toEqual(['2027-03-28T06:00:00.000Z']);
    expect(runs('0 7 * * *', 'UTC', '2027-01-01T00:00:00Z', 0)).toEqual([]);
  });

  it('refuses a pattern croner cannot parse', () => {
    expect(() => nextCronReleases('0 7 * *', 'UTC', after('2027-01-01T00:00:00Z'), 1)).toThrow(RangeError);
    expect(() => nextCronReleases('2027-01-01T07:00:00Z', 'UTC', after('2027-01-01T00:00:00Z'), 1)).toThrow(/looks like a date/);
  });
});

describe('computeReleaseAt with { cron, horizonDays }: first run on or after slot date − horizonDays', () => {
  it('C02 London: on the spring-forward day and the fall-back day', () => {
    const rule = { cron: '0 7 * * *', horizonDays: 2 };
    expect(release(rule, '2027-03-30', '09:00', 'Europe/London')).toBe('2027-03-28T06:00:00.000Z');
    expect(release(rule, '2027-11-02', '09:00', 'Europe/London')).toBe('2027-10-31T07:00:00.000Z');
  });

  it('C04 Santiago: a day without midnight, and a 23:30 that happens twice', () => {
    expect(release({ cron: '0 0 * * *', horizonDays: 3 }, '2027-09-08', '09:00', 'America/Santiago')).toBe('2027-09-05T04:00:00.000Z');
    expect(release({ cron: '30 23 * * *', horizonDays: 1 }, '2027-04-04', '09:00', 'America/Santiago')).toBe('2027-04-04T02:30:00.000Z');
  });

  it('C05 New York: the skipped 02:30 and the repeated 01:30', () => {
    expect(release({ cron: '30 2 * * *', horizonDays: 1 }, '2027-03-15', '07:00', 'America/New_York')).toBe('2027-03-14T07:00:00.000Z');
    expect(release({ cron: '30 1 * * *', horizonDays: 1 }, '2027-11-08', '07:00', 'America/New_York')).toBe('2027-11-07T05:30:00.000Z');
  });

  it('C06 Sydney: the day its DST starts', () => {
    expect(release({ cron: '0 7 * * *', horizonDays: 7 }, '2027-10-09', '08:00', 'Australia/Sydney')).toBe('2027-10-01T21:00:00.000Z');
    expect(release({ cron: '0 7 * * *', horizonDays: 7 }, '2027-10-10', '08:00', 'Australia/Sydney')).toBe('2027-10-02T20:00:00.000Z');
  });

  it('a run at exactly local midnight of slot date − horizonDays counts (inclusive start of the day)', () => {
    expect(release({ cron: '0 0 * * *', horizonDays: 2 }, '2027-07-15', '08:00', 'America/New_York')).toBe('2027-07-13T04:00:00.000Z');
    expect(release({ cron: '0 0 * * *', horizonDays: 0 }, '2027-07-15', '08:00', 'UTC')).toBe('2027-07-15T00:00:00.000Z');
    expect(firstCronReleaseFrom('0 0 * * *', 'America/Santiago', '2027-09-05')?.toISOString()).toBe('2027-09-05T04:00:00.000Z');
  });

  it('horizonDays 0 with a run after the slot time gives a release after the start (the daemon rejects such rows)', () => {
    expect(release({ cron: '0 8 * * *', horizonDays: 0 }, '2027-07-15', '07:00', 'America/New_York')).toBe('2027-07-15T12:00:00.000Z');
  });

  it('weekly schedules: the first matching weekday on or after the horizon date', () => {
    // 2027-07-12 is a Monday; the Monday 07:00 run releases the whole following week.
    const rule = { cron: '0 7 * * MON', horizonDays: 7 };
    expect(release(rule, '2027-07-19', '08:00', 'Europe/London')).toBe('2027-07-12T06:00:00.000Z');
    expect(release(rule, '2027-07-20', '08:00', 'Europe/London')).toBe('2027-07-19T06:00:00.000Z');
  });

  it('names the slot date when the schedule has no run left', () => {
    expect(() => computeReleaseAt({ cron: '0 7 * * *', horizonDays: 0 }, '3001-07-15', '08:00', 'UTC')).toThrow(
      'the release cron "0 7 * * *" (UTC) has no run on or after 3001-07-15',
    );
  });

  it('describes rules as config text', () => {
    expect(describeReleaseRule({ cron: '0 7 * * *', horizonDays: 0 })).toBe('{ "cron": "0 7 * * *", "horizonDays": 0 }');
    expect(describeReleaseRule({ daysBefore: 2, at: '07:00' })).toBe('{ "daysBefore": 2, "at": "07:00" }');
  });
});

describe('the config schema for cron release rules', () => {
  const venue = (releaseRule: unknown) => ({
    name: 'Club',
    timeZone: 'America/New_York',
    releaseRule,
    site: { baseUrl: 'http://127.0.0.1:1', ownerKey: 'c1ab0001' },
    courts: { '1': { appointmentTypeId: 1, calendarId: 5001 } },
  });
  const configError = (releaseRule: unknown): string => {
    try {
      parseConfig({ venues: { club: venue(releaseRule) } });
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    throw new Error('expected a ConfigError');
  };

  it('accepts fixed-time patterns, nicknames, weekdays and seconds', () => {
    for (const cron of ['0 7 * * *', '@daily', '30 6,18 * * *', '0 7 * * MON-FRI', '0 0 7 * * *']) {
      expect(parseConfig({ venues: { club: venue({ cron, horizonDays: 7 }) } }).venues.club?.releaseRule).toEqual({ cron, horizonDays: 7 });
    }
  });

  it.each([
    ['*/30 * * * *', 'is an interval pattern'],
    ['0 * * * *', 'is an interval pattern'],
    ['@hourly', 'is an interval pattern'],
    ['0 */2 * * *', 'is an interval pattern'],
    ['? 7 * * *', 'is an interval pattern'],
    ['0 7 * *', 'is not a valid cron pattern'],
    ['61 7 * * *', 'Invalid value for minute: 61'],
    ['0 0 7 * * * 2027', 'is not a valid cron pattern'],
    ['2027-07-01T07:00', 'looks like a date'],
    ['0 0 30 2 *', 'never matches a real date'],
  ])('refuses %j, naming releaseRule.cron', (cron, says) => {
    const message = configError({ cron, horizonDays: 1 });
    expect(message).toContain('\n  venues.club.releaseRule.cron: ');
    expect(message).toContain(says);
    expect(findReleaseCronProblem(cron)).toContain(says);
  });

  it.each([[-1], [367], [1.5]])('refuses horizonDays %j', (horizonDays) => {
    expect(configError({ cron: '0 7 * * *', horizonDays })).toMatch(/venues\.club\.releaseRule(\.horizonDays)?: /);
  });

  it('refuses a cron rule mixed with another kind, and a cron rule without horizonDays', () => {
    expect(configError({ cron: '0 7 * * *', horizonDays: 2, at: '07:00' })).toContain('"at"');
    expect(configError({ cron: '0 7 * * *' })).toContain('{ "cron": "0 7 * * *", "horizonDays": N }');
  });
});
