import { z } from 'zod';
import { findReleaseCronProblem } from './release-cron.js';
import { secretSchema, type ResolvedSecrets } from './secrets.js';

/**
 * The configuration file's schema (zod is its single source of truth; types are inferred from it).
 *
 * Every duration ends in `Ms` (milliseconds) or `S` (seconds). Instants never appear in config; wall-clock
 * values are venue-local `HH:MM` text.
 */

/** Strict 24 h `HH:MM` (zod's `z.iso.time()` would accept seconds). */
const hhmmSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be 24 h "HH:MM" text, e.g. "07:00"');

/** True when `timeZone` is an IANA zone this Node.js knows (croner would only fail at its first `nextRun()`). */
function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone name such as `America/Guatemala`. */
const timeZoneSchema = z.string().superRefine((zone, ctx) => {
  if (!isKnownTimeZone(zone)) {
    ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone such as "America/New_York"' });
    return;
  }
  // Intl accepts any letter case ("america/guatemala"); ask for the real spelling. Links such as
  // Asia/Kolkata (which Node's ICU reports as Asia/Calcutta) stay valid.
  const resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  if (resolved !== zone && resolved.toLowerCase() === zone.toLowerCase()) {
    ctx.addIssue({ code: 'custom', message: `must be spelled exactly as the IANA name "${resolved}" (letter case matters)` });
  }
});

/**
 * A cron schedule for releases: 5 or 6 fields (optional seconds first), read in the venue's zone by croner,
 * with fixed seconds/minute/hour fields (interval patterns such as `*\/30` are refused: across DST changes they
 * skip or repeat runs; docs/release-rules.md).
 */
const releaseCronSchema = z.string().superRefine((pattern, ctx) => {
  const problem = findReleaseCronProblem(pattern);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * When a slot opens for booking (docs/release-rules.md; policy across DST in `src/scheduling/release-time.ts`):
 * - `{ hoursBefore: N }`: N elapsed hours before the slot's start instant (the origin site uses 48);
 * - `{ daysBefore: N, at: "HH:MM" }`: that wall-clock time in the venue's zone, N calendar days before the slot date;
 * - `{ cron: "0 7 * * *", horizonDays: N }`: at each run of `cron` (venue's zone) the slots up to N venue-local
 *   calendar days ahead open; a slot's release is the first run whose local date is on or after the slot date
 *   minus N days. `horizonDays` is an integer 0..366.
 */
const releaseRuleSchema = z.union([
  z.strictObject({ hoursBefore: z.number().int().min(0).max(24 * 366).describe('Shape 1: the slot opens this many elapsed hours before its start (0 to 8784; the origin site uses 48).') }),
  z.strictObject({
    daysBefore: z.number().int().min(0).max(366).describe('Shape 2: the slot opens this many calendar days before its date (0 to 366), at `at`.'),
    at: hhmmSchema.describe('Shape 2: the venue-local "HH:MM" at which it opens.'),
  }),
  z.strictObject({
    cron: releaseCronSchema.describe('Shape 3: a cron schedule (5 or 6 fields, fixed seconds/minute/hour) read in the venue\'s zone; at each run the next horizonDays days open.'),
    horizonDays: z.number().int().min(0).max(366).describe('Shape 3: how many venue-local calendar days ahead a cron run opens (0 to 366).'),
  }),
  // The union's message is the list of its shapes: the loader's formatter (issues.ts) quotes it after
  // "required:", "choose one:" or "expected".
], { error: 'one of { "hoursBefore": N }, { "daysBefore": N, "at": "HH:MM" } or { "cron": "0 7 * * *", "horizonDays": N }' });
export type ReleaseRule = z.infer<typeof releaseRuleSchema>;

/**
 * Hosts other than the venue's that the real Acuity page needs (docs/acuity-site.md "What reservd lets the
 * page send"): reCAPTCHA Enterprise's script (`www.google.com/recaptcha/enterprise.js`) and its static files
 * (`www.gstatic.com`). GET/HEAD only, and only without the user's data in the URL.
 */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['www.google.com', 'www.gstatic.com'];

/**
 * Default per-venue request budget: 300 requests to the venue's host in any 60 s, i.e. half the site's
 * published 10 req/s sustained over a minute (docs/acuity-site.md "Request budget").
 */
export const DEFAULT_REQUEST_BUDGET = { requests: 300, perS: 60 } as const;

/** A host name, optionally with `:port`, lower-case (`www.google.com`, `127.0.0.1:8081`). */
const hostSchema = z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$/, 'must be a lower-case host name such as "www.google.com" (optionally with ":port"), without scheme or path');

/**
 * The booking site of a venue: an Acuity Scheduling client page (docs/acuity-site.md). Its business is
 * addressed by the 8-hex owner key of `<baseUrl>/schedule/<ownerKey>/…` (the page's `OWNER_KEY` global).
 */
const siteSchema = z.strictObject({
  /** Which flow books this site. */
  adapter: z.literal('acuity').default('acuity').describe('Which flow books this site; only "acuity" (an Acuity Scheduling client page).'),
  /** Site origin, e.g. `https://example.as.me` or the sandbox's `http://127.0.0.1:8080`. No trailing slash. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as "https://example.as.me"' }).transform((u) => u.replace(/\/+$/, '')).describe('Site origin, e.g. "https://example.as.me" or the sandbox\'s "http://127.0.0.1:8080"; a trailing slash is dropped.'),
  /** The business's owner key: 8 hex characters, as in `/schedule/<ownerKey>/…` and the page's `OWNER_KEY`. */
  ownerKey: z.string().regex(/^[0-9a-f]{8}$/, 'must be the 8 lower-case hex characters of the scheduler URL, e.g. "a3f09c1e"').describe('The business\'s 8 lower-case hex owner key, as in "/schedule/<ownerKey>/..." and the page\'s OWNER_KEY.'),
  /**
   * The business's numeric id (the `owner=` of its `schedule.php` change/cancel links), when known. Optional:
   * only the sandbox needs it to serve such links.
   */
  businessId: z.number().int().positive().optional().describe('The business\'s numeric id (the owner= of its schedule.php links); only the sandbox needs it.'),
  /**
   * Other hosts the page may load from (GET/HEAD only, never with the user's e-mail, phone or names in the
   * URL); every other request off the venue's origin is aborted, counted and logged once (the host only).
   * Default {@link DEFAULT_ALLOWED_HOSTS}.
   */
  allowedHosts: z.array(hostSchema).max(50).default([...DEFAULT_ALLOWED_HOSTS]).describe('Other hosts the page may load from (GET/HEAD only, never with the user\'s data in the URL); other off-origin requests are aborted. Default reCAPTCHA\'s hosts.'),
  /**
   * Other hosts the page may also POST to, when neither the URL nor the body carries the user's e-mail, phone
   * or names. Default `["www.google.com"]`: reCAPTCHA Enterprise mints its token at submit from its frame on
   * that host (believed to be a POST, not captured yet; docs/acuity-site.md). Blocking it would fail every real
   * booking, and such a POST carries none of the user's data, which is what the guard protects. `[]` blocks it.
   */
  allowedPostHosts: z.array(hostSchema).max(50).default(['www.google.com']).describe('Other hosts the page may also POST to when neither URL nor body carries the user\'s data; default ["www.google.com"] (reCAPTCHA Enterprise at submit); [] blocks it.'),
  /**
   * Most requests the pages of this venue send to its host (`baseUrl`) in any `perS` seconds, shared by every
   * reservation of the venue in one daemon; a request over it is not sent and the attempt ends `rate_limited`.
   * Default {@link DEFAULT_REQUEST_BUDGET} (300 per 60 s).
   */
  requestBudget: z.strictObject({
    requests: z.number().int().min(1).max(100_000).describe('Most requests to the venue\'s host in any perS seconds (1 to 100000).'),
    perS: z.number().int().min(1).max(3600).describe('The window of requests, s (1 to 3600).'),
  }).default({ ...DEFAULT_REQUEST_BUDGET }).describe('Request budget to the venue\'s host shared by every reservation of the venue in one daemon; over it an attempt ends rate_limited. Default 300 per 60 s.'),
});

/** Positive integer id of the site (appointment type, calendar). */
const siteIdSchema = z.number().int().positive();

/**
 * One court on the site: on an Acuity club page every court is its own appointment type AND its own calendar
 * (docs/acuity-site.md), both numeric ids from the scheduler's URLs.
 */
const courtSchema = z.strictObject({
  appointmentTypeId: siteIdSchema.describe('The court\'s appointment type id on the site (a positive integer).'),
  calendarId: siteIdSchema.describe('The court\'s calendar id on the site (a positive integer).'),
  /** Display name of the court on the site (the sandbox shows it; default "Court N"). */
  name: z.string().min(1).optional().describe('Display name of the court on the site (the sandbox shows it); default "Court N".'),
});
export type CourtConfig = z.infer<typeof courtSchema>;

/** One venue: a booking site account/location, with its zone, release rule, courts and site adapter. */
const venueSchema = z.strictObject({
  /** Human name, used in messages and on the sandbox's pages. */
  name: z.string().min(1).describe('Human name of the venue, used in messages and on the sandbox\'s pages.'),
  /** IANA zone of the venue; every slot date/time is wall-clock in this zone. */
  timeZone: timeZoneSchema.describe('IANA zone of the venue (e.g. "America/Guatemala"), spelled exactly; every slot date/time is wall-clock in it.'),
  releaseRule: releaseRuleSchema.describe('When a slot opens (docs/release-rules.md): { "hoursBefore": N }, { "daysBefore": N, "at": "HH:MM" } or { "cron": "0 7 * * *", "horizonDays": N }.'),
  site: siteSchema.describe('The venue\'s booking site.'),
  /** Court number → the court's appointment type and calendar on the site. At least one court. */
  courts: z
    .record(z.string().regex(/^[1-9]\d*$/, 'court numbers are positive integers'), courtSchema.describe('One court: its appointment type and calendar on the site.'))
    .refine((m) => Object.keys(m).length > 0, { message: 'a venue needs at least one court' })
    .refine((m) => new Set(Object.values(m).map((c) => c.appointmentTypeId)).size === Object.keys(m).length, { message: 'two courts share an appointmentTypeId' })
    .refine((m) => new Set(Object.values(m).map((c) => c.calendarId)).size === Object.keys(m).length, { message: 'two courts share a calendarId' })
    .describe('Court number (a positive integer as text) → the court\'s appointment type and calendar; at least one court.'),
  /** Slot length in seconds (default one hour). */
  slotLengthS: z.number().int().min(300).max(4 * 3600).default(3600).describe('Slot length, s (300 to 14400); default 3600 (one hour).'),
  /** First slot start of a day, venue-local `HH:MM`. */
  firstSlotTime: hhmmSchema.default('07:00').describe('First slot start of a day, venue-local "HH:MM"; default "07:00".'),
  /** Last slot start of a day, venue-local `HH:MM`. */
  lastSlotTime: hhmmSchema.default('21:00').describe('Last slot start of a day, venue-local "HH:MM" (not before firstSlotTime); default "21:00".'),
}).refine((v) => v.firstSlotTime <= v.lastSlotTime, { message: 'firstSlotTime must not be later than lastSlotTime', path: ['lastSlotTime'] });
export type VenueConfig = z.infer<typeof venueSchema>;

/** Daemon timing and browser settings. */
const daemonSchema = z.strictObject({
  /** Longest sleep between scans for due work; new rows also wake the daemon at once (LISTEN). Default 30 s. */
  pollIntervalMs: z.number().int().min(50).max(300_000).default(30_000).describe('Longest sleep between scans for due work, ms (new rows also wake the daemon at once); default 30 s.'),
  /** How long before the release instant the reservation is claimed and a page warmed. Default 60 s. */
  prepareLeadMs: z.number().int().min(0).max(3_600_000).default(60_000).describe('How long before the release instant a reservation is claimed and a page warmed, ms; default 60 s.'),
  /** Budget for one attempt (one court) from fire to result. Default 20 s. */
  attemptTimeoutMs: z.number().int().min(1_000).max(300_000).default(20_000).describe('Budget for one attempt (one court) from fire to result, ms; default 20 s.'),
  /**
   * How long a claim lease lasts without a heartbeat (sent every leaseMs / 3). A daemon that dies is taken
   * over by another when its lease runs out; on the same host, a restarted daemon takes over at once (the
   * dead pid is checked). Default 30 s.
   */
  leaseMs: z.number().int().min(5_000).max(3_600_000).default(30_000).describe('How long a claim lease lasts without a heartbeat (sent every leaseMs / 3), ms; default 30 s.'),
  /** How long "not open yet" is retried after the fire instant. Default 10 s. */
  notOpenRetryBudgetMs: z.number().int().min(0).max(300_000).default(10_000).describe('How long "not open yet" is retried after the fire instant, ms; default 10 s.'),
  /** Pause between "not open yet" retries. Default 250 ms (one careful person, not a hammer). */
  notOpenRetryIntervalMs: z.number().int().min(100).max(10_000).default(250).describe('Pause between "not open yet" retries, ms; default 250 ms.'),
  /**
   * Most bookings this daemon runs at once; more due rows wait for the next tick or another daemon. Each
   * holds a browser page per preferred court, up to 3 (fallback courts are prepared ahead). Default 8.
   */
  maxConcurrentBookings: z.number().int().min(1).max(200).default(8).describe('Most bookings this daemon runs at once (each holds up to 3 browser pages); default 8.'),
  /**
   * How long no booking is attempted for a venue after its site flagged one of this daemon's bookings as
   * irregular usage (the 422 "uso irregular" answer), ms; at least 1 min: after a flag reservd always stops
   * (a flagged submit is reconciled and, its time still offered, re-queued: the cool-off is what ends it
   * without another submit). The flag is the site's
   * anti-abuse verdict on the account or address: the remedy is a word with the club, not another try, and
   * fast retries only make the flag worse. Stored in `site_blocks`, so a restart and every other daemon on
   * the database respect it. Default 6 h.
   */
  siteBlockedCoolOffMs: z.number().int().min(60_000).max(30 * 86_400_000).default(21_600_000).describe('How long no booking is attempted for a venue after its site flagged one as irregular usage, ms (at least 1 min); default 6 h.'),
  /** How long in-flight bookings may finish after SIGTERM before they are interrupted. Default 30 s. */
  stopGraceMs: z.number().int().min(0).max(600_000).default(30_000).describe('How long in-flight bookings may finish after SIGTERM before they are interrupted, ms; default 30 s.'),
  /** Chromium executable; null = auto-detect (Playwright's browser, /usr/bin/chromium, ...). */
  browserExecutable: z.string().min(1).nullable().default(null).describe('Chromium executable; null (default) auto-detects. RESERVD_BROWSER overrides it.'),
  /** Run the browser headless (default true). */
  headless: z.boolean().default(true).describe('Run the browser headless; default true.'),
  /**
   * How the daemon wakes and fires. `on-time` (default): sleeps to each release − prepareLeadMs, warms a
   * page, fires at the release on the site's clock. `polling-baseline`: the benchmark's job-queue baseline
   * (docs/benchmark.md): claims rows only once their release has passed, on a fixed `pollIntervalMs` poll with
   * no LISTEN wake-up and no site-clock estimate, and launches a fresh browser per page. It books, but late:
   * never use it for real reservations.
   */
  mode: z.enum(['on-time', 'polling-baseline']).default('on-time').describe('"on-time" (default) fires at the release; "polling-baseline" is the benchmark\'s late job-queue baseline (docs/benchmark.md), never for real bookings.'),
});

/**
 * Database settings; `DATABASE_URL` (env) overrides `url`. No url → embedded PostgreSQL. `url` and `password`
 * are secrets: a string, `{ "fromEnv": "NAME" }` or `{ "fromFile": "/path" }` (`secrets.ts`), resolved by
 * `parseConfig`.
 */
const databaseSchema = z.strictObject({
  /** Postgres connection string (a secret when it carries a password); null → start an embedded PostgreSQL. */
  url: secretSchema.nullable().default(null).describe('Postgres connection string (a secret when it carries a password); null (default) starts an embedded PostgreSQL. DATABASE_URL overrides it.'),
  /**
   * The password of `url`'s user, when kept apart from the URL (e.g. `{ "fromFile": "/etc/reservd/db-password" }`);
   * replaces any password in `url`. null (default): the URL's own password, if any.
   */
  password: secretSchema.nullable().default(null).describe('The password of url\'s user when kept apart from the URL (e.g. { "fromFile": "/etc/reservd/db-password" }); null (default): the URL\'s own.'),
  /** Embedded PostgreSQL data directory (relative to the working directory). */
  embeddedDataDir: z.string().min(1).default('.reservd/pgdata').describe('Embedded PostgreSQL data directory, relative to the working directory; default ".reservd/pgdata".'),
  /** Embedded PostgreSQL port on 127.0.0.1. */
  embeddedPort: z.number().int().min(1024).max(65535).default(54329).describe('Embedded PostgreSQL port on 127.0.0.1; default 54329.'),
  /** Pool size. */
  poolMax: z.number().int().min(2).max(100).default(10).describe('Connection pool size; default 10.'),
  /**
   * How long getting a pooled connection may take, ms: waiting for a free one when all `poolMax` are busy,
   * or opening a new one. Past it the statement fails with a clear error naming `poolMax` instead of hanging
   * (an exhausted pool times out). Default 10 s.
   */
  connectionTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe('How long getting a pooled connection may take, ms (then the statement fails naming poolMax); default 10 s.'),
  /**
   * How long opening the database (the daemon's start, `migrate`, `book-now`, ...) waits for a server that refuses
   * connections or is still starting, retrying with backoff, ms; 0 tries once. Once open, nothing is retried
   * for all statements alike: the writes that must survive a dropped connection or a restart retry with their
   * own budgets (claims, heartbeats, the fire path, results), and the scheduler's loop retries a failed tick.
   * Default 15 s.
   */
  retryMs: z.number().int().min(0).max(300_000).default(15_000).describe('How long opening the database waits for a server that refuses connections, retrying with backoff, ms; 0 tries once; default 15 s.'),
});

/** Sandbox site settings (`reservd sandbox`, demo, tests, benchmarks). */
const sandboxSchema = z.strictObject({
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: z.number().int().min(0).max(65535).default(8080).describe('Sandbox site port on 127.0.0.1 (0 picks a free one); default 8080.'),
  /** The site's clock minus the true clock, ms (positive: site ahead). */
  clockSkewMs: z.number().int().min(-86_400_000).max(86_400_000).default(0).describe('The sandbox site\'s clock minus the true clock, ms (positive: site ahead); default 0.'),
});

/** Host names and addresses that reach only this machine (what `http.host` may be unless `allowRemote`). */
const LOOPBACK_HOSTS = /^(127(\.\d{1,3}){3}|::1|localhost)$/;

/**
 * The observability HTTP endpoint (README "Observability"): `/healthz`, `/readyz`, `/metrics` and a status page
 * at `/`. Off by default; loopback only unless `allowRemote` says otherwise, since the page shows booking names.
 */
const httpSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve /healthz, /readyz, /metrics and the status page; default false (no server).'),
    host: z.string().min(1).default('127.0.0.1').describe('Address to bind; default 127.0.0.1. Only loopback (127.x.x.x, ::1, localhost) unless allowRemote is true.'),
    port: z.number().int().min(0).max(65535).default(9464).describe('TCP port; default 9464 (0 picks a free one).'),
    allowRemote: z.boolean().default(false).describe('Allow a non-loopback http.host (the status page shows booking names); default false.'),
  })
  .superRefine((http, ctx) => {
    if (!http.allowRemote && !LOOPBACK_HOSTS.test(http.host)) {
      ctx.addIssue({ code: 'custom', path: ['host'], message: `must be a loopback address (127.0.0.1, ::1, localhost), not "${http.host}"; set http.allowRemote: true to serve other hosts` });
    }
  });
/** Settings of the observability HTTP endpoint. */
export type HttpConfig = z.infer<typeof httpSchema>;
/**
 * Standing reservations (`src/standing/`): how far ahead the daemon turns each occurrence of a standing
 * reservation into an ordinary `pending` reservation row. An occurrence is materialised once its RELEASE
 * instant is within `lookaheadMs` and has not passed; every `tickIntervalMs` the daemon looks again.
 * `lookaheadMs` ≥ 2 h and `tickIntervalMs` ≤ 1 h, so a row always exists before its release − prepareLeadMs.
 */
const standingSchema = z.strictObject({
  /** Whether this daemon materialises standing reservations of its venues. Default true. */
  enabled: z.boolean().default(true).describe('materialise standing reservations of this daemon\'s venues (default true)'),
  /** How far ahead of an occurrence's release instant its row is created, ms. Default 7 days. */
  lookaheadMs: z.number().int().min(7_200_000).max(31 * 86_400_000).default(7 * 86_400_000)
    .describe('create an occurrence\'s reservation once its release instant is within this many ms (2 h to 31 days; default 7 days)'),
  /** Pause between two materialiser passes, ms. Default 60 s. */
  tickIntervalMs: z.number().int().min(1_000).max(3_600_000).default(60_000)
    .describe('ms between two passes of the standing-reservation materialiser (1 s to 1 h; default 60 s)'),
});

/**
 * Notifications (README "Notifications", `src/notify/`): a message per reservation that reaches a final status,
 * sent to a webhook and/or Telegram from an outbox the database fills in the status change's transaction.
 * Off by default (no sink, nothing queued).
 */
const notifySchema = z.strictObject({
  webhook: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).describe('URL the JSON message is POSTed to (http or https)'),
    secret: secretSchema.describe('HMAC-SHA256 key of the X-Reservd-Signature header: a string, { "fromEnv": "NAME" } or { "fromFile": "/path" }'),
  }).optional().describe('POST each message as JSON, signed; default none'),
  telegram: z.strictObject({
    botToken: secretSchema.describe('Telegram bot token: a string, { "fromEnv": "NAME" } or { "fromFile": "/path" }'),
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.telegram.org').describe('Bot API base URL (http or https); default https://api.telegram.org'),
  }).optional().describe('Send each message with the Bot API sendMessage to the person\'s booking_users.telegram_chat_id; default none'),
  maxAttempts: z.number().int().min(1).max(100).default(8).describe('attempts per message before it is recorded as failed (default 8)'),
  retryFirstMs: z.number().int().min(10).max(3_600_000).default(5_000).describe('ms before the first retry; doubles per failure (default 5 s)'),
  retryMaxMs: z.number().int().min(10).max(86_400_000).default(900_000).describe('cap of the retry delay, ms (default 15 min)'),
  pollIntervalMs: z.number().int().min(100).max(3_600_000).default(30_000).describe('ms between outbox polls besides NOTIFY wake-ups (default 30 s)'),
  requestTimeoutMs: z.number().int().min(100).max(120_000).default(10_000).describe('ms one delivery request may take (default 10 s)'),
});

/** The whole configuration file. */
export const configSchema = z.strictObject({
  daemon: daemonSchema.default(() => daemonSchema.parse({})).describe('Daemon timing and browser settings.'),
  database: databaseSchema.default(() => databaseSchema.parse({})).describe('Database settings; no url: an embedded PostgreSQL.'),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Least severe pino level logged; default "info". RESERVD_LOG_LEVEL overrides it.'),
  }).default({ level: 'info' }).describe('Logging (JSON lines on stdout).'),
  sandbox: sandboxSchema.default(() => sandboxSchema.parse({})).describe('Sandbox site settings (reservd sandbox, demo, tests, benchmarks).'),
  http: httpSchema.default(() => httpSchema.parse({})).describe('Observability HTTP endpoint (README "Observability"); off by default.'),
  standing: standingSchema.default(() => standingSchema.parse({})).describe('Standing reservations: how far ahead their occurrences become reservation rows.'),
  notify: notifySchema.default(() => notifySchema.parse({})).describe('Notifications to a webhook and/or Telegram (README "Notifications"); off by default.'),
  /** Venue id (slug, used in `reservations.venue`) → venue. */
  venues: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'venue ids are lower-case slugs'), venueSchema.describe('One venue: its zone, release rule, site and courts.')).describe('Venue id (a lower-case slug, stored in reservations.venue) → venue.'),
});

/** Parsed, defaulted configuration with its secrets resolved to strings (deep-frozen by `loadConfig`). */
export type Config = ResolvedSecrets<z.infer<typeof configSchema>>;
/**
 * The `database` section as `openDatabase` takes it: the parsed section has every field; the fault-handling
 * settings may be left out by callers that build one by hand (their defaults apply). `password` is not read:
 * `parseConfig` has already put it into `url`.
 */
export type DatabaseConfig = Omit<Config['database'], 'connectionTimeoutMs' | 'retryMs' | 'password'> & Partial<Pick<Config['database'], 'connectionTimeoutMs' | 'retryMs'>>;
