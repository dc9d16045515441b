import { bookingResultSchema, type BookingResult } from './booking-result.js';
import type { BookingUser } from './booking-user.js';
import { ContractError } from './errors.js';
import { deepFreeze, toJsonValue, type JsonObject } from './json-value.js';
import { parseField } from './parse-field.js';

/**
 * A {@link BookingResult} as plain, unfrozen JSON: the keys `status`, `outcome`, `user`, `source`, `venue`,
 * `court`, `confirmationCode`, `message`, `errors`, `metadata` ({@link toJsonResult}); the `reservations.result`
 * column stores it without the user's contact details ({@link toStoredResult}).
 */
export type BookingResultJson = JsonObject;

/**
 * Plain JSON copy of `result`, user's e-mail and phone included: for the caller that made it, never for
 * storage or logs ({@link toStoredResult}). Never throws for a factory-made result.
 */
export function toJsonResult(result: BookingResult): BookingResultJson {
  return toJsonValue(result, 'result') as BookingResultJson;
}

/**
 * The keys of `user` that `reservations.result` never stores: contact details live in `booking_users` only
 * (one place to correct or erase them). The names stay: they are not a way to reach the person, they say whom
 * the booking was made for when the row is read without a join, and the logger redacts `user` anyway.
 */
export const STORED_RESULT_OMITS = ['email', 'phone'] as const;

/**
 * `result` as the `reservations.result` column stores it: {@link toJsonResult} with `user` reduced to
 * `{ firstName, lastName }` (no e-mail, no phone; {@link STORED_RESULT_OMITS}). Read it back with
 * {@link parseStoredResult}. Also the form to log, should a result be logged whole.
 */
export function toStoredResult(result: BookingResult): BookingResultJson {
  const json = toJsonResult(result);
  const user = { ...(json.user as JsonObject) };
  for (const key of STORED_RESULT_OMITS) delete user[key];
  // A site's refusal may quote the form back ("x@y is not valid"): such text loses the contact details too.
  const message = result.message === null ? null : withoutContact(result.message, result.user);
  return { ...json, user, message, errors: result.errors.map((e) => withoutContact(e, result.user)) };
}

/**
 * `text` with `user`'s e-mail (any letter case) replaced by `[e-mail]` and phone (as written) by `[phone]`:
 * for text that may quote the booking form (a site's error message) on its way to a row or a log.
 */
export function withoutContact(text: string, user: Pick<BookingUser, 'email' | 'phone'>): string {
  let out = text;
  if (user.email !== '') out = out.replace(new RegExp(escapeRegExp(user.email), 'gi'), '[e-mail]');
  if (user.phone !== '') out = out.split(user.phone).join('[phone]');
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Reads a stored result back as a full {@link BookingResult}, its `user` rebuilt from the reservation's
 * `booking_users` row (`user`; whatever user the stored JSON carries, older rows' e-mail and phone included,
 * is replaced), then every invariant re-checked as {@link parseJsonResult} does.
 *
 * @param json - the `reservations.result` value (jsonb as pg returns it, or its text).
 * @param user - the reservation's `booking_users` row as a {@link BookingUser}.
 * @throws ContractError whose `field` starts with `result` (e.g. `result.errors`, `result.user.email`).
 */
export function parseStoredResult(json: unknown, user: BookingUser): BookingResult {
  const value = typeof json === 'string' ? parseText(json) : json;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ContractError('result', 'is not a JSON object');
  return parseJsonResult({ ...(value as Record<string, unknown>), user });
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ContractError('result', 'is text that is not valid JSON', { cause: err });
  }
}

/**
 * Reads a stored result back (a jsonb value as `pg` returns it, or its JSON text) and re-checks every
 * {@link BookingResult} invariant; the request-echo checks cannot be repeated (the request is not stored).
 *
 * @throws ContractError whose `field` starts with `result` (e.g. `result.errors`, `result.metadata.attempt`).
 */
export function parseJsonResult(json: unknown): BookingResult {
  const value = typeof json === 'string' ? parseText(json) : json;
  return deepFreeze(parseField(bookingResultSchema, toJsonValue(value, 'result'), 'result'));
}
