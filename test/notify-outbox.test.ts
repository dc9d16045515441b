import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.js';
import { claimDue, createNotifyDispatcher, outboxDepth, syncSinks, telegramSink, webhookSink, type DispatcherSettings, type Sink } from '../src/notify/index.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { waitFor } from './helpers/wait.js';

/** A local HTTP server that records each request and answers with the next scripted status (then 200). */
interface Recorder {
  url: string;
  requests: Array<{ path: string; headers: IncomingMessage['headers']; body: string }>;
  script: number[];
  close(): Promise<void>;
}

async function startRecorder(): Promise<Recorder> {
  const rec: Omit<Recorder, 'url' | 'close'> = { requests: [], script: [] };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      rec.requests.push({ path: req.url ?? '', headers: req.headers, body });
      const status = rec.script.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"ok":true}' : '{"ok":false,"description":"down"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(rec, { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
}

const SECRET = 'webhook-test-secret';
const TOKEN = '123456:test-token';
const settings: DispatcherSettings = { maxAttempts: 3, retryFirstMs: 1_000, retryMaxMs: 60_000, pollIntervalMs: 30_000, requestTimeoutMs: 5_000 };
const logger = createSilentLogger();
const START = Date.parse('2027-03-08T12:00:00Z');

let t: TestDatabase;
let hook: Recorder;
let tg: Recorder;
let sinks: Sink[];

beforeAll(async () => {
  t = await createTestDatabase();
  [hook, tg] = await Promise.all([startRecorder(), startRecorder()]);
  sinks = [webhookSink({ url: `${hook.url}/hook`, secret: SECRET }), telegramSink({ botToken: TOKEN, baseUrl: tg.url })];
});
afterAll(async () => {
  await Promise.all([hook?.close(), tg?.close()]);
  await t?.drop();
});
beforeEach(async () => {
  await t.truncate();
  await syncSinks(t.db, ['webhook', 'telegram']);
});
afterEach(() => {
  hook.requests.length = 0; hook.script.length = 0;
  tg.requests.length = 0; tg.script.length = 0;
});

async function insertRow(chatId: string | null = '4242'): Promise<string> {
  const user = await t.db.insertInto('booking_users').values({ first_name: 'Ana', last_name: 'Lopez', email: 'ana@example.test', phone: '+50255550000', telegram_chat_id: chatId }).returning('id').executeTakeFirstOrThrow();
  const row = await t.db.insertInto('reservations').values({ user_id: user.id, venue: 'la-villa', target_date: '2027-03-10', target_time: '20:00', courts: [2, 1] }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

async function succeed(id: string): Promise<void> {
  await t.db.updateTable('reservations').set({ status: 'succeeded', booked_court: 2, confirmation_code: 'abc123', finished_at: new Date(START) }).where('id', '=', id).execute();
}

async function outbox(): Promise<Array<{ sink: string; status: string; state: string; attempts: number; last_error: string | null }>> {
  return t.db.selectFrom('notification_outbox').select(['sink', 'status', 'state', 'attempts', 'last_error']).orderBy('sink').execute();
}

describe('notification outbox', () => {
  it('queues one row per sink in the status change\'s transaction, with no dispatcher running', async () => {
    const id = await insertRow();
    expect(await outbox()).toEqual([]);
    await succeed(id);
    expect(await outbox()).toEqual([
      { sink: 'telegram', status: 'succeeded', state: 'pending', attempts: 0, last_error: null },
      { sink: 'webhook', status: 'succeeded', state: 'pending', attempts: 0, last_error: null },
    ]);
    expect(await outboxDepth(t.db)).toBe(2);
  });

  it('queues nothing for a status change that is rolled back, nor when no sink is configured', async () => {
    const id = await insertRow();
    await t.db.transaction().execute(async (tx) => {
      await tx.updateTable('reservations').set({ status: 'cancelled' }).where('id', '=', id).execute();
      await sql`SELECT 1/0`.execute(tx);
    }).catch(() => {});
    expect(await outbox()).toEqual([]);
    await syncSinks(t.db, []);
    await t.db.updateTable('reservations').set({ status: 'cancelled' }).where('id', '=', id).execute();
    expect(await outbox()).toEqual([]);
  });

  it('a hand cancel notifies: signed webhook with an idempotency key, and Telegram sendMessage', async () => {
    const id = await insertRow();
    await sql`UPDATE reservations SET status = 'cancelled' WHERE id = ${id}`.execute(t.db);
    const clock = createManualClock(START);
    const d = createNotifyDispatcher({ db: t.db, sinks, settings, clock, logger });
    expect(await d.runOnce()).toBe(2);
    expect(hook.requests).toHaveLength(1);
    const req = hook.requests[0]!;
    expect(req.path).toBe('/hook');
    expect(req.headers['idempotency-key']).toBe(`reservd-${id}-cancelled`);
    expect(req.headers['x-reservd-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`);
    expect(JSON.parse(req.body)).toEqual({
      reservation_id: Number(id), status: 'cancelled', tone: 'warn', title: 'Cancelled: 2027-03-10 at 20:00 (la-villa)',
      text: `⚠️ Cancelled: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nReservation ${id}`,
      venue: 'la-villa', date: '2027-03-10', time: '20:00', court: null, confirmation_code: null, confirmation_url: null, outcome: null, reason: null,
    });
    expect(tg.requests.map((r) => ({ path: r.path, body: JSON.parse(r.body) as unknown }))).toEqual([
      { path: `/bot${TOKEN}/sendMessage`, body: { chat_id: '4242', text: `⚠️ Cancelled: 2027-03-10 at 20:00 (la-villa)\nHi Ana,\nReservation ${id}`, disable_web_page_preview: true } },
    ]);
    expect((await outbox()).map((r) => [r.sink, r.state, r.attempts])).toEqual([['telegram', 'delivered', 1], ['webhook', 'delivered', 1]]);
    expect(await d.runOnce()).toBe(0);
    expect(await outboxDepth(t.db)).toBe(0);
  });

  it('retries after 500s with backoff, then delivers once', async () => {
    const id = await insertRow(null);
    await succeed(id);
    hook.script.push(500, 503);
    const clock = createManualClock(START);
    const d = createNotifyDispatcher({ db: t.db, sinks, settings, clock, logger });
    expect(await d.runOnce()).toBe(2); // webhook 500; telegram skipped (no chat id)
    expect(await outbox()).toEqual([
      { sink: 'telegram', status: 'succeeded', state: 'skipped', attempts: 1, last_error: 'booking_users.telegram_chat_id is not set' },
      { sink: 'webhook', status: 'succeeded', state: 'pending', attempts: 1, last_error: 'attempt 1: HTTP 500' },
    ]);
    expect(await d.runOnce()).toBe(0); // not due before its backoff
    clock.advance(1_000); // first retry after 500..1000 ms
    expect(await d.runOnce()).toBe(1);
    clock.advance(2_000);
    expect(await d.runOnce()).toBe(1);
    expect(hook.requests.map((r) => r.headers['idempotency-key'])).toEqual([`reservd-${id}-succeeded`, `reservd-${id}-succeeded`, `reservd-${id}-succeeded`]);
    expect(new Set(hook.requests.map((r) => r.body)).size).toBe(1);
    expect((await outbox())[1]).toEqual({ sink: 'webhook', status: 'succeeded', state: 'delivered', attempts: 3, last_error: null });
    expect(tg.requests).toEqual([]);
  });

  it('gives up after maxAttempts and records the message as failed', async () => {
    const id = await insertRow();
    await succeed(id);
    hook.script.push(500, 500, 500, 500);
    const clock = createManualClock(START);
    const d = createNotifyDispatcher({ db: t.db, sinks: [sinks[0]!], settings, clock, logger });
    for (let i = 0; i < 3; i++) {
      await d.runOnce();
      clock.advance(60_000);
    }
    expect(await d.runOnce()).toBe(0);
    expect(hook.requests).toHaveLength(3);
    const row = (await outbox()).find((r) => r.sink === 'webhook');
    expect(row).toEqual({ sink: 'webhook', status: 'succeeded', state: 'failed', attempts: 3, last_error: 'attempt 3 of 3: HTTP 500 (gave up)' });
  });

  it('a dispatcher that crashed after claiming leaves the row to a restarted one, which delivers exactly once', async () => {
    const id = await insertRow();
    await succeed(id);
    const clock = createManualClock(START);
    // The crashed dispatcher: claimed (lease set), never sent nor recorded.
    const lease = new Date(START + 60_000);
    expect(await claimDue(t.db, { now: new Date(START), leaseUntil: lease, limit: 10, sinks: ['webhook', 'telegram'] })).toHaveLength(2);
    const restarted = createNotifyDispatcher({ db: t.db, sinks, settings, clock, logger });
    expect(await restarted.runOnce()).toBe(0); // still leased
    clock.set(lease.getTime());
    expect(await restarted.runOnce()).toBe(2);
    clock.advance(3_600_000);
    expect(await restarted.runOnce()).toBe(0);
    expect(hook.requests).toHaveLength(1);
    expect(tg.requests).toHaveLength(1);
  });

  it('the running loop is woken and delivers without a poll', async () => {
    const clock = createManualClock(START);
    const d = createNotifyDispatcher({ db: t.db, sinks, settings, clock, logger });
    d.start();
    const id = await insertRow();
    await succeed(id);
    d.wake();
    await waitFor('both messages sent', async () => (await outboxDepth(t.db)) === 0 && hook.requests.length + tg.requests.length === 2);
    await d.stop();
    expect(hook.requests.map((r) => r.headers['idempotency-key'])).toEqual([`reservd-${id}-succeeded`]);
    expect(tg.requests).toHaveLength(1);
  });
});
