import type { z } from 'zod';
import { ContractError } from './errors.js';

/**
 * Renders a bad value for an error message: strings quoted (`"25:00"`), arrays and objects as compact JSON,
 * everything else via `String`. Long renderings are cut at 80 characters so a hostile row cannot flood logs.
 */
export function describeValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else if (typeof value === 'bigint') text = `${value}n`;
  else if (typeof value === 'function') text = 'a function';
  else if (value instanceof Date) text = `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * zod error customiser: `value predicate`, e.g. `"bob@" is not a valid email address`; a missing value
 * (`null`/`undefined`) reads `is missing (got null)`.
 */
export function badValue(predicate: string): (issue: { input?: unknown }) => string {
  return (issue) =>
    issue.input === null || issue.input === undefined
      ? `is missing (got ${describeValue(issue.input)})`
      : `${describeValue(issue.input)} ${predicate}`;
}

/**
 * Parses `value` with `schema`; on failure throws a {@link ContractError} for `field` built from the first
 * zod issue (schemas in this folder write their messages as `value predicate` fragments, see {@link badValue}).
 * A nested issue path is appended to `field` (`metadata` + `["attempt"]` → `metadata.attempt`); `field` may be
 * `''` when the issue path alone names the field (`errors`, `metadata.attempt`).
 *
 * @throws ContractError when `value` does not match.
 */
export function parseField<S extends z.ZodType>(schema: S, value: unknown, field: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  const name = [field, path].filter((part) => part !== '').join('.') || 'value';
  throw new ContractError(name, issue?.message ?? 'is invalid', { cause: parsed.error });
}
