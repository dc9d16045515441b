import { z } from 'zod';
import { ContractError } from './errors.js';

/** A value `JSON.stringify` round-trips exactly: no `undefined`, functions, `NaN`, bigint, `Date`, cycles. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object (`{ [key]: JsonValue }`). */
export type JsonObject = { [key: string]: JsonValue };

/** Nesting deeper than this is refused (a guard against runaway or hostile structures, not a JSON rule). */
const MAX_DEPTH = 64;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `base.key` for identifier keys, `base["odd key"]` otherwise. */
function childPath(base: string, key: string): string {
  return IDENTIFIER.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** Why `value` is not a plain JSON value (without looking inside it), or `null` when it may be. */
function describeNonJson(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `is ${String(value)}, which JSON cannot represent`;
    case 'undefined':
      return 'is undefined, which JSON drops silently';
    case 'function':
      return 'is a function, which JSON drops silently';
    case 'bigint':
      return `is a bigint (${String(value)}n), which JSON.stringify cannot serialise`;
    case 'symbol':
      return 'is a symbol, which JSON drops silently';
    default:
      break;
  }
  if (value === null || Array.isArray(value)) return null;
  if (value instanceof Date) return 'is a Date object; store an ISO-8601 string (toISOString()) instead';
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return `is a ${typeof name === 'string' && name !== '' ? name : 'non-plain object'}, not a plain JSON object`;
  }
  if (Object.getOwnPropertySymbols(value).length > 0) return 'has symbol keys, which JSON drops silently';
  return null;
}

function copyJson(value: unknown, path: string, ancestors: Set<object>): JsonValue {
  const problem = describeNonJson(value);
  if (problem !== null) throw new ContractError(path, problem);
  if (typeof value !== 'object' || value === null) return value as JsonValue;
  if (ancestors.has(value)) throw new ContractError(path, 'refers back to one of its own parents (a cycle), which JSON cannot represent');
  if (ancestors.size >= MAX_DEPTH) throw new ContractError(path, `is nested deeper than ${MAX_DEPTH} levels`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const out: JsonValue[] = [];
      // Index loop, not map(): holes of a sparse array must be seen (as undefined) and rejected.
      for (let i = 0; i < value.length; i++) out.push(copyJson(value[i], `${path}[${i}]`, ancestors));
      return out;
    }
    const out: JsonObject = {};
    for (const key of Object.keys(value)) out[key] = copyJson((value as Record<string, unknown>)[key], childPath(path, key), ancestors);
    return out;
  } finally {
    ancestors.delete(value);
  }
}

/**
 * Checks that `value` is JSON-serialisable without loss and returns a deep copy of it made of plain
 * objects/arrays (so later changes to the caller's object cannot leak into a frozen result).
 *
 * Rejects `undefined`, functions, symbols, bigint, `NaN`/`±Infinity`, `Date`, `Map`/`Set`/class instances,
 * sparse-array holes, symbol keys and cycles (shared, non-cyclic references are fine and are copied).
 *
 * @param path - the name of `value` in error messages, e.g. `metadata`.
 * @throws ContractError whose `field` is the key path of the first bad value, e.g. `metadata.timings_ms.submit`
 *   or `metadata.courts_tried[1]`.
 */
export function toJsonValue(value: unknown, path: string): JsonValue {
  return copyJson(value, path, new Set());
}

/** The problem with `value` as JSON (`"<path>: <problem>"`), or `null` when it is a plain JSON value. */
function findJsonProblem(value: unknown, path = 'value'): string | null {
  try {
    toJsonValue(value, path);
    return null;
  } catch (err) {
    if (err instanceof ContractError) return err.message;
    throw err;
  }
}

/** A zod schema accepting exactly the values {@link toJsonValue} accepts. */
export const jsonValueSchema = z.custom<JsonValue>((v) => findJsonProblem(v) === null, {
  error: (issue) => `is not JSON-serialisable (${findJsonProblem(issue.input) ?? 'unknown reason'})`,
});

/** Freezes `value` and everything inside it; returns it. For trees from {@link toJsonValue} (no cycles). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
