import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  addDays,
  computeReleaseAt,
  localDateTime,
  SlotTimeError,
  slotDatetimeSegment,
  slotStartAt,
  wallClockReleaseAt,
} from '../src/scheduling/release-time.js';

const run = promisify(execFile);

/** Runs the probe under a process time zone (a child per zone, so `TZ` is read before any Date exists). */
async function probeUnder(tz: string): Promise<Record<string, string | number>> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/release-time-probe.ts'], {
    env: { ...process.env, TZ: tz },
  });
  return JSON.parse(stdout) as Record<string, string | number>;
}

describe('release-time cases (docs/release-rules.md)', () => {
  it.each(['UTC', 'Asia/Tokyo', 'America/Los_Angeles'])('C01 host zone must not leak (TZ=%s)', async (tz) => {
    const answers = await probeUnder(tz);
    expect(answers.C01).toBe('2027-07-13T12:00:00.000Z');
  });

  it('C01 probes really ran under different host zones', async () => {
    const [tokyo, la] = await Promise.all([probeUnder('Asia/Tokyo'), probeUnder('America/Los_Angeles')]);
    expect(tokyo.hostOffsetMin).toBe(-540);
    expect(la.hostOffsetMin).toBe(420);
  });

  it('C03 elapsed hours vs calendar days are different rules', () => {
    const ny = 'America/New_York';
    expect(computeReleaseAt({ hoursBefore: 48 }, '2027-03-15', '07:00', ny).toISOString()).toBe('2027-03-13T11:00:00.000Z');
    expect(computeReleaseAt({ daysBefore: 2, at: '07:00' }, '2027-03-15', '07:00', ny).toISOString()).toBe('2027-03-13T12:00:00.000Z');
    expect(computeReleaseAt({ hoursBefore: 48 }, '2027-11-08', '07:00', ny).toISOString()).toBe('2027-11-06T12:00:00.000Z');
    expect(computeReleaseAt({ daysBefore: 2, at: '07:00' }, '2027-11-08', '07:00', ny).toISOString()).toBe('2027-11-06T11:00:00.000Z');
    const syd = 'Australia/Sydney';
    expect(slotStartAt('2027-04-05', '08:00', syd).toISOString()).toBe('2027-04-04T22:00:00.000Z');
    expect(computeReleaseAt({ hoursBefore: 48 }, '2027-04-05', '08:00', syd).toISOString()).toBe('2027-04-02T22:00:00.000Z');
    expect(computeReleaseAt({ daysBefore: 2, at: '08:00' }, '2027-04-05', '08:00', syd).toISOString()).toBe('2027-04-02T21:00:00.000Z');
  });

  it.each(['UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/New_York'])(
    'C08 DATE columns are calendar dates, not instants (TZ=%s)',
    async (tz) => {
      const answers = await probeUnder(tz);
      expect(answers.C08_slot).toBe('2027-07-14T21:00:00.000Z');
      expect(answers.C08_release).toBe('2027-07-12T21:00:00.000Z');
      expect(answers.C03_days).toBe('2027-03-13T12:00:00.000Z');
    },
  );

  it.each(['UTC', 'Australia/Sydney', 'America/New_York'])('C06 cron schedules stay in their own zone (TZ=%s)', async (tz) => {
    const answers = await probeUnder(tz);
    expect(answers.C06_utc).toBe('2027-10-02T16:00:00.000Z,2027-10-02T17:00:00.000Z');
    expect(answers.C06_sydney).toBe('2027-10-01T21:00:00.000Z,2027-10-02T20:00:00.000Z,2027-10-03T20:00:00.000Z');
    // Slot 2027-10-10, horizonDays 7 → the first 07:00 run on or after 3 Oct (the day Sydney's DST starts).
    expect(answers.C06_sydney_rule).toBe('2027-10-02T20:00:00.000Z');
    expect(answers.C04_santiago).toBe('2027-09-04T04:00:00.000Z,2027-09-05T04:00:00.000Z,2027-09-06T03:00:00.000Z');
  });

  it('C06 probes really ran under different host zones', async () => {
    const [sydney, newYork] = await Promise.all([probeUnder('Australia/Sydney'), probeUnder('America/New_York')]);
    expect(sydney.hostOffsetMin).toBe(-600);
    expect(newYork.hostOffsetMin).toBe(240);
  });

  it('C05 a slot start inside the DST gap is refused with a reason naming the gap', () => {
    let caught: unknown;
    try {
      slotStartAt('2027-03-14', '02:30', 'America/New_York');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SlotTimeError);
    expect((caught as SlotTimeError).field).toBe('target_time');
    expect((caught as SlotTimeError).message).toBe(
      '2027-03-14 02:30 does not exist in America/New_York (the clocks skip it: daylight-saving gap)',
    );
  });

  it('C05 a slot start that occurs twice resolves to the earlier occurrence', () => {
    expect(slotStartAt('2027-11-07', '01:30', 'America/New_York').toISOString()).toBe('2027-11-07T05:30:00.000Z');
  });

  it('C04/C05 wall-clock release times in a gap fire at the first instant after it; overlaps take the earlier', () => {
    expect(wallClockReleaseAt('2027-03-14', '02:30', 'America/New_York').toISOString()).toBe('2027-03-14T07:00:00.000Z');
    expect(wallClockReleaseAt('2027-09-05', '00:00', 'America/Santiago').toISOString()).toBe('2027-09-05T04:00:00.000Z');
    expect(wallClockReleaseAt('2027-04-03', '23:30', 'America/Santiago').toISOString()).toBe('2027-04-04T02:30:00.000Z');
  });

  it('C10 the direct-slot datetime segment is built from the slot and carries the venue offset', () => {
    expect(slotStartAt('2027-07-23', '09:00', 'America/Guatemala').toISOString()).toBe('2027-07-23T15:00:00.000Z');
    const segment = slotDatetimeSegment('2027-07-23', '09:00', 'America/Guatemala');
    expect(segment).toBe('2027-07-23T09:00:00-06:00');
    expect(encodeURIComponent(segment)).toBe('2027-07-23T09%3A00%3A00-06%3A00');
  });

  it('rejects malformed dates and times naming the field', () => {
    expect(() => slotStartAt('2027-02-30', '07:00', 'UTC')).toThrow(/target_date|real calendar date/);
    expect(() => slotStartAt('2027-02-28', '25:00', 'UTC')).toThrow('"25:00" is not a 24-hour HH:MM time');
    expect(() => slotStartAt('2027-02-28', '7:00', 'UTC')).toThrow('"7:00" is not a 24-hour HH:MM time');
  });

  it('calendar arithmetic and local read-back', () => {
    expect(addDays('2027-03-01', -2)).toBe('2027-02-27');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(localDateTime(Date.UTC(2027, 6, 14, 21), 'Australia/Sydney')).toEqual({ date: '2027-07-15', time: '07:00' });
  });
});
