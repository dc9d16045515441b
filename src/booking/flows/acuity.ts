import { ReservdError } from '../../errors.js';
import type { SlotFlow, SlotTarget } from '../flow.js';
import { createAcuitySpaFlow, type AcuitySpaFlowOptions, type AcuitySpaHandle, type AcuitySpaTarget } from './acuity-spa.js';
import { slotUtcOffset } from './acuity-urls.js';

/**
 * The Acuity Scheduling flow as the executor uses it: the venue's config mapped onto the single-page-app
 * flow (`acuity-spa.ts`, docs/acuity-site.md). It books through the page as one person does — navigate,
 * click the time, type the details, press "Confirmar cita" — and reads the outcome from the page's own
 * booking XHR. There is no HTTP fast path: the booking request and its captcha token only ever come from
 * the page's own scripts.
 */

export type { AcuitySpaHandle as AcuityHandle } from './acuity-spa.js';

/** Options of {@link createAcuityFlow}: those of the SPA flow (clock, hook and navigation budgets, the guard's logger). */
export type AcuityFlowOptions = Omit<AcuitySpaFlowOptions, 'prefillUser'>;

/**
 * The SPA target of one court-slot of a configured venue.
 *
 * @throws ReservdError (code `unknown_court`) when the venue has no such court (the scheduler rejects such a
 *   row before any booking; a flow maps any exception to an outcome); RangeError for a slot in a DST gap.
 */
export function acuityTargetOf(target: SlotTarget): AcuitySpaTarget {
  const { venue, court } = target;
  const ids = venue.courts[String(court)];
  if (ids === undefined) {
    throw new ReservdError('unknown_court', `venue "${venue.name}": court ${court} is not configured (courts: ${Object.keys(venue.courts).join(', ')})`);
  }
  return {
    baseUrl: venue.site.baseUrl,
    ownerKey: venue.site.ownerKey,
    court,
    appointmentTypeId: ids.appointmentTypeId,
    calendarId: ids.calendarId,
    date: target.targetDate,
    time: target.targetTime,
    utcOffset: slotUtcOffset(target.targetDate, target.targetTime, venue.timeZone),
    allowedHosts: venue.site.allowedHosts,
    allowedPostHosts: venue.site.allowedPostHosts,
    requestBudget: venue.site.requestBudget,
  };
}

/**
 * The Acuity {@link SlotFlow} (name `acuity`). `prepare` opens the court's direct-slot page before the
 * release and pre-fills the form with `target.user` when the page shows it that early; `submit` brings the
 * form up (clicking the time that has just appeared when needed), fills it, awaits the intent and clicks.
 * Timings (`timingsMs`, ms): `prepare_ms`, `open_ms`, `fill_ms`, `before_submit_ms`, `submit_to_result_ms`,
 * `total_ms`. Neither throws for expected outcomes.
 */
export function createAcuityFlow(options: AcuityFlowOptions = {}): SlotFlow<AcuitySpaHandle> {
  const spa = createAcuitySpaFlow(options);
  return {
    name: 'acuity',
    prepare: async (lease, target) => spa.prepare(lease, acuityTargetOf(target), target.user),
    submit: (handle, args) => spa.submit(handle, args),
  };
}
