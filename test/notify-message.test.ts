import { describe, expect, it } from 'vitest';
import { factsFromRow, formatNotification, type NotificationRow } from '../src/notify/message.js';

const base: NotificationRow = {
  id: '12', status: 'succeeded', venue: 'la-villa', target_date: '2027-03-10', target_time: '20:00',
  booked_court: 2, confirmation_code: 'abc123', reason: null, first_name: 'Ana',
  result: { status: 'success', outcome: 'booked', court: 2, confirmationCode: 'abc123', metadata: { confirmation_url: 'https://site.test/c/abc123' } },
};

describe('formatNotification', () => {
  it('celebrates a booking with court, code and change/cancel link', () => {
    expect(formatNotification(factsFromRow(base))).toEqual({
      tone: 'celebrate',
      title: 'Booked: court 2 on 2027-03-10 at 20:00 (la-villa)',
      text: '✅ Booked: court 2 on 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nConfirmation code: abc123\nChange or cancel: https://site.test/c/abc123\nReservation 12',
    });
  });

  it('leaves the link out when it is not known', () => {
    const m = formatNotification(factsFromRow({ ...base, result: null }));
    expect(m.text).toBe('✅ Booked: court 2 on 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nConfirmation code: abc123\nReservation 12');
  });

  it('warns on a taken slot and gives the reason', () => {
    const m = formatNotification(factsFromRow({
      ...base, status: 'failed', booked_court: null, confirmation_code: null, reason: 'court 2: slot_taken; court 1: slot_taken',
      result: { status: 'failure', outcome: 'slot_taken', court: 1, confirmationCode: null, metadata: {} },
    }));
    expect(m).toEqual({
      tone: 'warn',
      title: 'Not booked: 2027-03-10 at 20:00 (la-villa)',
      text: '⚠️ Not booked: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nOutcome: slot_taken\nReason: court 2: slot_taken; court 1: slot_taken\nReservation 12',
    });
  });

  it('alerts on a site block', () => {
    const m = formatNotification(factsFromRow({ ...base, status: 'failed', booked_court: null, confirmation_code: null, reason: 'court 2: site_blocked', result: { outcome: 'site_blocked' } }));
    expect(m.tone).toBe('alert');
    expect(m.text).toBe('🚨 Not booked: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nOutcome: site_blocked\nReason: court 2: site_blocked\nReservation 12');
  });

  it('alerts on a rejected row with its reason', () => {
    const m = formatNotification(factsFromRow({ ...base, status: 'rejected', booked_court: null, confirmation_code: null, reason: 'target_time: "25:00" is not a 24-hour HH:MM time', result: null }));
    expect(m).toEqual({
      tone: 'alert',
      title: 'Request rejected: 2027-03-10 at 20:00 (la-villa)',
      text: '🚨 Request rejected: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nReason: target_time: "25:00" is not a 24-hour HH:MM time\nReservation 12',
    });
  });

  it('says what to check on needs_attention', () => {
    const m = formatNotification(factsFromRow({ ...base, status: 'needs_attention', booked_court: null, confirmation_code: null, reason: 'submit answer lost on court 2; the site was unreachable', result: null }));
    expect(m).toEqual({
      tone: 'alert',
      title: 'Check needed: 2027-03-10 at 20:00 (la-villa)',
      text: '🚨 Check needed: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nWhat to check: submit answer lost on court 2; the site was unreachable\n'
        + 'The site may hold a booking that reservd could not confirm. Check the venue\'s booking page or your e-mail for a confirmation for this slot before booking again; reservd will not resubmit it.\nReservation 12',
    });
  });

  it('names the court and code of a cancelled row the site booked anyway', () => {
    const m = formatNotification(factsFromRow({ ...base, status: 'needs_attention', reason: 'cancelled while submitting; the site booked it' }));
    expect(m.text.split('\n').slice(2, 5)).toEqual(['Court 2 may be booked.', 'Confirmation code: abc123', 'Change or cancel: https://site.test/c/abc123']);
  });

  it('warns on cancelled and expired rows', () => {
    const cancelled = formatNotification(factsFromRow({ ...base, status: 'cancelled', booked_court: null, confirmation_code: null, result: null }));
    expect(cancelled).toEqual({ tone: 'warn', title: 'Cancelled: 2027-03-10 at 20:00 (la-villa)', text: '⚠️ Cancelled: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nReservation 12' });
    const expired = formatNotification(factsFromRow({ ...base, status: 'expired', booked_court: null, confirmation_code: null, result: null, reason: 'slot started while waiting' }));
    expect(expired.text).toBe('⚠️ Expired before booking: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nReason: slot started while waiting\nReservation 12');
  });
});

describe('notify config', () => {
  it('is off by default and resolves its secrets from the environment', async () => {
    const { parseConfig, secretValuesOf } = await import('../src/config/load.js');
    expect(parseConfig({ venues: {} }).notify.webhook).toBeUndefined();
    const config = parseConfig(
      { venues: {}, notify: { webhook: { url: 'http://127.0.0.1:9/hook', secret: { fromEnv: 'HOOK_SECRET' } }, telegram: { botToken: { fromEnv: 'TG_TOKEN' } } } },
      { HOOK_SECRET: 's3cret', TG_TOKEN: '1:abc' },
    );
    expect(config.notify.webhook).toEqual({ url: 'http://127.0.0.1:9/hook', secret: 's3cret' });
    expect(config.notify.telegram).toEqual({ botToken: '1:abc', baseUrl: 'https://api.telegram.org' });
    expect(secretValuesOf(config)).toEqual(expect.arrayContaining(['s3cret', '1:abc']));
  });
});
