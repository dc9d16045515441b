import type { Clock } from '../clock.js';
import type { SiteClockSample } from './site-clock-bounds.js';

/**
 * One timed request to a booking site, read for its HTTP `Date` header (RFC 7231 §7.1.1.2), for the
 * site-clock estimate (docs/timing.md, "The site's clock").
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
// RFC 7231 §7.1.1.1: recipients accept IMF-fixdate and the two obsolete forms; all are UTC.
const IMF_FIXDATE = new RegExp(`^[A-Za-z]{3}, (\\d{2}) (${MONTH}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const RFC_850 = new RegExp(`^[A-Za-z]+, (\\d{2})-(${MONTH})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const ASCTIME = new RegExp(`^[A-Za-z]{3} (${MONTH}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

/** Day, month (0–11), year, hour, minute, second of an HTTP-date, or `undefined` for another form. */
function httpDateParts(text: string): number[] | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m) return [m[1], m[2], m[3], m[4], m[5], m[6]].map((p, i) => (i === 1 ? MONTHS.indexOf(p!) : Number(p)));
  m = RFC_850.exec(text);
  if (m) {
    const yy = Number(m[3]);
    return [Number(m[1]), MONTHS.indexOf(m[2]!), yy < 70 ? 2000 + yy : 1900 + yy, Number(m[4]), Number(m[5]), Number(m[6])];
  }
  m = ASCTIME.exec(text);
  if (m) return [Number(m[2]!.trim()), MONTHS.indexOf(m[1]!), Number(m[6]), Number(m[3]), Number(m[4]), Number(m[5])];
  return undefined;
}

/**
 * An HTTP-date as whole epoch seconds (UTC), or `undefined` when `value` is none of the three RFC 7231
 * forms or names no real date. A two-digit RFC 850 year means 20yy below 70, else 19yy.
 */
export function parseHttpDate(value: string): number | undefined {
  const parts = httpDateParts(value.trim());
  if (!parts) return undefined;
  const [day, month, year, h, m, s] = parts as [number, number, number, number, number, number];
  const epochMs = Date.UTC(year, month, day, h, m, s);
  const back = new Date(epochMs);
  // Date.UTC rolls "31 Feb" over into March; a real date survives the round trip.
  const real = back.getUTCDate() === day && back.getUTCMonth() === month && h < 24 && m < 60 && s < 60;
  return real ? Math.floor(epochMs / 1000) : undefined;
}

/** What {@link probeSiteClock} needs. */
export interface ProbeOptions {
  url: string;
  clock: Clock;
  fetchImpl: typeof fetch;
  /** Give up on this request after this long on `clock`, ms. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Sends one `HEAD` request (no cache, no redirect following; any status counts: every HTTP response
 * carries a `Date`) and times it on `clock`.
 *
 * @returns the sample, or `undefined` when no answer came within `timeoutMs`.
 * @throws Error naming the URL on a network failure, a missing `Date` header or an unparseable one;
 *   `signal.reason` when `signal` aborts.
 */
export async function probeSiteClock(options: ProbeOptions): Promise<SiteClockSample | undefined> {
  const { url, clock, signal } = options;
  signal?.throwIfAborted();
  const timeout = new AbortController();
  const settled = new AbortController();
  const sleepSignal = signal ? AbortSignal.any([settled.signal, signal]) : settled.signal;
  // The timer goes through the injected clock (only src/clock.ts sets timers).
  void clock.sleep(options.timeoutMs, sleepSignal).then(() => {
    if (!sleepSignal.aborted) timeout.abort();
  });
  const fetchSignal = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  let response: Response;
  const sentAtMs = clock.now();
  try {
    response = await options.fetchImpl(url, { method: 'HEAD', cache: 'no-store', redirect: 'manual', signal: fetchSignal });
  } catch (err) {
    signal?.throwIfAborted();
    if (timeout.signal.aborted) return undefined;
    throw new Error(`site clock: request to ${url} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    settled.abort();
  }
  const receivedAtMs = clock.now();
  await response.body?.cancel().catch(() => undefined);
  const header = response.headers.get('date');
  if (header === null) throw new Error(`site clock: response from ${url} (HTTP ${response.status}) has no Date header`);
  const siteSecond = parseHttpDate(header);
  if (siteSecond === undefined) throw new Error(`site clock: response from ${url} has an unparseable Date header "${header}"`);
  return { sentAtMs, receivedAtMs, siteSecond };
}
