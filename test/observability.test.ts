import { mkdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { createExecutor } from '../src/booking/executor.js';
import type { BrowserPoolState } from '../src/booking/browser.js';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import { createKysely } from '../src/db/create-database.js';
import type { Database } from '../src/db/types.js';
import { createHttpServer, type HttpServer, type ObservedDaemon } from '../src/http/server.js';
import { escapeHtml, formatCountdown } from '../src/http/status-page.js';
import { withoutContacts } from '../src/redact.js';
import { countReservationsByStatus, insertReservation, insertUser } from '../src/reservations/index.js';
import { createSiteClockCache } from '../src/scheduling/site-clock-cache.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../src/telemetry/metrics.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { LA_VILLA } from './helpers/sandbox.js';
import { fakePool, scriptedFlow, scriptedSession } from './helpers/scripted-flow.js';
import { waitFor } from './helpers/wait.js';
import type { Kysely } from 'kysely';
import { Writable } from 'node:stream';
import pino from 'pino';
import { getStatus } from '../src/reservations/index.js';
import { createScheduler } from '../src/scheduling/daemon.js';
import { createFakeExecutor } from './helpers/fake-executor.js';

/**
 * The observability endpoint (README "Observability"): metric values after real recordings (the executor's
 * observer, a site-clock cache, a status query on the real database), /healthz with the database up and down,
 * /readyz, the loopback rule, and the status page as headless Chromium renders it (a screenshot is saved
 * under test-artifacts/).
 */

const T0 = Date.parse('2027-07-21T14:59:00.000Z');
const FIRE_AT = Date.parse('2027-07-21T15:00:00.000Z');
const logger = createSilentLogger();
/** A venue on a loopback address nothing listens on (the tests never talk to it). */
const VENUES = { 'la-villa': { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: 'http://127.0.0.1:1' } } };

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await createTestDatabase();
});
afterAll(async () => {
  await testDb.drop();
});
beforeEach(async () => {
  await testDb.truncate();
});

/** What a test's server observes; fields may be changed by the test. */
function observed(db: Kysely<Database> | null, extra: Partial<{ browser: BrowserPoolState | null; tickAt: number | null; migrated: boolean }> = {}) {
  const state = { browser: { closed: false, connected: true, launches: 1 } as BrowserPoolState | null, tickAt: null as number | null, migrated: true, ...extra };
  const daemon: ObservedDaemon = {
    db: () => db,
    browser: () => state.browser,
    lastTickAt: () => state.tickAt,
    migrated: () => state.migrated,
    info: () => ({ id: 'test-host:1:abc', mode: 'on-time', venues: ['la-villa'] }),
  };
  return { state, daemon };
}

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(clock: ManualClock, metrics: Metrics, daemon: ObservedDaemon, host = '127.0.0.1'): Promise<{ base: string; server: HttpServer; host: string }> {
  const config = parseConfig({ venues: VENUES, http: { enabled: true, host, port: 0 } }).http;
  const server = createHttpServer({ config, clock, logger, metrics, daemon, staleTickMs: 60_000 });
  servers.push(server);
  const bound = await server.start();
  return { base: `http://${bound.host}:${bound.port}`, server, host: bound.host };
}

async function addReservation(db: Kysely<Database>, values: { first: string; last: string; time: string; status?: 'scheduled' | 'pending'; releaseAt?: Date }): Promise<number> {
  const userId = await insertUser(db, { firstName: values.first, lastName: values.last, email: `${values.first.length}@example.test`, phone: '+502 5555 1234' });
  return insertReservation(db, {
    userId,
    venue: 'la-villa',
    targetDate: '2027-07-23',
    targetTime: values.time,
    courts: [1, 2],
    ...(values.status ? { status: values.status } : {}),
    ...(values.releaseAt ? { releaseAt: values.releaseAt, slotAt: new Date(values.releaseAt.getTime() + 2 * 86_400_000) } : {}),
  });
}

/** A finished row as the daemon leaves it (inserted directly: tests set up state, not the life cycle). */
async function addFinished(db: Kysely<Database>, values: { first: string; last: string; status: 'succeeded' | 'failed'; code?: string; reason?: string; finishedAt: Date }): Promise<void> {
  const userId = await insertUser(db, { firstName: values.first, lastName: values.last, email: 'someone@example.test', phone: '+502 5555 9876' });
  await db
    .insertInto('reservations')
    .values({
      user_id: userId, venue: 'la-villa', target_date: '2027-07-22', target_time: '08:00', courts: [1], status: values.status, release_at: new Date(T0 - 86_400_000), slot_at: new Date(T0),
      booked_court: values.code ? 1 : null, confirmation_code: values.code ?? null, reason: values.reason ?? null, finished_at: values.finishedAt,
    })
    .execute();
}

describe('metrics', () => {
  it('reports the executor\'s fires and attempts, the status counts, site clocks and the outbox depth', async () => {
    const clock = createManualClock(T0);
    const metrics = createMetrics({ defaultMetrics: false });
    const { flow } = scriptedFlow(clock, () => ({ outcome: 'booked' }));
    const executor = createExecutor({
      clock, logger, pool: fakePool(), flow, executorId: 'test', attemptTimeoutMs: 5_000, notOpenRetryBudgetMs: 0, notOpenRetryIntervalMs: 100,
      observer: { fired: (e) => metrics.recordFire(e), attemptFinished: (e) => metrics.recordAttempt(e.outcome) },
    });
    const { port } = scriptedSession(7, FIRE_AT);
    const running = executor.execute(port);
    // The fire wait is on the manual clock: 4 ms late, as a slow wake would be.
    await waitFor('the executor waits for the fire', () => clock.pendingSleeps() > 0);
    clock.set(FIRE_AT + 4);
    const execution = await running;
    expect(execution.kind).toBe('settled');
    expect(execution.result.outcome).toBe('booked');

    await addReservation(testDb.db, { first: 'Ana', last: 'López', time: '07:00' });
    await addReservation(testDb.db, { first: 'Bo', last: 'Li', time: '08:00' });
    await addReservation(testDb.db, { first: 'Cy', last: 'Ng', time: '09:00', status: 'scheduled', releaseAt: new Date(FIRE_AT) });
    const venue = parseConfig({ venues: VENUES }).venues['la-villa']!;
    const siteClocks = createSiteClockCache({ clock, logger, estimate: async () => ({ offsetMs: 12.5, uncertaintyMs: 3.25, requests: 4, rttMs: 2, method: 'date-edge' }) as never });
    await siteClocks.offsetFor('la-villa', venue);
    metrics.observe({
      reservationsByStatus: () => countReservationsByStatus(testDb.db),
      siteClocks: () => (siteClocks.entries?.() ?? []).map(({ site, estimate }) => ({ site, offsetMs: estimate.offsetMs, uncertaintyMs: estimate.uncertaintyMs })),
      outboxDepth: async () => 7,
    });
    metrics.recordBrowserRestart();

    const text = await metrics.registry.metrics();
    const site = new URL(venue.site.baseUrl).origin;
    expect(text).toContain('reservd_reservations{status="pending"} 2\n');
    expect(text).toContain('reservd_reservations{status="scheduled"} 1\n');
    expect(text).toContain('reservd_attempts_total{outcome="booked"} 1\n');
    expect(text).toContain('reservd_fire_lag_ms_bucket{le="2",venue="club"} 0\n');
    expect(text).toContain('reservd_fire_lag_ms_bucket{le="5",venue="club"} 1\n');
    expect(text).toContain('reservd_fire_lag_ms_sum{venue="club"} 4\n');
    expect(text).toContain('reservd_fire_lag_ms_count{venue="club"} 1\n');
    expect(text).toContain(`reservd_site_clock_offset_ms{site="${site}"} 12.5\n`);
    expect(text).toContain(`reservd_site_clock_uncertainty_ms{site="${site}"} 3.25\n`);
    expect(text).toContain('reservd_browser_restarts_total 1\n');
    expect(text).toContain('reservd_notification_outbox_depth 7\n');
    expect(metrics.recentFires()).toEqual([{ reservationId: 7, venue: 'club', firedAtMs: FIRE_AT + 4, lagMs: 4 }]);
  });

  it('serves the default Node metrics (event-loop lag) over HTTP, and no outbox value without a provider', async () => {
    const clock = createManualClock(T0);
    const metrics = createMetrics();
    const { base } = await serve(clock, metrics, observed(testDb.db).daemon);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toContain('# TYPE reservd_reservations gauge\n');
    expect(text).not.toContain('reservd_notification_outbox_depth');
  });
});

describe('/healthz and /readyz', () => {
  it('answers 200 with the database up and 503 with it down, naming the failed part', async () => {
    const clock = createManualClock(T0);
    const up = observed(testDb.db, { tickAt: T0 - 1_500 });
    const { base } = await serve(clock, createMetrics({ defaultMetrics: false }), up.daemon);
    const ok = await fetch(`${base}/healthz`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, any>;
    expect(body.ok).toBe(true);
    expect(body.database).toEqual({ reachable: true });
    expect(body.browser).toEqual({ state: 'connected', launches: 1 });
    expect(body.scheduler).toEqual({ lastTickAgeMs: 1_500, stale: false });
    expect(typeof body.eventLoop.lagP99Ms).toBe('number');

    // A database nobody listens on (port 1 on loopback): the connection is refused at once.
    const down = createKysely('postgres://postgres@127.0.0.1:1/test', { poolMax: 2, logger: silentDbLogger, connectionTimeoutMs: 1_000 });
    try {
      const dead = observed(down);
      const { base: deadBase } = await serve(clock, createMetrics({ defaultMetrics: false }), dead.daemon);
      const res = await fetch(`${deadBase}/healthz`);
      expect(res.status).toBe(503);
      const report = (await res.json()) as Record<string, any>;
      expect(report.ok).toBe(false);
      expect(report.database.reachable).toBe(false);
      expect(report.database.error).toContain('ECONNREFUSED');
      // The status page still answers, saying why its tables are empty.
      const page = await fetch(`${deadBase}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<p class="problem" role="alert">The database did not answer: .*ECONNREFUSED/);
      // /metrics still answers: the database-backed gauge has no series, the rest of the scrape is there.
      const metrics = await fetch(`${deadBase}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toContain('# TYPE reservd_attempts_total counter');
      expect(text).not.toMatch(/^reservd_reservations\{/m);
    } finally {
      await down.destroy();
    }
  });

  it('a closed browser pool or a stale scheduler is unhealthy; ready only once migrated and ticked', async () => {
    const clock = createManualClock(T0);
    const o = observed(testDb.db, { migrated: false });
    const { base } = await serve(clock, createMetrics({ defaultMetrics: false }), o.daemon);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    o.state.migrated = true;
    const notTicked = await fetch(`${base}/readyz`);
    expect(notTicked.status).toBe(503);
    expect(await notTicked.json()).toEqual({ ok: false, migrated: true, queueLoaded: false });
    o.state.tickAt = T0;
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ ok: true, migrated: true, queueLoaded: true });

    clock.set(T0 + 60_001);
    const stale = await fetch(`${base}/healthz`);
    expect(stale.status).toBe(503);
    expect(((await stale.json()) as Record<string, any>).scheduler).toEqual({ lastTickAgeMs: 60_001, stale: true });
    o.state.tickAt = T0 + 60_000;
    o.state.browser = { closed: true, connected: false, launches: 2 };
    const closed = await fetch(`${base}/healthz`);
    expect(closed.status).toBe(503);
    expect(((await closed.json()) as Record<string, any>).browser).toEqual({ state: 'closed', launches: 2 });
  });
});

describe('binding', () => {
  it('binds 127.0.0.1 by default and refuses a non-loopback host unless allowRemote is set', async () => {
    const config = parseConfig({ venues: VENUES });
    expect(config.http).toEqual({ enabled: false, host: '127.0.0.1', port: 9464, allowRemote: false });
    const { server, host } = await serve(createManualClock(T0), createMetrics({ defaultMetrics: false }), observed(testDb.db).daemon);
    expect(host).toBe('127.0.0.1');
    expect(server.fastify.server.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(() => parseConfig({ venues: VENUES, http: { enabled: true, host: '0.0.0.0' } })).toThrow(/http\.host.*must be a loopback address/s);
    expect(parseConfig({ venues: VENUES, http: { host: '0.0.0.0', allowRemote: true } }).http.host).toBe('0.0.0.0');
    // A port already taken is a configuration problem naming the key (exit 78), not a crash.
    const port = (server.fastify.server.address() as { port: number }).port;
    const taken = createHttpServer({ config: parseConfig({ venues: VENUES, http: { enabled: true, port } }).http, clock: createManualClock(T0), logger, metrics: createMetrics({ defaultMetrics: false }), daemon: observed(null).daemon, staleTickMs: 60_000 });
    servers.push(taken);
    await expect(taken.start()).rejects.toThrow(new RegExp(`^http: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\); choose another http\\.port`));
    await expect(taken.start()).rejects.toMatchObject({ name: 'ConfigError', code: 'config_invalid' });
  });
});

describe('status page helpers', () => {
  it('escapes markup, hides contact details and formats countdowns', () => {
    expect(escapeHtml(`<b a="1">Tom & 'Jo'</b>`)).toBe('&lt;b a=&quot;1&quot;&gt;Tom &amp; &#39;Jo&#39;&lt;/b&gt;');
    expect(withoutContacts('mail ana.lopez@example.test or call +502 5555-1234 about 2027-07-23 07:00')).toBe('mail [e-mail] or call [phone] about 2027-07-23 07:00');
    expect(formatCountdown(0)).toBe('released');
    expect(formatCountdown(61_000)).toBe('00:01:01');
    expect(formatCountdown(2 * 86_400_000 + 3_723_000)).toBe('2d 01:02:03');
  });
});

describe('status page in Chromium', () => {
  it('shows upcoming releases with a countdown, outcomes with codes or reasons, and the fire-lag chart', async () => {
    const clock = createManualClock(T0);
    const metrics = createMetrics({ defaultMetrics: false });
    for (const [i, lagMs] of [3, 1, 7, 120, 2].entries()) metrics.recordFire({ reservationId: 10 + i, venue: 'la-villa', firedAtMs: FIRE_AT + i, lagMs });
    await addReservation(testDb.db, { first: '<img src=x onerror=alert(1)>', last: 'Smith', time: '07:00', status: 'scheduled', releaseAt: new Date(T0 + 3_723_000) });
    await addReservation(testDb.db, { first: 'Ana', last: 'López', time: '08:00' });
    await addFinished(testDb.db, { first: 'Bea', last: 'Ruiz', status: 'succeeded', code: 'AB12CD', finishedAt: new Date(T0 - 60_000) });
    await addFinished(testDb.db, { first: 'Cai', last: 'Wu', status: 'failed', reason: 'every court was taken (mail cai@example.test)', finishedAt: new Date(T0 - 30_000) });
    const { base } = await serve(clock, metrics, observed(testDb.db).daemon);

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`${base}/`);
      const upcoming = await page.locator('#upcoming tbody tr').allInnerTexts();
      expect(upcoming).toHaveLength(2);
      expect(upcoming[0]).toContain('<img src=x onerror=alert(1)> S.');
      expect(upcoming[0]).toContain('la-villa 2027-07-23 07:00');
      expect(upcoming[0]).toContain('scheduled');
      expect(upcoming[1]).toContain('Ana L.');
      expect(upcoming[1]).toContain('not scheduled yet');
      // The countdown starts at the render instant (1 h 02 min 03 s before the release) and then ticks.
      const countdown = page.locator('#upcoming .countdown').first();
      const first = await countdown.innerText();
      expect(['01:02:03', '01:02:02', '01:02:01']).toContain(first);
      await page.waitForFunction((before) => document.querySelector('#upcoming .countdown')?.textContent !== before, first);
      const recent = await page.locator('#recent tbody tr').allInnerTexts();
      expect(recent).toHaveLength(2);
      expect(recent[0]).toContain('Cai W.');
      expect(recent[0]).toContain('every court was taken (mail [e-mail])');
      expect(recent[1]).toContain('Bea R.');
      expect(recent[1]).toContain('confirmation AB12CD');
      expect(await page.locator('#fire-lags rect').count()).toBe(5);
      expect(await page.locator('#fire-lags rect.late').count()).toBe(1);
      expect(await page.locator('#fire-lags .label').textContent()).toBe('max |lag| 120 ms over the last 5 fire(s), oldest left');
      expect(await page.locator('#fire-lags .value').allTextContents()).toEqual(['3', '1', '7', '120', '2']);
      const html = await page.content();
      expect(html).not.toContain('example.test');
      expect(html).not.toContain('5555');
      expect(await page.locator('img').count()).toBe(0);
      expect(dialogs).toEqual([]);
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/status-page.png', fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

describe('status-change logs', () => {
  it('a booking logs one line per status change, each line about the reservation carrying reservation_id', async () => {
    const lines: Array<Record<string, unknown> & { msg: string }> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as { msg: string });
        done();
      },
    });
    const capture = pino({ level: 'info' }, stream);
    // 2027-07-23 09:00 in Guatemala (−06:00) is released 48 h before: 2027-07-21T15:00Z, half a second ago.
    const clock = createManualClock(Date.parse('2027-07-21T15:00:00.500Z'));
    const config = parseConfig({ venues: VENUES });
    const userId = await insertUser(testDb.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+502 5555 1234' });
    const id = await insertReservation(testDb.db, { userId, venue: 'la-villa', targetDate: '2027-07-23', targetTime: '09:00', courts: [2] });
    const scheduler = createScheduler({ db: testDb.db, config, clock, logger: capture, executor: createFakeExecutor(clock), daemonId: 'log-test' });
    expect(scheduler.lastTickAt()).toBeNull();
    try {
      await scheduler.tickOnce();
      expect(scheduler.lastTickAt()).toBe(clock.now());
      await waitFor('the booking to settle', async () => (await getStatus(testDb.db, id)) === 'succeeded');
      await waitFor('the settle line', () => lines.some((l) => l.msg.includes('booked court')));
    } finally {
      await scheduler.stop(0);
    }
    const about = lines.filter((l) => l.msg.includes(`reservation ${id}`));
    expect(about.filter((l) => l.reservation_id !== id)).toEqual([]);
    expect(about.map((l) => l.msg)).toEqual([
      `reservation ${id} scheduled; release at 2027-07-21T15:00:00.000Z`,
      `reservation ${id} claimed; its release has already passed, booking now`,
      `reservation ${id}: booking (claimed → booking, the fire begins)`,
      `reservation ${id}: booked court 2`,
    ]);
  });
});
