import type { Page } from 'playwright-core';
import type { FlowResult } from '../flow.js';

/**
 * Reads what an Acuity page shows, in one round trip to the browser. The selectors are those the sandbox
 * site serves (`src/sandbox/`): a block page `.blocked`, `.not-open-yet`,
 * `.slot-unavailable`, the form `#booking-form` with `client.*` inputs and `button.btn-confirm`,
 * `.field-error`, an expired form `.form-expired`, and the confirmation `.confirmation-code` /
 * `.client-name`.
 */

/** The four client inputs of the booking form, in form order. */
export const ACUITY_CLIENT_INPUTS = ['client.firstName', 'client.lastName', 'client.email', 'client.phone'] as const;

/** What a page shows. `unknown`: none of the known shapes (the site changed, or an error page). */
export type AcuityPageState = 'form' | 'field_errors' | 'not_open_yet' | 'slot_taken' | 'blocked' | 'bad_token' | 'booked' | 'unknown';

/** One look at a page. */
export interface AcuityPageSnapshot {
  state: AcuityPageState;
  /** `.confirmation-code` text on a confirmation page, else null. */
  confirmationCode: string | null;
  /** `.client-name` text on a confirmation page, else null. */
  clientName: string | null;
  /** `.field-error` texts (form re-shown with errors). */
  fieldErrors: string[];
  /** Form parts that are missing (inputs by name, `button.btn-confirm`); empty unless the form is incomplete. */
  missing: string[];
  /** `document.title`, for messages about unexpected pages. */
  title: string;
}

/**
 * Reads the current document's state. A booking form that lacks an input or the confirm button is
 * `unknown` with `missing` filled in (the site changed).
 *
 * @throws playwright errors when the page is closed or navigating away (callers map them).
 */
export async function readAcuityPage(page: Page): Promise<AcuityPageSnapshot> {
  return (await page.evaluate(`(${READ_PAGE_SOURCE})(${JSON.stringify(ACUITY_CLIENT_INPUTS)})`)) as AcuityPageSnapshot;
}

/**
 * The in-page reader as plain JavaScript text. It is a string on purpose: a function would be compiled by
 * tsx/esbuild with `keepNames`, which wraps inner functions in a `__name(...)` helper that does not exist
 * in the page ("ReferenceError: __name is not defined" under `npm run demo`, not under vitest).
 */
const READ_PAGE_SOURCE = `(inputs) => {
  const text = (selector) => { const el = document.querySelector(selector); return el && el.textContent ? el.textContent.trim() || null : null; };
  const base = { confirmationCode: null, clientName: null, fieldErrors: [], missing: [], title: document.title };
  if (document.querySelector('.blocked')) return { ...base, state: 'blocked' };
  const code = text('.confirmation-code');
  if (code) return { ...base, state: 'booked', confirmationCode: code, clientName: text('.client-name') };
  if (document.querySelector('.slot-unavailable')) return { ...base, state: 'slot_taken' };
  if (document.querySelector('.not-open-yet')) return { ...base, state: 'not_open_yet' };
  if (document.querySelector('.form-expired')) return { ...base, state: 'bad_token' };
  const form = document.querySelector('form#booking-form');
  if (!form) return { ...base, state: 'unknown' };
  const missing = inputs.filter((name) => !form.querySelector('[name="' + name + '"]'));
  if (!form.querySelector('button.btn-confirm')) missing.push('button.btn-confirm');
  const fieldErrors = Array.from(document.querySelectorAll('.field-error'), (e) => (e.textContent || '').trim());
  if (missing.length > 0) return { ...base, state: 'unknown', missing };
  return { ...base, state: fieldErrors.length > 0 ? 'field_errors' : 'form', fieldErrors };
}`;

/**
 * The outcome a direct-slot page shows before submitting, or null when the form is ready.
 * `httpStatus` (of a fresh navigation, if any) goes into the `site_changed` message.
 */
export function outcomeBeforeSubmit(snapshot: AcuityPageSnapshot, httpStatus: number | null): Pick<FlowResult, 'outcome' | 'message'> | null {
  switch (snapshot.state) {
    case 'form':
      return null;
    case 'blocked':
      return { outcome: 'site_blocked', message: 'the site showed a block page ("unusual traffic")' };
    case 'not_open_yet':
      return { outcome: 'not_open_yet', message: 'the site says this time is not available for booking yet' };
    case 'slot_taken':
      return { outcome: 'slot_taken', message: 'the site says this time is no longer available' };
    default: {
      const missing = snapshot.missing.length > 0 ? `; missing: ${snapshot.missing.join(', ')}` : '';
      const status = httpStatus === null ? '' : ` (HTTP ${httpStatus})`;
      return { outcome: 'site_changed', message: `direct-slot page has no usable booking form${status}: "${snapshot.title}" shows ${snapshot.state}${missing}` };
    }
  }
}

/**
 * The outcome of the page after the confirm click. `booked` carries the code; a confirmation that names
 * someone else than `user` stays `booked` (the site took it) with a message saying so.
 */
export function outcomeAfterSubmit(snapshot: AcuityPageSnapshot, user: { firstName: string; lastName: string }): Pick<FlowResult, 'outcome' | 'message' | 'confirmationCode'> {
  const fail = (outcome: FlowResult['outcome'], message: string) => ({ outcome, message, confirmationCode: null });
  switch (snapshot.state) {
    case 'booked': {
      const expected = `${user.firstName} ${user.lastName}`;
      const message = snapshot.clientName === expected ? null : `confirmation page names "${snapshot.clientName ?? ''}", expected "${expected}"`;
      return { outcome: 'booked', message, confirmationCode: snapshot.confirmationCode };
    }
    case 'slot_taken':
      return fail('slot_taken', 'the site says this time is no longer available (another booker was first)');
    case 'not_open_yet':
      return fail('not_open_yet', 'the site refused the booking: not available for booking yet');
    case 'blocked':
      return fail('site_blocked', 'the site answered the booking with a block page ("unusual traffic")');
    case 'field_errors':
      return fail('error', `the site rejected the client details: ${snapshot.fieldErrors.join('; ')}`);
    case 'bad_token':
      return fail('error', 'the site refused the booking form (expired or reused form token); nothing was booked');
    default:
      return fail('site_changed', `after the confirm click the page "${snapshot.title}" shows neither a confirmation nor a known error`);
  }
}
