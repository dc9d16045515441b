import { z } from 'zod';
import { describeForbiddenCodePoint, findForbiddenCodePoint, forbiddenRule } from './forbidden-code-points.js';
import { badValue } from './parse-field.js';

/** Phone text: optional leading `+`, then digits, spaces, dashes and parentheses. */
const PHONE_TEXT = /^\+?[0-9 ()-]+$/;

/** Longest name, in Unicode code points (README "Names and e-mail addresses"). */
export const NAME_MAX_CODE_POINTS = 80;
/** Longest e-mail address, in characters: RFC 5321 §4.5.3.1.3 (a 256-octet path less its `<` `>`). */
export const EMAIL_MAX_LENGTH = 254;
/** Longest local part (before the last `@`), in characters: RFC 5321 §4.5.3.1.1. */
export const EMAIL_LOCAL_PART_MAX_LENGTH = 64;
/** Longest phone text: 20 digits with room for a `+`, spaces, dashes and parentheses. */
export const PHONE_MAX_LENGTH = 40;

/** Number of digits in `text`. */
function digitCount(text: string): number {
  return text.replace(/\D/g, '').length;
}

/** Number of Unicode code points in `text` (a lone surrogate counts as one). */
function codePointCount(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** The problem with a trimmed name, or `null`. */
function findNameProblem(name: string): string | null {
  if (name === '') return `is empty; a name needs 1 to ${NAME_MAX_CODE_POINTS} characters`;
  const found = findForbiddenCodePoint(name);
  if (found !== null) return `${describeForbiddenCodePoint(found)}; ${forbiddenRule('names', found.kind)}`;
  const length = codePointCount(name);
  if (length > NAME_MAX_CODE_POINTS) return `is ${length} characters long (Unicode code points); a name may have at most ${NAME_MAX_CODE_POINTS}`;
  return null;
}

/** The problem with a trimmed e-mail address that `z.email()` would not name well, or `null`. */
function findEmailProblem(email: string): string | null {
  const found = findForbiddenCodePoint(email);
  if (found !== null) return `${describeForbiddenCodePoint(found)}; ${forbiddenRule('e-mail addresses', found.kind)}`;
  const length = codePointCount(email);
  if (length > EMAIL_MAX_LENGTH) return `is ${length} characters long; an e-mail address may have at most ${EMAIL_MAX_LENGTH} (RFC 5321)`;
  const at = email.lastIndexOf('@');
  const localLength = at < 0 ? 0 : codePointCount(email.slice(0, at));
  if (localLength > EMAIL_LOCAL_PART_MAX_LENGTH) {
    return `has a local part (before the @) of ${localLength} characters; it may have at most ${EMAIL_LOCAL_PART_MAX_LENGTH} (RFC 5321)`;
  }
  return null;
}

/** zod refinement reporting `problem(value)` as the issue's message. */
function refineWith(problem: (value: string) => string | null) {
  return (value: string, ctx: z.RefinementCtx): void => {
    const message = problem(value);
    if (message !== null) ctx.addIssue({ code: 'custom', message, input: value });
  };
}

/**
 * A person's first or last name (`booking_users.first_name` / `last_name`).
 *
 * Policy (README "Names and e-mail addresses"): leading and trailing white space is trimmed (that includes
 * TAB, CR, LF and U+2028/U+2029); what remains is stored and sent to the site exactly as typed, and every
 * place that shows it escapes it. Legitimate: letters of any script, combining marks, digits, emoji
 * (ZWJ sequences with U+200D, variation selectors), punctuation, symbols, spaces and markup-looking text
 * (`<b>O'Brien</b>`, `Robert'); DROP TABLE`). Rejected, naming the code point and its 1-based position:
 * control characters (Unicode Cc: C0 incl. TAB/CR/LF/BEL/ESC, DEL, C1), bidirectional controls (U+061C,
 * U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), U+2028/U+2029, lone surrogates and noncharacters
 * (`./forbidden-code-points.ts`). Length 1 to {@link NAME_MAX_CODE_POINTS} Unicode CODE POINTS (not
 * UTF-16 units: 👩‍👩‍👧 is 5, not 8).
 */
export const personNameSchema = z
  .string({ error: badValue('is not text') })
  .trim()
  .superRefine(refineWith(findNameProblem));

/**
 * An e-mail address (`booking_users.email`): trimmed, then free of the code points names may not contain,
 * at most {@link EMAIL_MAX_LENGTH} characters in all and {@link EMAIL_LOCAL_PART_MAX_LENGTH} before the
 * last `@` (RFC 5321: a longer one is refused by mail servers, and by the site at the release; validation
 * is the time to say so), then `z.email()` (which does not trim or limit length by itself, and admits
 * ASCII only, so characters and octets are the same count).
 */
export const emailSchema = z
  .string({ error: badValue('is not text') })
  .trim()
  .superRefine(refineWith(findEmailProblem))
  .pipe(z.email({ error: badValue('is not a valid email address') }));

/**
 * A phone number as typed into the booking site's form: trimmed; at most {@link PHONE_MAX_LENGTH}
 * characters; an optional leading `+`, then digits, spaces, dashes and parentheses, with 7 to 20 digits in
 * all. Kept as written (not normalised), because the site receives it verbatim.
 */
export const phoneSchema = z
  .string({ error: badValue('is not text') })
  .trim()
  .refine((t) => t.length <= PHONE_MAX_LENGTH, { error: (issue) => `is ${(issue.input as string).length} characters long; a phone number may have at most ${PHONE_MAX_LENGTH}` })
  .refine((t) => PHONE_TEXT.test(t), { error: badValue('is not a phone number (digits, with optional leading +, spaces, dashes, parentheses)') })
  .refine((t) => digitCount(t) >= 7 && digitCount(t) <= 20, { error: badValue('is not a phone number of 7 to 20 digits') });

/**
 * The person a booking is made for; the site's
 * `client.firstName/lastName/email/phone` form fields. All four are trimmed; see each schema for its rules.
 */
export const bookingUserSchema = z.object({
  firstName: personNameSchema,
  lastName: personNameSchema,
  email: emailSchema,
  phone: phoneSchema,
});

/** `{ firstName, lastName, email, phone }`, all trimmed strings; see {@link bookingUserSchema}. */
export type BookingUser = z.infer<typeof bookingUserSchema>;
