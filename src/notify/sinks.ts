import { createHmac } from 'node:crypto';
import type { NotificationSink } from '../db/types.js';
import { withoutContacts } from '../redact.js';
import type { NotificationFacts, NotificationMessage } from './message.js';

/**
 * The two notification sinks (README "Notifications"). Each sends one message with the global `fetch`
 * (Node 20's undici: no library needed for one POST) and answers what happened; the dispatcher decides
 * about retries. Error texts never carry the bot token or the webhook secret.
 */

/** One message to send. */
export interface Delivery {
  facts: NotificationFacts;
  message: NotificationMessage;
  telegramChatId: string | null;
}

/**
 * What one send did: `delivered`; `skip` (nothing to send to, e.g. no chat id: never retried); `retry`
 * (network error, timeout, 408, 429 or 5xx); `reject` (another 4xx: sending again would not help).
 */
export type SendOutcome = { kind: 'delivered' } | { kind: 'skip'; why: string } | { kind: 'retry'; error: string } | { kind: 'reject'; error: string };

/** A sink: its name and how it sends. */
export interface Sink {
  name: NotificationSink;
  send(delivery: Delivery, signal: AbortSignal): Promise<SendOutcome>;
}

/** The `Idempotency-Key` of a message: one per reservation and status, the same on every retry. */
export function idempotencyKey(facts: Pick<NotificationFacts, 'reservationId' | 'status'>): string {
  return `reservd-${facts.reservationId}-${facts.status}`;
}

/** `sha256=<hex HMAC-SHA256 of body under secret>`: the `X-Reservd-Signature` header value. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** The webhook's JSON body (snake_case keys, like the CLI's JSON output). */
export function webhookBody(d: Delivery): string {
  const f = d.facts;
  return JSON.stringify({
    reservation_id: Number(f.reservationId), status: f.status, tone: d.message.tone, title: d.message.title, text: d.message.text,
    venue: f.venue, date: f.targetDate, time: f.targetTime, court: f.court, confirmation_code: f.confirmationCode,
    confirmation_url: f.confirmationUrl, outcome: f.outcome, reason: f.reason === null ? null : withoutContacts(f.reason),
  });
}

/**
 * POSTs `body` once. Redirects are not followed (`redirect: 'manual'`): a 301/302/303 would turn the POST into
 * a bodiless GET whose 200 looks delivered, a 307/308 would re-send the signed body to another host; a 3xx is
 * a refusal. Error texts never quote the URL (it may carry the bot token or a password) nor the answer's
 * body (a receiver may echo the request, contact details and all); the body is not read at all.
 */
async function post(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<SendOutcome> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal, redirect: 'manual' });
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    const why = (err as Error).name === 'TimeoutError' ? 'timed out' : typeof cause === 'string' && /^[A-Z_]+$/.test(cause) ? cause : (err as Error).name;
    return { kind: 'retry', error: `request failed: ${why}` };
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.ok) return { kind: 'delivered' };
  if (res.status >= 300 && res.status < 400) return { kind: 'reject', error: `HTTP ${res.status}: a redirect, not followed (point the URL at the receiver itself)` };
  const error = `HTTP ${res.status}`;
  return res.status === 408 || res.status === 429 || res.status >= 500 ? { kind: 'retry', error } : { kind: 'reject', error };
}

/** The webhook sink: POSTs {@link webhookBody} to `url`, signed with `secret`, with an `Idempotency-Key`. */
export function webhookSink(config: { url: string; secret: string }): Sink {
  return {
    name: 'webhook',
    send(d, signal) {
      const body = webhookBody(d);
      return post(config.url, body, { 'x-reservd-signature': signBody(body, config.secret), 'idempotency-key': idempotencyKey(d.facts) }, signal);
    },
  };
}

/**
 * The Telegram sink: Bot API `sendMessage` (`POST <baseUrl>/bot<token>/sendMessage`, `{ chat_id, text }`) to the
 * person's `booking_users.telegram_chat_id`; a person without one is skipped.
 */
export function telegramSink(config: { botToken: string; baseUrl: string }): Sink {
  const url = `${config.baseUrl.replace(/\/+$/, '')}/bot${config.botToken}/sendMessage`;
  return {
    name: 'telegram',
    async send(d, signal) {
      if (d.telegramChatId === null || d.telegramChatId.trim() === '') return { kind: 'skip', why: 'booking_users.telegram_chat_id is not set' };
      const outcome = await post(url, JSON.stringify({ chat_id: d.telegramChatId, text: d.message.text, disable_web_page_preview: true }), {}, signal);
      // A message naming the URL would carry the token: `post` never names it, and neither does this.
      return outcome;
    },
  };
}

/** The sinks a resolved `notify` config section turns on (none by default). */
export function sinksFromConfig(notify: { webhook?: { url: string; secret: string } | undefined; telegram?: { botToken: string; baseUrl: string } | undefined }): Sink[] {
  const sinks: Sink[] = [];
  if (notify.webhook) sinks.push(webhookSink(notify.webhook));
  if (notify.telegram) sinks.push(telegramSink(notify.telegram));
  return sinks;
}
