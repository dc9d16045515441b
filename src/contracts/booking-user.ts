import { z } from 'zod';
import { badValue } from './parse-field.js';

/** Phone text: optional leading `+`, then digits, spaces, dashes and parentheses. */
const PHONE_TEXT = /^\+?[0-9 ()-]+$/;

/** Number of digits in `text`. */
function digitCount(text: string): number {
  return text.replace(/\D/g, '').length;
}

/** A person's first or last name: trimmed, 1..80 characters. */
export const personNameSchema = z
  .string({ error: badValue('is not text') })
  .trim()
  .min(1, { error: () => 'is empty; a name needs 1 to 80 characters' })
  .max(80, { error: badValue('is longer than 80 characters') });

/**
 * An email address: trimmed first, then checked with `z.email()` (which does not trim by itself).
 */
export const emailSchema = z
  .string({ error: badValue('is not text') })
  .trim()
  .pipe(z.email({ error: badValue('is not a valid email address') }));

/**
 * A phone number as typed into the booking site's form: trimmed; an optional leading `+`, then digits,
 * spaces, dashes and parentheses, with 7 to 20 digits in all. Kept as written (not normalised), because the
 * site receives it verbatim.
 */
export const phoneSchema = z
  .string({ error: badValue('is not text') })
  .trim()
  .refine((t) => PHONE_TEXT.test(t), { error: badValue('is not a phone number (digits, with optional leading +, spaces, dashes, parentheses)') })
  .refine((t) => digitCount(t) >= 7 && digitCount(t) <= 20, { error: badValue('is not a phone number of 7 to 20 digits') });

/**
 * The person a booking is made for; the site's
 * `client.firstName/lastName/email/phone` form fields. All four are trimmed.
 */
export const bookingUserSchema = z.object({
  firstName: personNameSchema,
  lastName: personNameSchema,
  email: emailSchema,
  phone: phoneSchema,
});

/** `{ firstName, lastName, email, phone }`, all trimmed strings; see {@link bookingUserSchema}. */
export type BookingUser = z.infer<typeof bookingUserSchema>;
