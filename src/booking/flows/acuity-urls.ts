import { Temporal } from 'temporal-polyfill';

/**
 * The slot's datetime as the Acuity page writes it in a direct-slot URL (docs/acuity-site.md, C10 in
 * docs/release-rules.md): venue-local date and time with seconds and the venue's UTC offset at that slot,
 * e.g. `2027-07-23T09:00:00-06:00`. Built from the SLOT, never from "now".
 */

/**
 * `YYYY-MM-DDTHH:MM:SS±HH:MM` of a venue-local slot; a repeated wall time (DST fall-back) takes its earlier
 * instant, whose offset it carries.
 *
 * @param date venue-local `YYYY-MM-DD`; @param time venue-local `HH:MM`; @param timeZone IANA zone.
 * @throws RangeError when the date or time is not real, or the time falls in a DST gap.
 */
export function directSlotSegment(date: string, time: string, timeZone: string): string {
  const local = Temporal.PlainDateTime.from(`${date}T${time}`, { overflow: 'reject' });
  const zoned = local.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
  if (!zoned.toPlainDateTime().equals(local)) {
    throw new RangeError(`${date} ${time} does not exist in ${timeZone} (the clocks skip it: daylight-saving gap)`);
  }
  return zoned.toString({ timeZoneName: 'never', smallestUnit: 'second' });
}

/**
 * The venue's UTC offset at a slot, `±HH:MM` (e.g. `-06:00`).
 *
 * @throws RangeError like {@link directSlotSegment}.
 */
export function slotUtcOffset(date: string, time: string, timeZone: string): string {
  return directSlotSegment(date, time, timeZone).slice(19);
}
