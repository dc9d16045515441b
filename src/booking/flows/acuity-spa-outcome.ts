import type { FlowResult } from '../flow.js';
import { bookedMismatch, type AcuityBookedAnswer, type AcuitySpaTarget } from './acuity-spa-target.js';

/**
 * How the answer to the page's own `POST /api/scheduling/v1/appointments` maps onto a flow outcome. The
 * error envelope is the official API's `{status_code, error, message}`.
 */

/** The outcome part of a {@link FlowResult}. */
export type SpaOutcome = Pick<FlowResult, 'outcome' | 'message' | 'confirmationCode'>;

/** What the page showed or answered after "Confirmar cita". */
export type SpaAnswer =
  | { kind: 'response'; status: number; body: unknown }
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
function bookedOutcome(body: unknown, target: AcuitySpaTarget): SpaOutcome {
  const answer = (typeof body === 'object' && body !== null ? body : {}) as AcuityBookedAnswer;
  const hash = textOf(answer.hash);
  if (!HASH_RE.test(hash)) return { outcome: 'site_changed', confirmationCode: null, message: 'the booking answer carries no 32-hex hash' };
  const mismatch = bookedMismatch(answer, target);
  if (mismatch) return { outcome: 'site_changed', confirmationCode: null, message: `${mismatch}; hash ${hash}` };
  return { outcome: 'booked', confirmationCode: hash, message: null };
}

/** The 32-hex hash of a 2xx booking answer, or null (any other answer, or no such hash in it). */
export function answerHash(answer: SpaAnswer): string | null {
  if (answer.kind !== 'response' || (answer.status !== 200 && answer.status !== 201)) return null;
  const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as Record<string, unknown>;
  const hash = textOf(body.hash);
  return HASH_RE.test(hash) ? hash : null;
}

/**
 * Maps an answer. 200 → `booked` (checked against the target); 409 → `slot_taken`; 422 irregular usage →
 * `site_blocked` with the site's text; 422 `time_unavailable` → `slot_taken` (the flow submits only a time
 * the page offered, or a form shown at or after the release, so "not available" then means someone else got
 * it; the calendar check before the click is what yields `not_open_yet`); 429 → `error` "rate limited";
 * 400 and anything else → `error` with the site's message; a lost answer → `unknown`.
 */
export function outcomeOfAnswer(answer: SpaAnswer, target: AcuitySpaTarget): SpaOutcome {
  const none = { confirmationCode: null };
  if (answer.kind === 'lost') return { ...none, outcome: 'unknown', message: `submitted, answer lost: ${answer.reason}` };
  if (answer.kind === 'alert') {
    if (IRREGULAR_RE.test(answer.text)) return { ...none, outcome: 'site_blocked', message: answer.text };
    return { ...none, outcome: 'error', message: `the page says: ${answer.text}` };
  }
  const { status, body } = answer;
  const { error, message } = envelope(body);
  const said = message || error || `HTTP ${status}`;
  if (status === 200 || status === 201) return bookedOutcome(body, target);
  if (status === 409) return { ...none, outcome: 'slot_taken', message: said };
  if (status === 422 && (error === 'irregular_usage' || IRREGULAR_RE.test(message))) return { ...none, outcome: 'site_blocked', message: said };
  if (status === 422 && error === 'time_unavailable') return { ...none, outcome: 'slot_taken', message: `not available after the release: ${said}` };
  if (status === 429) return { ...none, outcome: 'error', message: `rate limited (HTTP 429): ${said}` };
  return { ...none, outcome: 'error', message: `HTTP ${status}: ${said}` };
}
