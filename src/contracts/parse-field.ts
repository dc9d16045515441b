import type { z } from 'zod';
import { ContractError } from './errors.js';
import { escapeForbidden } from './forbidden-code-points.js';

/**
 * Renders a bad value for an error message: strings quoted (`"25:00"`), arrays and objects as compact JSON,
 * everything else via `String`. Control, bidirectional-control, separator and lone-surrogate code points are
 * written as `\uXXXX` escapes (JSON.stringify escapes only C0 and lone surrogates), so a hostile value cannot
 * reorder or break the line the message is shown on. Long renderings are cut at 80 code points so a hostile
 * row cannot flood logs.
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
  const chars = [...escapeForbidden(text)];
  return chars.length > 80 ? `${chars.slice(0, 77).join('')}...` : chars.join('');
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
