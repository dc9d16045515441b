import { z } from 'zod';
import { describeValue, parseField } from './parse-field.js';

/**
 * The problem with a court list, or `null` when it is a usable preference list: a non-empty array of
 * positive safe integers without duplicates.
 */
function findCourtListProblem(value: unknown): string | null {
  if (value === null || value === undefined) return `the court list is missing (got ${describeValue(value)})`;
  if (!Array.isArray(value)) return `${describeValue(value)} is not a list of court numbers`;
  if (value.length === 0) return 'the court list is empty';
  const seen = new Set<number>();
  for (let i = 0; i < value.length; i++) {
    const court: unknown = value[i];
    if (typeof court !== 'number' || !Number.isSafeInteger(court) || court < 1) {
      return `entry ${i + 1} of ${describeValue(value)} is ${describeValue(court)}, not a positive whole court number`;
    }
    if (seen.has(court)) return `court ${court} is listed twice in ${describeValue(value)}`;
    seen.add(court);
  }
  return null;
}

/**
 * An ordered court preference list: non-empty, positive integers, no duplicates (first = most wanted).
 * Output is the list as given.
 */
export const courtListSchema = z.custom<number[]>().superRefine((value, ctx) => {
  const problem = findCourtListProblem(value);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem, input: value });
});

/**
 * Ordered courts to try for one slot. Frozen; `courts` is never empty.
 */
export interface CourtPreference {
  /** Court numbers in preference order; frozen, at least one. */
  readonly courts: readonly number[];
  /** A fresh, mutable copy of {@link CourtPreference.courts}; always at least one court. */
  asList(): number[];
}

/**
 * Creates a frozen {@link CourtPreference}.
 *
 * @param courts - court numbers in preference order; copied, so later changes to the array do not leak in.
 * @throws ContractError (`field: "courts"`) when the list is empty, has a duplicate or a non-positive/non-integer entry.
 */
export function createCourtPreference(courts: readonly number[]): CourtPreference {
  const list = Object.freeze([...parseField(courtListSchema, courts, 'courts')]);
  return Object.freeze({
    courts: list,
    asList: (): number[] => [...list],
  });
}
