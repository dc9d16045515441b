/**
 * The target of the Acuity single-page-app flow and the pure helpers around it: the direct-slot URL, the
 * day-label texts a date is shown under, and the check of a booked answer against what was asked for.
 */

/** One court-slot on an Acuity scheduler, as the SPA flow needs it (a later piece maps the config onto it). */
export interface AcuitySpaTarget {
  /** Site origin, e.g. `https://club.as.me` (no trailing slash needed). */
  baseUrl: string;
  /** The business's 8-hex owner key (`OWNER_KEY`). */
  ownerKey: string;
  /** Court number (for messages and the answer check's report). */
  court: number;
  /** The court's appointment type id. */
  appointmentTypeId: number;
  /** The court's calendar id. */
  calendarId: number;
  /** Venue-local `YYYY-MM-DD`. */
  date: string;
  /** Venue-local `HH:MM`. */
  time: string;
  /** The venue's UTC offset at that slot, `±HH:MM` (e.g. `-06:00`). */
  utcOffset: string;
  /** Other hosts the page may GET from (config `site.allowedHosts`; default reCAPTCHA's two hosts). */
  allowedHosts?: readonly string[];
  /** Other hosts the page may also POST to without the user's data in URL or body (config `site.allowedPostHosts`; default none). */
  allowedPostHosts?: readonly string[];
  /** The venue's request budget (config `site.requestBudget`; default 300 per 60 s). */
  requestBudget?: { requests: number; perS: number };
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d$/;
const OFFSET_RE = /^[+-]\d{2}:\d{2}$/;

/** @throws Error naming the first field of `target` that is malformed. */
export function checkAcuitySpaTarget(target: AcuitySpaTarget): void {
  if (!/^https?:\/\//.test(target.baseUrl)) throw new Error(`baseUrl ${target.baseUrl} is not an http(s) URL`);
  if (!/^[0-9a-f]{8}$/i.test(target.ownerKey)) throw new Error(`ownerKey ${target.ownerKey} is not 8 hex characters`);
  if (!Number.isInteger(target.appointmentTypeId) || !Number.isInteger(target.calendarId)) {
    throw new Error('appointmentTypeId and calendarId must be integers');
  }
  if (!DATE_RE.test(target.date)) throw new Error(`date ${target.date} is not YYYY-MM-DD`);
  if (!TIME_RE.test(target.time)) throw new Error(`time ${target.time} is not HH:MM`);
  if (!OFFSET_RE.test(target.utcOffset)) throw new Error(`utcOffset ${target.utcOffset} is not ±HH:MM`);
}

/** The court's calendar ("Fecha y hora"): `<base>/schedule/<ownerKey>/appointment/<typeId>/calendar/<calendarId>?appointmentTypeIds[]=<typeId>`. */
export function acuitySpaCalendarUrl(target: AcuitySpaTarget): string {
  const base = target.baseUrl.replace(/\/+$/, '');
  return `${base}/schedule/${target.ownerKey}/appointment/${target.appointmentTypeId}/calendar/${target.calendarId}` +
    `?appointmentTypeIds[]=${target.appointmentTypeId}`;
}

/**
 * The court's direct-slot URL with raw colons, as the real site accepts it:
 * `<base>/schedule/<ownerKey>/appointment/<typeId>/calendar/<calendarId>/datetime/<YYYY-MM-DDTHH:MM:SS±HH:MM>?appointmentTypeIds[]=<typeId>`.
 */
export function acuitySpaSlotUrl(target: AcuitySpaTarget): string {
  const base = target.baseUrl.replace(/\/+$/, '');
  const datetime = `${target.date}T${target.time}:00${target.utcOffset}`;
  return `${base}/schedule/${target.ownerKey}/appointment/${target.appointmentTypeId}/calendar/${target.calendarId}` +
    `/datetime/${datetime}?appointmentTypeIds[]=${target.appointmentTypeId}`;
}

/**
 * The short texts a day label may show for `date` in the Spanish and English pages (both "jul 23" for
 * 2027-07-23), lower-case, without the abbreviation's dot. Node's ICU and Chromium's agree on them.
 */
export function dayLabelTexts(date: string): string[] {
  const noon = Date.parse(`${date}T12:00:00Z`);
  const day = Number(date.slice(8, 10));
  const months = ['es', 'en'].map((locale) =>
    new Intl.DateTimeFormat(locale, { month: 'short', timeZone: 'UTC' }).format(noon).replace('.', '').toLowerCase());
  return [...new Set(months)].map((month) => `${month} ${day}`);
}

/** Index of the label (in page order) that names `date`, or -1; labels are matched as whole words. */
export function dayColumnOf(labels: readonly string[], date: string): number {
  const wanted = dayLabelTexts(date);
  return labels.findIndex((label) => {
    const words = ` ${label.toLowerCase().replace(/[.,]/g, ' ').replace(/\s+/g, ' ').trim()} `;
    return wanted.some((text) => words.includes(` ${text} `));
  });
}

/** The fields of a booked answer the flow checks (official API names). */
export interface AcuityBookedAnswer {
  hash?: unknown;
  date?: unknown;
  time?: unknown;
  appointmentTypeID?: unknown;
  calendarID?: unknown;
}

/** Who a booking is for, as the site's answer and look-up name it. */
export interface AcuityBookedClient {
  firstName?: unknown;
  lastName?: unknown;
  email?: unknown;
}

const sameText = (a: unknown, b: string): boolean =>
  typeof a === 'string' && a.normalize('NFC').trim().toLowerCase() === b.normalize('NFC').trim().toLowerCase();

/**
 * Why a booking the site names is not for `client` (e-mail, first and last name, compared trimmed and
 * case-insensitively), or null when it is. Only fields both sides have are compared. No value is quoted: the
 * reason may reach a log.
 */
export function clientMismatch(booked: AcuityBookedClient, client: { firstName?: string; lastName?: string; email?: string }): string | null {
  const differs = (['email', 'firstName', 'lastName'] as const).filter((k) => booked[k] !== undefined && client[k] !== undefined && !sameText(booked[k], client[k]!));
  return differs.length === 0 ? null : `the site's booking is for another client (${differs.join(', ')} ${differs.length === 1 ? 'differs' : 'differ'})`;
}

/** Why a booked answer does not match the target (date, time, court), or null when it does. */
export function bookedMismatch(answer: AcuityBookedAnswer, target: AcuitySpaTarget): string | null {
  const got = `${String(answer.date)} ${String(answer.time)} type ${String(answer.appointmentTypeID)} calendar ${String(answer.calendarID)}`;
  const want = `${target.date} ${target.time} type ${target.appointmentTypeId} calendar ${target.calendarId}`;
  const same = answer.date === target.date && answer.time === target.time &&
    Number(answer.appointmentTypeID) === target.appointmentTypeId && Number(answer.calendarID) === target.calendarId;
  return same ? null : `the site confirmed ${got}, not the requested ${want} (court ${target.court})`;
}
