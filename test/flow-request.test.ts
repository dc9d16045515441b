import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type BrowserLease, type ChromiumPool } from '../src/booking/browser.js';
import { CONFIRMATION_READ_MIN_MS, createAcuityFlow, prepareAcuityAttempt, submitAcuityRequest } from '../src/booking/flows/acuity.js';
import { directSlotPath } from '../src/booking/flows/acuity-urls.js';
import { createManualClock, systemClock, type ManualClock } from '../src/clock.js';
import { LA_VILLA, startTestSandbox, T0, testConfig, type TestSandbox } from './helpers/sandbox.js';

/**
 * What only the request mode does: the form kept at prepare, a refused token retried once with a fresh GET,
 * the site's release check after a good form, the visual confirmation; and, against a scripted fake site,
 * the answers the sandbox never gives (a confirmation that cannot be read, a 500, a redirect without a
 * location, a token refused twice) plus what the POST carries.
 */

const DAY = '2027-07-23';
const USER = { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' };
/** An intent that is always granted. */
const noop = async (): Promise<boolean> => true;
let sandbox: TestSandbox;
let clock: ManualClock;
let pool: ChromiumPool;
let lease: BrowserLease | null = null;

const target = (time: string, court = 1) => ({ venue: sandbox.venue(), court, targetDate: DAY, targetTime: time });
const page = async () => {
  await lease?.release();
  lease = await pool.acquire();
  return lease;
};

beforeAll(async () => {
  clock = createManualClock(T0);
  sandbox = await startTestSandbox({ clock });
  pool = createBrowserPool({ executablePath: findChromium(null), headless: true, logger: { info() {}, warn() {} } });
});
afterAll(async () => {
  await lease?.release();
  await pool.close();
  await sandbox.stop();
});
beforeEach(() => {
  clock.set(T0);
  sandbox.site.reset();
});

describe('request mode against the sandbox', () => {
  it('posts the form kept at prepare without a GET at the instant when the slot was already open', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'), { clock });
    expect(handle.prepared.form?.fields.map(([n]) => n)).toContain('form_token');
    const result = await submitAcuityRequest(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(result.outcome).toBe('booked');
    expect(result.timingsMs).not.toHaveProperty('get_ms');
    expect(handle.prepared.form).toBeNull();
  });

  it('retries once with a fresh GET when the site refuses the kept form token, without a second intent', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'), { clock });
    sandbox.site.reset(); // forgets every issued token: the kept one is now unknown to the site
    let intents = 0;
    const result = await submitAcuityRequest(handle, { user: USER, onBeforeSubmit: async () => (intents++, true), timeoutMs: 5_000 });
    expect(result).toMatchObject({ outcome: 'booked', submitted: true });
    expect(intents).toBe(1);
    expect(sandbox.site.submits().map((s) => s.result)).toEqual(['bad_token', 'booked']);
    expect(Object.keys(result.timingsMs)).toEqual(expect.arrayContaining(['post_ms', 'retry_get_ms', 'retry_post_ms', 'confirm_ms']));
  });

  it('maps the site\'s own release check after the POST to not_open_yet (submitted, nothing booked)', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'), { clock });
    const result = await submitAcuityRequest(handle, {
      user: USER,
      timeoutMs: 5_000,
      onBeforeSubmit: async () => (sandbox.site.setClockSkewMs(-60_000), true), // the site's clock jumps back before the release
    });
    expect(result).toMatchObject({ outcome: 'not_open_yet', submitted: true, confirmationCode: null });
    expect(sandbox.site.submits().map((s) => s.result)).toEqual(['not_open_yet']);
    expect(sandbox.site.bookings()).toEqual([]);
  });

  it('warm() refreshes the request connection and, once the slot is open, keeps a fresh form; a no-op in rendered mode', async () => {
    const flow = createAcuityFlow({ clock });
    const handle = await flow.prepare(await page(), target('10:00'));
    expect(handle.timingsMs).toHaveProperty('warm_ms');
    await flow.warm(handle);
    expect(handle.prepared.form).toBeNull(); // not open yet: nothing to keep
    clock.set(T0 + 3_600_000);
    await flow.warm(handle);
    expect(handle.prepared.form).not.toBeNull();
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(result.outcome).toBe('booked');
    expect(result.timingsMs).not.toHaveProperty('get_ms');

    const rendered = createAcuityFlow({ clock, mode: 'rendered' });
    const renderedHandle = await rendered.prepare(await page(), target('09:00', 3));
    expect(renderedHandle.timingsMs).not.toHaveProperty('warm_ms');
    const kept = renderedHandle.prepared.form;
    await rendered.warm(renderedHandle);
    expect(renderedHandle.prepared.form).toBe(kept);
    expect(sandbox.site.submits().filter((s) => s.court === 3)).toEqual([]);
  });

  it('sends nothing when the budget is spent before the POST (a slow intent write)', async () => {
    const handle = await prepareAcuityAttempt(await page(), target('09:00'), { clock });
    const result = await submitAcuityRequest(handle, { user: USER, timeoutMs: 5_000, onBeforeSubmit: async () => (clock.advance(5_000), true) });
    expect(result).toMatchObject({ outcome: 'timeout', submitted: false });
    expect(result.message).toContain('nothing sent');
    expect(sandbox.site.submits()).toEqual([]);
  });

  it('shows the confirmation in the page after booking when asked to', async () => {
    const flow = createAcuityFlow({ clock, showConfirmation: true });
    const handle = await flow.prepare(await page(), target('10:00'));
    clock.set(T0 + 3_600_000);
    const result = await flow.submit(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(result.outcome).toBe('booked');
    expect(result.timingsMs).toHaveProperty('show_ms');
    expect((await (await handle.browser.page()).textContent('.confirmation-code'))?.trim()).toBe(result.confirmationCode);
  });
});

/** A scripted site: GET of the slot serves `formHtml`, POST and the confirmation answer as the test says. */
interface FakeSite {
  url: string;
  formHtml: string;
  post: (res: ServerResponse) => void;
  confirm: (res: ServerResponse) => void;
  posts: { headers: IncomingMessage['headers']; body: URLSearchParams }[];
  gets: string[];
}

describe('request mode against a scripted site', () => {
  let server: Server;
  let fake: FakeSite;
  const venue = () => testConfig(fake.url, { 'la-villa': LA_VILLA }).venues['la-villa']!;
  const slotPath = () => directSlotPath(venue(), 1, DAY, '09:00');
  const formHtml = (token: string) => `<!doctype html><title>Court 1</title><form id="booking-form" method="post">
<input type="hidden" name="form_token" value="${token}"><input type="hidden" name="session" value="s&amp;1">
<input name="client.firstName"><input name="client.lastName"><input name="client.email"><input name="client.phone">
<button type="submit" class="btn-confirm">Confirm Appointment</button></form>`;
  const send = (status: number, body = '', headers: Record<string, string> = {}) => (res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'text/html', ...headers });
    res.end(body);
  };
  const prepareFake = async () => prepareAcuityAttempt(await page(), { venue: venue(), court: 1, targetDate: DAY, targetTime: '09:00' }, { clock: systemClock });

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST') {
          fake.posts.push({ headers: req.headers, body: new URLSearchParams(Buffer.concat(chunks).toString()) });
          fake.post(res);
        } else if (req.url?.includes('/confirmation/')) fake.confirm(res);
        else {
          fake.gets.push(req.url ?? '');
          send(200, fake.formHtml)(res);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    server.closeAllConnections();
    fake = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      formHtml: formHtml('tok-1'),
      post: send(303, '', { location: '/schedule/la-villa/confirmation/7' }),
      confirm: send(200, '<title>Appointment confirmed</title><span class="client-name">Ana López</span><strong class="confirmation-code">ABCDEFGH</strong>'),
      posts: [],
      gets: [],
    };
  });

  it('posts every control of the form with the client, Origin and Referer as a browser would, and reads the code', async () => {
    const handle = await prepareFake();
    const result = await submitAcuityRequest(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(result).toMatchObject({ outcome: 'booked', confirmationCode: 'ABCDEFGH', message: null, submitted: true });
    expect(fake.posts).toHaveLength(1);
    const [post] = fake.posts;
    expect(Object.fromEntries(post!.body)).toEqual({
      form_token: 'tok-1',
      session: 's&1',
      'client.firstName': 'Ana',
      'client.lastName': 'López',
      'client.email': 'ana@example.test',
      'client.phone': '+502 5555 1234',
    });
    expect(post!.headers).toMatchObject({ 'content-type': 'application/x-www-form-urlencoded', origin: fake.url, referer: `${fake.url}${slotPath()}` });
  });

  it('reports a token refused twice as error (submitted), after exactly one fresh GET', async () => {
    const handle = await prepareFake();
    fake.post = send(403, '<section class="form-expired">Your session has expired</section>');
    const result = await submitAcuityRequest(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(result).toMatchObject({ outcome: 'error', submitted: true });
    expect(result.message).toContain('refused the booking form twice');
    expect(fake.posts).toHaveLength(2);
    expect(fake.gets.filter((url) => url === slotPath())).toHaveLength(2); // prepare's navigation and the one fresh GET
  });

  it('keeps "booked" without a code when the redirect says booked but the confirmation never answers', async () => {
    const handle = await prepareFake();
    fake.confirm = () => {}; // never answers
    const startedMs = systemClock.now();
    const result = await submitAcuityRequest(handle, { user: USER, onBeforeSubmit: noop, timeoutMs: 200 });
    expect(result).toMatchObject({ outcome: 'booked', confirmationCode: null, submitted: true });
    expect(result.message).toContain('/schedule/la-villa/confirmation/7');
    expect(systemClock.now() - startedMs).toBeGreaterThanOrEqual(CONFIRMATION_READ_MIN_MS);
  });

  it('maps an unknown answer to site_changed naming the HTTP status, and a redirect without location too', async () => {
    fake.post = send(500, '<title>Oops</title>Internal error');
    const oops = await submitAcuityRequest(await prepareFake(), { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(oops).toMatchObject({ outcome: 'site_changed', submitted: true });
    expect(oops.message).toContain('HTTP 500');
    fake.post = send(303);
    const lost = await submitAcuityRequest(await prepareFake(), { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(lost).toMatchObject({ outcome: 'site_changed', submitted: true });
    expect(lost.message).toContain('without a location');
  });

  it('sends nothing when the served form lacks a client input (site_changed, naming it)', async () => {
    fake.formHtml = formHtml('tok-2').replace('<input name="client.phone">', '');
    const result = await submitAcuityRequest(await prepareFake(), { user: USER, onBeforeSubmit: noop, timeoutMs: 5_000 });
    expect(result).toMatchObject({ outcome: 'site_changed', submitted: false });
    expect(result.message).toContain('missing: client.phone');
    expect(fake.posts).toEqual([]);
  });
});
