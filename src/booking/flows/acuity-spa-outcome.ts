import type { FlowResult } from '../flow.js';
import type { AcuityClient } from './acuity-common.js';
import { bookedMismatch, clientMismatch, type AcuityBookedAnswer, type AcuityBookedClient, type AcuitySpaTarget } from './acuity-spa-target.js';

/**
 * How the answer to the page's own `POST /api/scheduling/v1/appointments` maps onto a flow outcome. The
 * error envelope is the official API's `{status_code, error, message}`.
 */

/** The outcome part of a {@link FlowResult}. */
export type SpaOutcome = Pick<FlowResult, 'outcome' | 'message' | 'confirmationCode' | 'retryAfterMs' | 'confirmationUrl'>;

/**
 * What the page showed or answered after "Confirmar cita". A response's `headers` have lower-case names (as
 * Playwright gives them); only `retry-after` and `date` are read.
 */
export type SpaAnswer =
  | { kind: 'response'; status: number; body: unknown; headers?: Readonly<Record<string, string>>; oversizedBytes?: number }
  | { kind: 'alert'; text: string }
  | { kind: 'lost'; reason: string };

const HASH_RE = /^[0-9a-f]{32}$/;
/** The start of the irregular-usage alert in the site's Spanish and English texts. */
const IRREGULAR_RE = /uso irregular|irregular usage|irregular use/i;

const textOf = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The envelope's `error` and `message` (empty strings when absent). */
function envelope(body: unknown): { error: string; message: string } {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  return { error: textOf(b.error), message: textOf(b.message) };
}

/** A 200 answer: `booked` with the 32-hex hash, or `site_changed` when it is not the requested slot. */
function bookedOutcome(body: unknown, target: AcuitySpaTarget, client?: AcuityClient): SpaOutcome {
  const answer = (typeof body === 'object' && body !== null ? body : {}) as AcuityBookedAnswer;
  const hash = textOf(answer.hash);
  if (!HASH_RE.test(hash)) return { outcome: 'site_changed', confirmationCode: null, message: 'the booking answer carries no 32-hex hash' };
  const mismatch = bookedMismatch(answer, target);
  if (mismatch) return { outcome: 'site_changed', confirmationCode: null, message: `${mismatch}; hash ${hash}` };
  const other = client ? clientMismatch(answer as AcuityBookedClient, client) : null;
  if (other) return { outcome: 'site_changed', confirmationCode: null, message: `${other}; hash ${hash}` };
  // The change/cancel link (`confirmationPage`): kept only as an http(s) URL.
  const page = textOf((answer as Record<string, unknown>).confirmationPage);
  const confirmationUrl = /^https?:\/\/[^\s]+$/.test(page) ? page : undefined;
  return { outcome: 'booked', confirmationCode: hash, message: null, ...(confirmationUrl ? { confirmationUrl } : {}) };
}

/** The 32-hex hash of a 2xx booking answer, or null (any other answer, or no such hash in it). */
export function answerHash(answer: SpaAnswer): string | null {
  if (answer.kind !== 'response' || (answer.status !== 200 && answer.status !== 201)) return null;
  const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as Record<string, unknown>;
  const hash = textOf(body.hash);
  return HASH_RE.test(hash) ? hash : null;
}

/**
 * A `Retry-After` value as ms from the answer: delay-seconds (`"120"`), or an HTTP-date measured from the
 * answer's own `Date` header when it has one (the site's clock on both sides), else from `nowMs`. Undefined
 * when absent or unreadable (or an HTTP-date with nothing to measure it from); a date in the past is 0.
 */
export function parseRetryAfterMs(value: string | undefined, dateHeader: string | undefined, nowMs: number | undefined): number | undefined {
  const text = value?.trim() ?? '';
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date form starts with the day's name; anything else (`-1`, `2027`) is not one.
  const atMs = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(atMs)) return undefined;
  const sentMs = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
  const fromMs = Number.isNaN(sentMs) ? nowMs : sentMs;
  return fromMs === undefined ? undefined : Math.max(0, atMs - fromMs);
}

/** A 429: `rate_limited` with the site's `Retry-After`, when it gave one (the booking XHR's, a page's, a times XHR's). */
export function rateLimited(answer: { headers?: Readonly<Record<string, string>> }, said: string, nowMs: number | undefined): SpaOutcome {
  const headers = answer.headers ?? {};
  const retryAfterMs = parseRetryAfterMs(headers['retry-after'], headers.date, nowMs);
  const wait = retryAfterMs === undefined ? 'no Retry-After' : `Retry-After ${retryAfterMs} ms`;
  return { outcome: 'rate_limited', confirmationCode: null, message: `rate limited (HTTP 429, ${wait}): ${said}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/**
 * Maps an answer. 200 → `booked` (checked against the target); 409 → `slot_taken`; 422 irregular usage →
 * `site_blocked` with the site's text; 422 `time_unavailable` → `slot_taken` (the flow submits only a time
 * the page offered, or a form shown at or after the release, so "not available" then means someone else got
 * it; the calendar check before the click is what yields `not_open_yet`); 429 → `rate_limited` with
 * `retryAfterMs` from its `Retry-After` ({@link parseRetryAfterMs}; `nowMs` is when the answer came, for an
 * HTTP-date without a `Date` header); 400 `bad_request`, and any other 4xx but 409/422/429 with a message,
 * → `form_rejected` with the site's message; anything else → `error`; a lost answer → `unknown`.
 */
export function outcomeOfAnswer(answer: SpaAnswer, target: AcuitySpaTarget, nowMs?: number, client?: AcuityClient): SpaOutcome {
  const none = { confirmationCode: null };
  if (answer.kind === 'lost') return { ...none, outcome: 'unknown', message: `submitted, answer lost: ${answer.reason}` };
  if (answer.kind === 'alert') {
    if (IRREGULAR_RE.test(answer.text)) return { ...none, outcome: 'site_blocked', message: answer.text };
    return { ...none, outcome: 'error', message: `the page says: ${answer.text}` };
  }
  const { status, body } = answer;
  const { error, message } = envelope(body);
  const said = message || error || `HTTP ${status}`;
  if ((status === 200 || status === 201) && answer.oversizedBytes !== undefined) {
    return { ...none, outcome: 'unknown', message: `submitted; the site's answer (HTTP ${status}, ${answer.oversizedBytes} bytes) is too large to read` };
  }
  if (status === 200 || status === 201) return bookedOutcome(body, target, client);
  if (status === 409) return { ...none, outcome: 'slot_taken', message: said };
  if (status === 422 && (error === 'irregular_usage' || IRREGULAR_RE.test(message))) return { ...none, outcome: 'site_blocked', message: said };
  if (status === 422 && error === 'time_unavailable') return { ...none, outcome: 'slot_taken', message: `not available after the release: ${said}` };
  if (status === 429) return rateLimited(answer, said, nowMs);
  if ((status === 400 && error === 'bad_request') || (status >= 400 && status < 500 && status !== 422 && message !== '')) {
    return { ...none, outcome: 'form_rejected', message: `the site refused the form (HTTP ${status}): ${said}` };
  }
  return { ...none, outcome: 'error', message: `HTTP ${status}: ${said}` };
}
