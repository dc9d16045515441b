import { describe, expect, it } from 'vitest';
import { carriesUserData } from '../src/booking/flows/acuity-spa-guard.js';
import { createRequestBudget } from '../src/booking/flows/request-budget.js';
import { DEFAULT_ALLOWED_HOSTS, DEFAULT_REQUEST_BUDGET } from '../src/config/schema.js';
import { parseConfig } from '../src/config/load.js';

const USER = { firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.test', phone: '+502 5555 1234' };

describe('the venue request budget (sliding window)', () => {
  it('takes up to `requests` places in any `perS` seconds, then refuses and says when a place frees up', () => {
    const budget = createRequestBudget({ requests: 3, perS: 10 });
    expect([budget.take(0), budget.take(1000), budget.take(2000), budget.take(3000)]).toEqual([true, true, true, false]);
    expect(budget.retryAfterMs(3000)).toBe(7000);
    expect(budget.take(9999)).toBe(false);
    // The first place leaves the window at 10 000 ms.
    expect(budget.take(10_000)).toBe(true);
    expect(budget.retryAfterMs(10_000)).toBe(1000);
    expect(budget.refused()).toBe(2);
  });

  it('refuses a setting that is not a positive integer, naming the field', () => {
    expect(() => createRequestBudget({ requests: 0, perS: 1 })).toThrow('requestBudget.requests must be a positive integer, got 0');
    expect(() => createRequestBudget({ requests: 1, perS: 0.5 })).toThrow('requestBudget.perS must be a positive integer, got 0.5');
  });
});

describe('user data in a URL', () => {
  it('finds the e-mail, the names and the phone, encoded or not', () => {
    expect(carriesUserData('https://www.google.com/recaptcha/enterprise.js?render=6Lkey', USER)).toBe(false);
    expect(carriesUserData('https://x.test/c?e=ana%40example.test', USER)).toBe(true);
    expect(carriesUserData('https://x.test/c?n=P%C3%A9rez', USER)).toBe(true);
    expect(carriesUserData('https://x.test/c?who=ANA', USER)).toBe(true);
    expect(carriesUserData('https://x.test/c?p=%2B502-5555-1234', USER)).toBe(true);
    expect(carriesUserData('https://x.test/c?p=55551234', USER)).toBe(true);
    expect(carriesUserData('https://x.test/c?t=2027-07-23', USER)).toBe(false);
    expect(carriesUserData('https://x.test/c?e=ana%40example.test', null)).toBe(false);
    // A body read as latin1: the UTF-8 bytes of "Pérez" are found too.
    expect(carriesUserData(Buffer.from('{"n":"Pérez"}').toString('latin1'), { ...USER, firstName: 'Zoë', email: 'z@x.test' }, true)).toBe(true);
    expect(carriesUserData(Buffer.from([0x08, 0x01, 0x12, 0x04]).toString('latin1'), USER, true)).toBe(false);
  });
});

describe('config site.allowedHosts and site.requestBudget', () => {
  const venue = (site: Record<string, unknown>) => ({
    venues: { v: { name: 'V', timeZone: 'America/Guatemala', releaseRule: { hoursBefore: 48 }, site: { baseUrl: 'https://club.as.me', ownerKey: 'a3f09c1e', ...site }, courts: { '1': { appointmentTypeId: 1, calendarId: 2 } } } },
  });
  it('defaults to reCAPTCHA\'s two hosts and 300 requests per 60 s', () => {
    const site = parseConfig(venue({})).venues.v!.site;
    expect([site.allowedHosts, site.allowedPostHosts, site.requestBudget]).toEqual([['www.google.com', 'www.gstatic.com'], ['www.google.com'], { requests: 300, perS: 60 }]);
    expect([DEFAULT_ALLOWED_HOSTS, DEFAULT_REQUEST_BUDGET]).toEqual([['www.google.com', 'www.gstatic.com'], { requests: 300, perS: 60 }]);
  });
  it('takes a venue\'s own values and refuses bad ones, naming the field', () => {
    const site = parseConfig(venue({ allowedHosts: ['cdn.example.test', '127.0.0.1:8081'], requestBudget: { requests: 5, perS: 1 } })).venues.v!.site;
    expect([site.allowedHosts, site.requestBudget]).toEqual([['cdn.example.test', '127.0.0.1:8081'], { requests: 5, perS: 1 }]);
    expect(() => parseConfig(venue({ allowedHosts: ['https://cdn.example.test/'] }))).toThrow(/venues\.v\.site\.allowedHosts\.0/);
    expect(() => parseConfig(venue({ requestBudget: { requests: 0, perS: 60 } }))).toThrow(/venues\.v\.site\.requestBudget\.requests/);
  });
});
