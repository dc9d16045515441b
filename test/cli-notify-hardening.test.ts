import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Output } from '../src/commands/output.js';
import { listCommand, showCommand, type CommandContext } from '../src/commands/reservations.js';
import { parseConfig } from '../src/config/load.js';
import { telegramSink, webhookBody, webhookSink, type Delivery } from '../src/notify/sinks.js';
import { insertReservation, insertUser } from '../src/reservations/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { LA_VILLA, testConfig } from './helpers/sandbox.js';

/** Hostile input against the CLI, the timeline and the notification sinks: each case once crashed, leaked or lost a message. */

const config = testConfig('http://127.0.0.1:1', { 'la-villa': LA_VILLA });
const NOW = new Date('2027-07-01T00:00:00.000Z');
let database: TestDatabase;
let ctx: CommandContext;
let out = '';
const capture = (): Output => ({ write: (t) => void (out += t), error: (t) => void (out += t) });

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.truncate();
  out = '';
  ctx = { db: database.db, config, now: NOW, out: capture() };
});

const delivery: Delivery = {
  facts: { reservationId: '5', status: 'failed', venue: 'la-villa', targetDate: '2027-07-15', targetTime: '07:00', court: null, confirmationCode: null, confirmationUrl: null, outcome: null, reason: 'x', firstName: 'Ana' },
  message: { tone: 'alert', title: 't', text: 'x' },
  telegramChatId: '42',
} as unknown as Delivery;

describe('reservation_events', () => {
  it('records the scheduled → pending change the edit guard (0004) makes', async () => {
    const user = await insertUser(database.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+1 555 0100' });
    const id = await insertReservation(database.db, { userId: user, venue: 'la-villa', targetDate: '2027-07-15', targetTime: '07:00', courts: [1] });
    await sql`UPDATE reservations SET status = 'scheduled', release_at = '2027-07-13T13:00:00Z', slot_at = '2027-07-15T13:00:00Z', slot_end_at = '2027-07-15T14:00:00Z' WHERE id = ${id}`.execute(database.db);
    await sql`UPDATE reservations SET target_time = '08:00' WHERE id = ${id}`.execute(database.db);
    const row = await sql<{ status: string }>`SELECT status FROM reservations WHERE id = ${id}`.execute(database.db);
    expect(row.rows[0]!.status).toBe('pending');
    const events = await sql<{ to_status: string }>`SELECT to_status FROM reservation_events WHERE reservation_id = ${id} ORDER BY id`.execute(database.db);
    // The edit guard's BEFORE trigger turns the row back to pending: the timeline must show it too.
    expect(events.rows.map((e) => e.to_status)).toEqual(['pending', 'scheduled', 'pending']);
  });

  it('show prints a row with very many events instead of crashing (RangeError in formatTable)', async () => {
    const user = await insertUser(database.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.test', phone: '+1 555 0100' });
    const id = await insertReservation(database.db, { userId: user, venue: 'la-villa', targetDate: '2027-07-15', targetTime: '07:00', courts: [1] });
    await sql`INSERT INTO reservation_events (reservation_id, from_status, to_status) SELECT ${id}, 'pending', 'pending' FROM generate_series(1, 200000)`.execute(database.db);
    await expect(showCommand(ctx, id, false)).resolves.toBe(0);
    expect(out.split('\n').filter((line) => /^\S+Z\s+pending\s+pending/.test(line))).toHaveLength(200_000);
  }, 60_000);
});

describe('list filters', () => {
  it('refuses --from 2026-02-30 as invalid input (exit 65), not as a crash', async () => {
    await expect(listCommand(ctx, { from: '2026-02-30' }, false)).rejects.toMatchObject({ code: 'invalid_request', message: '--from: "2026-02-30" is not a date written YYYY-MM-DD' });
    await expect(listCommand(ctx, { to: '2026-13-45' }, false)).rejects.toMatchObject({ code: 'invalid_request', message: '--to: "2026-13-45" is not a date written YYYY-MM-DD' });
  });
  it('refuses --limit 99999999999999999999 as invalid input, not as a crash', async () => {
    await expect(listCommand(ctx, { limit: 1e20 }, false)).rejects.toMatchObject({ code: 'invalid_request', message: '--limit: must be a whole number from 1 to 100000 (got 100000000000000000000)' });
  });
});

describe('notification sinks', () => {
  it('a telegram error text never carries the bot token', async () => {
    const outcome = await telegramSink({ botToken: '123456:TOKENSECRET', baseUrl: 'http://user:pw@127.0.0.1:1' }).send(delivery, AbortSignal.timeout(2000));
    // fetch refuses a URL with credentials, and its message quotes the URL, token and all: never stored.
    expect(outcome).toEqual({ kind: 'retry', error: 'request failed: TypeError' });
  });

  it('a webhook answering 302 is not recorded as delivered (the POST was never received)', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/hook') {
        res.statusCode = 302;
        res.setHeader('location', '/elsewhere');
        return res.end();
      }
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const outcome = await webhookSink({ url: `http://127.0.0.1:${port}/hook`, secret: 's' }).send(delivery, AbortSignal.timeout(2000));
      // Followed, it became a bodiless GET /elsewhere whose 200 looked delivered.
      expect(seen).toEqual(['POST /hook']);
      expect(outcome).toEqual({ kind: 'reject', error: 'HTTP 302: a redirect, not followed (point the URL at the receiver itself)' });
    } finally {
      server.close();
    }
  });
});

describe('contact details never leave in a notification', () => {
  it('a reason quoting an e-mail (valid or not) or a phone number is masked in the webhook body', () => {
    const body = JSON.parse(
      webhookBody({
        ...delivery,
        facts: { ...(delivery as unknown as { facts: object }).facts, reason: 'booking_users.email: "ana@" is not a valid email address; phone +502 5555 0101; ana@gmail' },
      } as unknown as Delivery),
    ) as { reason: string };
    expect(body.reason).toBe('booking_users.email: "[e-mail]" is not a valid email address; phone [phone]; [e-mail]');
  });

  it('a webhook or Telegram URL that is not http(s) is a configuration error naming the key', () => {
    expect(() => parseConfig({ venues: {}, notify: { webhook: { url: 'ftp://127.0.0.1/hook', secret: 'x' } } })).toThrow(/notify\.webhook\.url/);
    expect(() => parseConfig({ venues: {}, notify: { telegram: { botToken: 'x', baseUrl: 'javascript:alert(1)' } } })).toThrow(/notify\.telegram\.baseUrl/);
  });
});
