import { z } from 'zod';
import type { SiteAppointment, SiteLookup } from '../session-port.js';

/**
 * What a member can ask an Acuity client page after a crash (docs/architecture.md "Reconciliation"), with
 * plain `fetch` from Node, GET only: an appointment by its 32-hex hash, and the times still offered on one
 * court and day. There is no look-up by e-mail on the real page. The caller's `signal` carries the timeout.
 * Error messages name the route and the status, never a query value of the client (no e-mail or phone is
 * ever in a query here) nor a field of an answer.
 */

/** Where and which appointments to look up. */
export interface HashLookupArgs {
  /** Site origin, no trailing slash (e.g. `https://example.as.me`). */
  baseUrl: string;
  /** The business's 8-hex owner key. */
  ownerKey: string;
  /** 32-hex appointment hashes. */
  hashes: readonly string[];
}

/** Which court-day to read and which time to look for. */
export interface OfferedArgs {
  baseUrl: string;
  ownerKey: string;
  appointmentTypeId: number;
  calendarId: number;
  /** Venue-local `YYYY-MM-DD`. */
  date: string;
  /** Venue-local `HH:MM`. */
  time: string;
  /** The venue's IANA zone: the days and times are asked in it. */
  timeZone: string;
}

/** A venue as the site look-up needs it ({@link createAcuitySiteLookup}). */
export interface AcuitySiteVenue {
  baseUrl: string;
  ownerKey: string;
  timeZone: string;
  /** Court number → its appointment type and calendar on the site. */
  courts: Record<number, { appointmentTypeId: number; calendarId: number }>;
}

/** An appointment of {@link lookupAppointmentsByHash}: the site's fields reconciliation reads. */
export type AcuityHashAppointment = Omit<SiteAppointment, 'court'>;

const APPOINTMENTS_PATH = '/api/scheduling/v1/appointments';
const TIMES_PATH = '/api/scheduling/v1/availability/times';
const HASH_RE = /^[0-9a-f]{32}$/;
/** An offered time: `YYYY-MM-DDTHH:MM[:SS[.fff]]` and an offset `Z`, `±HH:MM` or `±HHMM`. */
const OFFERED_TIME_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

const appointmentSchema = z.object({
  id: z.number().int(),
  hash: z.string(),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  time: z.string().regex(/^\d{2}:\d{2}$/),
  appointmentTypeID: z.coerce.number().int(),
  calendarID: z.coerce.number().int(),
  firstName: z.string(),
  lastName: z.string(),
  email: z.string(),
  canceled: z.boolean(),
});
const appointmentsAnswerSchema = z.object({ appointments: z.array(appointmentSchema) });
const timesAnswerSchema = z.record(z.string(), z.array(z.object({ time: z.string(), slotsAvailable: z.number().optional() })));

/** Where a zod error is, without any value of the answer (it may hold a client's e-mail). */
function shapeProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  return `${issue?.code ?? 'invalid'} at ${path}${error.issues.length > 1 ? ` and ${error.issues.length - 1} more` : ''}`;
}

/**
 * GETs `baseUrl + path` with `query` and returns its JSON body.
 *
 * @throws Error naming `GET <path>` with the status (and the site's `error` code) for a non-2xx answer, or
 *   saying the body is not JSON; fetch's own errors (refused connection, `signal` aborted) pass through.
 */
async function getJson(baseUrl: string, path: string, query: URLSearchParams, signal: AbortSignal | undefined): Promise<unknown> {
  const response = await fetch(`${baseUrl}${path}?${query.toString()}`, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const code = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string' ? ` (${(body as { error: string }).error})` : '';
    throw new Error(`GET ${baseUrl}${path} answered HTTP ${response.status}${code}`);
  }
  if (body === undefined) throw new Error(`GET ${baseUrl}${path} did not return JSON`);
  return body;
}

/**
 * The appointments of `ownerKey` with these hashes (`GET …/appointments?owner=&appointmentIds[]=`), cancelled
 * ones included; a hash the site does not know is absent. No hashes → `[]` without a request.
 *
 * @throws Error for a hash that is not 32 hex, an unreachable site, an error status, an answer of an
 *   unexpected shape (the message names where, never a value), or an aborted `signal`.
 */
export async function lookupAppointmentsByHash(args: HashLookupArgs, signal?: AbortSignal): Promise<AcuityHashAppointment[]> {
  if (args.hashes.length === 0) return [];
  const bad = args.hashes.find((h) => !HASH_RE.test(h));
  if (bad !== undefined) throw new Error(`appointment hash "${bad}" is not 32 hex digits`);
  const query = new URLSearchParams({ owner: args.ownerKey });
  for (const hash of args.hashes) query.append('appointmentIds[]', hash);
  const body = await getJson(args.baseUrl, APPOINTMENTS_PATH, query, signal);
  const parsed = appointmentsAnswerSchema.safeParse(body);
  if (!parsed.success) throw new Error(`GET ${args.baseUrl}${APPOINTMENTS_PATH} answered an unexpected shape: ${shapeProblem(parsed.error)}`);
  return parsed.data.appointments;
}

/**
 * Whether `date` `time` is among the times the site still offers on one court (`GET
 * …/availability/times?owner&appointmentTypeId&calendarId&startDate&maxDays=1&timezone`). Each offered
 * `time` is compared by its local date and `HH:MM` (offsets `-06:00` and `-0600` alike); a time with
 * `slotsAvailable: 0` is not offered.
 *
 * @throws Error for an unreachable site, an error status (a past `date` included), an answer of an
 *   unexpected shape or an offered time it cannot read, or an aborted `signal`.
 */
export async function isTimeOffered(args: OfferedArgs, signal?: AbortSignal): Promise<boolean> {
  const query = new URLSearchParams({
    owner: args.ownerKey,
    appointmentTypeId: String(args.appointmentTypeId),
    calendarId: String(args.calendarId),
    startDate: args.date,
    maxDays: '1',
    timezone: args.timeZone,
  });
  const body = await getJson(args.baseUrl, TIMES_PATH, query, signal);
  const parsed = timesAnswerSchema.safeParse(body);
  if (!parsed.success) throw new Error(`GET ${args.baseUrl}${TIMES_PATH} answered an unexpected shape: ${shapeProblem(parsed.error)}`);
  for (const offered of Object.values(parsed.data).flat()) {
    const match = OFFERED_TIME_RE.exec(offered.time);
    if (!match) throw new Error(`GET ${args.baseUrl}${TIMES_PATH} answered a time it cannot read: "${offered.time}"`);
    if (match[1] === args.date && match[2] === args.time && (offered.slotsAvailable ?? 1) > 0) return true;
  }
  return false;
}

/**
 * The {@link SiteLookup} of Acuity venues: `resolveVenue(venueId)` (the composition root's map from a
 * reservation's `venue` to its site) gives the URL, owner key, zone and each court's type and calendar.
 * `byHash` also names the venue court each appointment belongs to (type AND calendar), or null.
 *
 * @throws (from its methods) Error naming the venue or court when `resolveVenue` does not know it, plus
 *   what {@link lookupAppointmentsByHash} and {@link isTimeOffered} throw.
 */
export function createAcuitySiteLookup(resolveVenue: (venueId: string) => AcuitySiteVenue | undefined): SiteLookup {
  const venueOf = (venueId: string): AcuitySiteVenue => {
    const venue = resolveVenue(venueId);
    if (!venue) throw new Error(`venue "${venueId}" has no Acuity site to look up`);
    return venue;
  };
  return {
    async byHash(venueId, hashes, signal) {
      const venue = venueOf(venueId);
      const found = await lookupAppointmentsByHash({ baseUrl: venue.baseUrl, ownerKey: venue.ownerKey, hashes }, signal);
      const courtOf = (a: AcuityHashAppointment): number | null => {
        const hit = Object.entries(venue.courts).find(([, c]) => c.appointmentTypeId === a.appointmentTypeID && c.calendarId === a.calendarID);
        return hit ? Number(hit[0]) : null;
      };
      return found.map((a) => ({ ...a, court: courtOf(a) }));
    },
    async offered(venueId, court, date, time, signal) {
      const venue = venueOf(venueId);
      const ids = venue.courts[court];
      if (!ids) throw new Error(`venue "${venueId}" has no court ${court} on its Acuity site`);
      return isTimeOffered({ baseUrl: venue.baseUrl, ownerKey: venue.ownerKey, ...ids, date, time, timeZone: venue.timeZone }, signal);
    },
  };
}
