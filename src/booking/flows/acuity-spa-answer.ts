import type { Page } from 'playwright-core';
import type { Clock } from '../../clock.js';
import type { AcuityClient } from './acuity-common.js';
import type { GuardEvent } from './acuity-spa-guard.js';
import { budgetSpent, siteChanged } from './acuity-spa-open.js';
import { APPOINTMENTS_PATH } from './acuity-spa-page.js';
import type { RequestBudget } from './request-budget.js';
import { answerHash, type SpaAnswer, type SpaOutcome } from './acuity-spa-outcome.js';
import { lookupAppointmentsByHash } from './acuity-spa-lookup.js';
import { bookedMismatch, clientMismatch, type AcuitySpaTarget } from './acuity-spa-target.js';

/**
 * What the SPA flow does with the booking answer once it came: hand its hash to the caller, check it against
 * the confirmation route and the site's own look-up by hash.
 */

/** Budget of the look-up that checks a booked answer, ms. */
const CHECK_LOOKUP_MS = 3000;

/**
 * A booked answer checked as a member can, by looking the hash up (the confirmation page's own look-up):
 * listed, not cancelled, and the requested date, time, appointment type and calendar → stays `booked`;
 * anything else → `site_changed` with what the site lists (after a submit the executor records that
 * `unknown`, and reconciliation looks the hash up again). A look-up that fails or times out keeps `booked`:
 * the booking answer is the site's own word, already checked against the target.
 */
export async function checkByLookup(result: SpaOutcome, target: AcuitySpaTarget, client: AcuityClient, opts: { clock: Clock; lookupFailed?: SpaOutcome }): Promise<SpaOutcome> {
  if (result.outcome !== 'booked' || result.confirmationCode === null) return result;
  const hash = result.confirmationCode;
  const timedOut = new AbortController();
  const finished = new AbortController();
  void opts.clock.sleep(CHECK_LOOKUP_MS, finished.signal).then(() => {
    if (!finished.signal.aborted) timedOut.abort();
  }, () => undefined);
  let listed: Awaited<ReturnType<typeof lookupAppointmentsByHash>>;
  try {
    listed = await lookupAppointmentsByHash({ baseUrl: target.baseUrl, ownerKey: target.ownerKey, hashes: [hash] }, timedOut.signal);
  } catch {
    return opts.lookupFailed ?? result;
  } finally {
    finished.abort();
  }
  const found = listed.find((a) => a.hash === hash);
  if (!found) return { ...siteChanged(`the site does not list the appointment ${hash} it just confirmed`), confirmationCode: null };
  if (found.canceled) return { ...siteChanged(`the site lists the appointment ${hash} it just confirmed as cancelled`), confirmationCode: null };
  const mismatch = bookedMismatch(found, target) ?? clientMismatch(found, client);
  return mismatch ? { ...siteChanged(`looked up by its hash: ${mismatch}; hash ${hash}`), confirmationCode: null } : result;
}

/** The outcome after a 200: also the confirmation route, when the app has moved there, must name the same hash. */
export async function confirmRoute(page: Page, result: SpaOutcome): Promise<SpaOutcome> {
  if (result.outcome !== 'booked' || result.confirmationCode === null) return result;
  const routed = await routedHash(page);
  if (routed === undefined || routed === result.confirmationCode) return result;
  return { ...siteChanged(`the answer's hash ${result.confirmationCode} differs from the route's ${routed}`), confirmationCode: null };
}

/** The hash of the `/confirmation/<hash>` route the app moved to (waited for up to 2 s), or undefined. */
export async function routedHash(page: Page): Promise<string | undefined> {
  await page.waitForURL(/\/confirmation\/[0-9a-f]{32}(\?|$)/, { timeout: 2000 }).catch(() => undefined);
  return /\/confirmation\/([0-9a-f]{32})(\?|$)/.exec(page.url())?.[1];
}

/**
 * Hands the hash of a 2xx booking answer to `onAnswer` (awaited). Never throws: storing the hash is the
 * caller's business, and the flow's outcome must not depend on it.
 */
export async function reportAnswer(seen: SpaAnswer | string, onAnswer: ((hash: string) => Promise<void> | void) | undefined): Promise<void> {
  const hash = typeof seen === 'string' ? seen : answerHash(seen);
  if (hash === null || !onAnswer) return;
  try {
    await onAnswer(hash);
  } catch {
    // The caller logs its own failures (the attempt port retries and logs); the answer stands.
  }
}


/**
 * What the guard saw after "Confirmar cita", when it decides the outcome: the booking POST redirected to
 * another host → `site_changed` (the venue had the POST: still submitted); a request the venue's budget refused,
 * with no answer from the site → `rate_limited`, `notSent` when the booking POST itself was refused or never
 * went out (an alert without a POST). Null otherwise.
 */
export function guardAfterClick(events: readonly GuardEvent[], seen: SpaAnswer | null, budget: RequestBudget, nowMs: number): (SpaOutcome & { notSent?: boolean }) | null {
  const redirect = events.find((e) => e.kind === 'redirect' && e.path === APPOINTMENTS_PATH);
  if (redirect) return siteChanged(`the site redirected the booking POST to another host, ${redirect.host} (not followed; nothing was posted there)`);
  const spent = events.find((e) => e.kind === 'budget');
  if (!spent || seen?.kind === 'response') return null;
  const postRefused = events.some((e) => e.kind === 'budget' && e.method === 'POST' && e.path === APPOINTMENTS_PATH);
  return { ...budgetSpent(spent, budget, nowMs), notSent: postRefused || seen?.kind === 'alert' };
}
