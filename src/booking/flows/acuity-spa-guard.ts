import type { CDPSession, Page, Route } from 'playwright-core';
import type { Clock } from '../../clock.js';
import type { AcuityClient } from './acuity-common.js';
import type { RequestBudget } from './request-budget.js';

/**
 * The SPA flow's request guard: what the venue's page may send from the browser (docs/acuity-site.md "What
 * reservd lets the page send"). Requests to the venue's origin pass while the venue's request budget has room;
 * requests to an allowed host (`site.allowedHosts`) pass only as GET/HEAD whose URL carries none of the user's
 * e-mail, phone or names (and, to a host of `site.allowedPostHosts`, as POSTs without them in URL or body);
 * everything else is aborted, counted, and logged once per host (the host only).
 *
 * Playwright's `page.route` never sees the hops of a redirect (it continues them itself), so a redirect is
 * guarded twice more: the venue's non-document answers are held at the response stage over a CDP session
 * (`Fetch` domain), where a redirect to another origin is failed before the browser follows it (a 307 would
 * post the same body there); a navigation that lands on another host is seen from the `request` event and
 * reported (its request carries only the URL the site chose, no user data), and the flow ends the attempt.
 */

/** The part of a pino logger the guard uses. */
export interface GuardLogger {
  warn(obj: object, msg?: string): void;
}

/** Something the guard did or saw: a refused request, a redirect it stopped, a navigation to another host. */
export interface GuardEvent {
  kind: 'blocked' | 'budget' | 'redirect' | 'navigation';
  /** The other host (`host[:port]`), or the venue's for `budget`. */
  host: string;
  method: string;
  /** URL path of the request (never its query: it may carry the user's data). */
  path: string;
}

/** Options of {@link installRequestGuard}. */
export interface RequestGuardOptions {
  /** The venue's origin (`site.baseUrl`). */
  venueOrigin: string;
  /** Other hosts the page may GET from (`site.allowedHosts`), lower-case `host` or `host:port`. */
  allowedHosts: readonly string[];
  /** Other hosts the page may also POST to, without the user's data in URL or body (`site.allowedPostHosts`). */
  allowedPostHosts: readonly string[];
  /** The venue's budget, shared by every page of the venue in this daemon. */
  budget: RequestBudget;
  clock: Clock;
  logger?: GuardLogger;
  /** Hosts already logged by this daemon (a host is logged once). */
  loggedHosts: Set<string>;
}

/** The venue a guard guards for (a page lent again for another venue is guarded for that one). */
export type GuardVenue = Pick<RequestGuardOptions, 'venueOrigin' | 'allowedHosts' | 'allowedPostHosts' | 'budget'>;

/** A page's guard. */
export interface RequestGuard {
  /** Guards for `venue` from now on. */
  use(venue: GuardVenue): Promise<void>;
  /** The user whose data must not leave the venue's host (set before the form is filled). */
  protect(user: AcuityClient): void;
  /** A position in the event list, for {@link RequestGuard.since}. */
  mark(): number;
  /** The events since `mark`. */
  since(mark: number): GuardEvent[];
  /** Blocked requests by host (a copy), budget refusals under the venue's host. */
  counts(): Record<string, number>;
}

/** Resource types whose redirects are held at the response stage (documents are not: see the file comment); the names Chromium 156 accepts in a `Fetch` filter. */
const HELD_TYPES = ['XHR', 'Fetch', 'Script', 'Stylesheet', 'Image', 'Font', 'Media', 'Other', 'Ping', 'EventSource'];

/**
 * Whether `url` (or, with `body`, a request body read as latin1) carries any of `user`'s e-mail, phone (its
 * last 7 digits) or names (2+ characters), decoded, case-insensitively.
 */
export function carriesUserData(url: string, user: AcuityClient | null, body = false): boolean {
  if (user === null) return false;
  let text = url;
  try {
    text = decodeURIComponent(url.replace(/\+/g, ' '));
  } catch {
    // A malformed escape: look at the raw text.
  }
  // A body may be binary (read as latin1): its UTF-8 bytes of a name show as such; compare both spellings.
  if (body) text = `${text} ${Buffer.from(text, 'latin1').toString('utf8')}`;
  const lower = text.toLowerCase();
  const words = [user.email, user.firstName, user.lastName].map((w) => w.trim().toLowerCase()).filter((w) => w.length >= 2);
  if (words.some((w) => lower.includes(w))) return true;
  const phone = user.phone.replace(/\D/g, '');
  return phone.length >= 7 && text.replace(/\D/g, '').includes(phone.slice(-7));
}

/** Installs the guard on `page` (once per page: call before its first navigation). */
export async function installRequestGuard(page: Page, opts: RequestGuardOptions): Promise<RequestGuard> {
  let venue = new URL(opts.venueOrigin);
  let allowed = new Set(opts.allowedHosts.map((h) => h.toLowerCase()));
  let allowedPost = new Set(opts.allowedPostHosts.map((h) => h.toLowerCase()));
  let budget = opts.budget;
  const events: GuardEvent[] = [];
  const counts: Record<string, number> = {};
  let user: AcuityClient | null = null;
  const record = (event: GuardEvent): void => {
    events.push(event);
    counts[event.host] = (counts[event.host] ?? 0) + 1;
    if (event.kind === 'budget' || opts.loggedHosts.has(event.host)) return;
    opts.loggedHosts.add(event.host);
    opts.logger?.warn({ host: event.host, venue_host: venue.host, kind: event.kind }, 'request guard: stopped a request to another host (logged once per host)');
  };
  await page.route('**/*', (route) => onRoute(route, { venue, allowed, allowedPost, user: () => user, record, budget, clock: opts.clock }));
  await page.routeWebSocket(/.*/, (ws) => {
    const url = new URL(ws.url());
    if (url.hostname === venue.hostname && url.port === venue.port) return ws.connectToServer();
    record({ kind: 'blocked', host: url.host, method: 'WEBSOCKET', path: url.pathname });
    return ws.close();
  });
  page.on('request', (request) => {
    // `frame()` throws for a service worker's request, which is never the page's navigation.
    const isMain = ((): boolean => {
      try {
        return request.isNavigationRequest() && request.frame() === page.mainFrame();
      } catch {
        return false;
      }
    })();
    if (!isMain) return;
    const url = new URL(request.url());
    if (url.origin !== venue.origin && (url.protocol === 'http:' || url.protocol === 'https:')) {
      record({ kind: 'navigation', host: url.host, method: request.method(), path: url.pathname });
    }
  });
  const cdp = await page.context().newCDPSession(page);
  await holdRedirects(cdp, () => venue, record);
  return {
    async use(next) {
      const origin = new URL(next.venueOrigin);
      allowed = new Set(next.allowedHosts.map((h) => h.toLowerCase()));
      allowedPost = new Set(next.allowedPostHosts.map((h) => h.toLowerCase()));
      budget = next.budget;
      if (origin.origin === venue.origin) return;
      venue = origin;
      await enableHold(cdp, venue);
    },
    protect: (u) => void (user = u),
    mark: () => events.length,
    since: (mark) => events.slice(mark),
    counts: () => ({ ...counts }),
  };
}

/**
 * The route handler: venue origin within budget → continue; allowed host GET/HEAD without user data in the URL
 * → continue; allowed POST host POST without user data in URL or body → continue; else abort.
 */
async function onRoute(
  route: Route,
  g: { venue: URL; allowed: Set<string>; allowedPost: Set<string>; user: () => AcuityClient | null; record: (e: GuardEvent) => void; budget: RequestBudget; clock: Clock },
): Promise<void> {
  const request = route.request();
  const url = new URL(request.url());
  const method = request.method();
  const event = { host: url.host, method, path: url.pathname };
  if (url.origin === g.venue.origin) {
    if (g.budget.take(g.clock.now())) return route.continue().catch(() => undefined);
    g.record({ ...event, kind: 'budget' });
    return route.abort('blockedbyclient').catch(() => undefined);
  }
  const web = url.protocol === 'https:' || url.protocol === 'http:';
  const listed = (hosts: Set<string>): boolean => web && (hosts.has(url.host.toLowerCase()) || hosts.has(url.hostname.toLowerCase()));
  const clean = !carriesUserData(request.url(), g.user());
  if (listed(g.allowed) && (method === 'GET' || method === 'HEAD') && clean) return route.continue().catch(() => undefined);
  if (listed(g.allowedPost) && method === 'POST' && clean && !carriesUserData(request.postDataBuffer()?.toString('latin1') ?? '', g.user(), true)) {
    return route.continue().catch(() => undefined);
  }
  g.record({ ...event, kind: 'blocked' });
  return route.abort('blockedbyclient').catch(() => undefined);
}

/** Holds the venue's non-document answers at the response stage and fails every redirect to another origin. */
async function holdRedirects(cdp: CDPSession, venueOf: () => URL, record: (e: GuardEvent) => void): Promise<void> {
  cdp.on('Fetch.requestPaused', (e) => {
    const venue = venueOf();
    const status = e.responseStatusCode ?? 0;
    const location = (e.responseHeaders ?? []).find((h) => h.name.toLowerCase() === 'location')?.value;
    let to: URL | null = null;
    try {
      to = status >= 300 && status < 400 && location !== undefined ? new URL(location, e.request.url) : null;
    } catch {
      to = null;
    }
    if (to !== null && to.origin !== venue.origin) {
      record({ kind: 'redirect', host: to.host, method: e.request.method, path: new URL(e.request.url).pathname });
      void cdp.send('Fetch.failRequest', { requestId: e.requestId, errorReason: 'BlockedByClient' }).catch(() => undefined);
      return;
    }
    void cdp.send('Fetch.continueRequest', { requestId: e.requestId }).catch(() => undefined);
  });
  await enableHold(cdp, venueOf());
}

/** (Re-)enables the response-stage hold for `venue`'s origin. */
async function enableHold(cdp: CDPSession, venue: URL): Promise<void> {
  const urlPattern = `${venue.origin}/*`;
  await cdp.send('Fetch.enable', { patterns: HELD_TYPES.map((resourceType) => ({ urlPattern, resourceType: resourceType as 'XHR', requestStage: 'Response' as const })) });
}
