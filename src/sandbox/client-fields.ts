import type { FieldErrors } from './slot-pages.js';
import type { SandboxClient } from './site-state.js';

/**
 * Server-side checks of the booking form, written independently of reservd's own contracts on purpose:
 * the sandbox plays the outside site, so a drift between our validation and "theirs" must show up.
 */

const EMAIL_RE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const PHONE_RE = /^\+?[0-9 ()-]+$/;

function field(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * Reads `client.firstName/lastName/email/phone` from a urlencoded body (values trimmed).
 * Rules: names required (≤ 80 chars); email `local@domain.tld`; phone digits/spaces/dashes/parentheses with
 * an optional leading `+` and 7–20 digits.
 */
export function parseClientFields(body: Record<string, unknown>): { values: SandboxClient; errors: FieldErrors } {
  const values: SandboxClient = {
    firstName: field(body, 'client.firstName'),
    lastName: field(body, 'client.lastName'),
    email: field(body, 'client.email'),
    phone: field(body, 'client.phone'),
  };
  const errors: FieldErrors = {};
  if (values.firstName === '') errors.firstName = 'is required';
  else if (values.firstName.length > 80) errors.firstName = 'is too long';
  if (values.lastName === '') errors.lastName = 'is required';
  else if (values.lastName.length > 80) errors.lastName = 'is too long';
  if (values.email === '') errors.email = 'is required';
  else if (!EMAIL_RE.test(values.email)) errors.email = 'is not a valid email address';
  const digits = values.phone.replace(/\D/g, '').length;
  if (values.phone === '') errors.phone = 'is required';
  else if (!PHONE_RE.test(values.phone) || digits < 7 || digits > 20) errors.phone = 'is not a valid phone number';
  return { values, errors };
}
