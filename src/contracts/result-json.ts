import { bookingResultSchema, type BookingResult } from './booking-result.js';
import { ContractError } from './errors.js';
import { deepFreeze, toJsonValue, type JsonObject } from './json-value.js';
import { parseField } from './parse-field.js';

/**
 * A {@link BookingResult} as stored in the `reservations.result` jsonb column: the same keys
 * (`status`, `outcome`, `user`, `source`, `venue`, `court`, `confirmationCode`, `message`, `errors`,
 * `metadata`), as a plain, unfrozen JSON object.
 */
export type BookingResultJson = JsonObject;

/** Plain JSON copy of `result` for jsonb storage or logging. Never throws for a factory-made result. */
export function toJsonResult(result: BookingResult): BookingResultJson {
  return toJsonValue(result, 'result') as BookingResultJson;
}

/**
 * Reads a stored result back (a jsonb value as `pg` returns it, or its JSON text) and re-checks every
 * {@link BookingResult} invariant; the request-echo checks cannot be repeated (the request is not stored).
 *
 * @throws ContractError whose `field` starts with `result` (e.g. `result.errors`, `result.metadata.attempt`).
 */
export function parseJsonResult(json: unknown): BookingResult {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json) as unknown;
    } catch (err) {
      throw new ContractError('result', 'is text that is not valid JSON', { cause: err });
    }
  }
  return deepFreeze(parseField(bookingResultSchema, toJsonValue(value, 'result'), 'result'));
}
