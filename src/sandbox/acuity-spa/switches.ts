/**
 * The look-alike's switches: every behaviour of the real page that is not captured yet, plus the test
 * faults. Each has a default that the tests pin; docs/acuity-site.md says why each default was chosen.
 */

/** An error answer of the scheduling API: HTTP status and the `error` code of its envelope. */
export interface SpaErrorAnswer {
  status: number;
  error: string;
}

/** Verdict of the fake reCAPTCHA on submitted tokens. */
export type CaptchaVerdict = { kind: 'pass' } | { kind: 'fail' } | { kind: 'failAfter'; passes: number };

/** Which answer a `redirect` switch turns into a redirect: the page routes, the times XHR, or the booking POST. */
export type SpaRedirectTarget = 'page' | 'times' | 'booking';

/** A hostile site's confirmation: the answer (or the look-up) names another slot or another client than the one booked. */
export type SpaMisconfirm = 'off' | 'answerOtherSlot' | 'answerOtherClient' | 'lookupOtherSlot';

/** All switches of one look-alike site. */
export interface SpaSwitches {
  /**
   * Offset in availability `time` values and in appointment `datetime`s: `colon` → `-06:00`, `compact` →
   * `-0600`. Default `colon`: the real app's own direct-slot URLs carry `-06:00` (captured), and the two
   * third-party accounts of the XHR disagree.
   */
  offsetFormat: 'colon' | 'compact';
  /** Language of the shell's `BUSINESS.language` and of the irregular-usage alert. Default `es` (the club's page). */
  language: 'es' | 'en';
  /** Verdict on captcha tokens. Default `pass`. */
  captchaVerdict: CaptchaVerdict;
  /** Delay before `/__recaptcha/token` answers (the captcha's mint time), ms on the injected clock. Default 0. */
  captchaLatencyMs: number;
  /**
   * Per-client-address limiter. Default on, 10 requests/s and 20 concurrent (the official API's published
   * limit), over `scope`: `api` (default) counts the JSON routes (`/api/…`) only, `all` also the page routes
   * and the app bundle. Default `api`: the published limit is the API's; whether the pages (served by a CDN on
   * the real site) share it is not captured.
   */
  limiter: { enabled: boolean; perSecond: number; concurrent: number; scope: 'api' | 'all' };
  /** Delay added to every public answer (after the work is done), ms. Default 0. */
  slowMs: number;
  /** Extra delay added to booking POST answers only (after the commit), ms. Default 0. */
  slowSubmitMs: number;
  /** Commit the booking, then destroy the socket instead of answering: `off`, `once` (next commit only), `always`. Default `off`. */
  loseAnswerAfterCommit: 'off' | 'once' | 'always';
  /** Added to the injected clock to make the site's clock, ms. Default 0. */
  skewMs: number;
  /**
   * A direct-slot URL for a time that is on the grid but not offered yet: the server always answers the
   * shell (as every page route does); `page` tells the app what to show there (`calendar`: the time picker
   * without that time; `form`: the details form for it). Default `calendar`, the conservative case: a flow
   * that works against it does not depend on an early form the real page may not show.
   */
  unofferedSlotPage: 'calendar' | 'form';
  /**
   * What a booking POST for an on-grid time that is not released yet answers: `time_unavailable` (the
   * `notOffered` answer) or `book` (accepted as if released). Default `time_unavailable`.
   */
  unreleasedPost: 'time_unavailable' | 'book';
  /**
   * Oversized answers (hostile site): `times` pads the availability XHR's JSON and `booking` the booking POST's
   * (after the commit) with leading whitespace up to `bytes` (still valid JSON, `content-length` set). Default
   * off, `bytes` 50 MiB: nothing the real site is known to do; the fault reservd must survive.
   */
  hugeAnswer: { times: boolean; booking: boolean; bytes: number };
  /**
   * Redirects a route group to another origin `to` (hostile site): `page` answers every scheduler page with
   * 302, `times` the availability XHR with 302, `booking` the booking POST with 307 (before any commit: the
   * body would be posted again there). Location: `to` + the request's path and query. Default null.
   */
  redirect: { target: SpaRedirectTarget; to: string } | null;
  /**
   * A page that never finishes loading (hostile site): `document` sends the shell's head and then nothing
   * (the socket stays open until the site stops or the browser leaves), `script` never answers `/app.js`.
   * Default `off`.
   */
  hang: 'off' | 'document' | 'script';
  /**
   * What the scheduler pages answer, always with status 200: `shell` (the app), `login` (a login wall),
   * `maintenance` (a maintenance page); neither of the last two is the scheduler. Default `shell`.
   */
  pageAnswer: 'shell' | 'login' | 'maintenance';
  /**
   * A booking committed as asked but confirmed as something else (hostile site): `answerOtherSlot` (the POST's
   * answer names the next slot), `answerOtherClient` (it names another client), `lookupOtherSlot` (the answer
   * is right, the look-up by hash names the previous slot). Default `off`.
   */
  misconfirm: SpaMisconfirm;
  /** Answer to a POST for a time that is not offered (off-grid, unreleased, started). Default 422 `time_unavailable`. */
  notOffered: SpaErrorAnswer;
  /** Answer to a POST for a slot someone else booked. Default 409 `double_booked`. */
  taken: SpaErrorAnswer;
  /** Answer to a POST with invalid data. Default 400 `bad_request`. */
  invalid: SpaErrorAnswer;
}

/** Fresh default switches (a new object each call). */
export function defaultSpaSwitches(): SpaSwitches {
  return {
    offsetFormat: 'colon',
    language: 'es',
    captchaVerdict: { kind: 'pass' },
    captchaLatencyMs: 0,
    limiter: { enabled: true, perSecond: 10, concurrent: 20, scope: 'api' },
    slowMs: 0,
    slowSubmitMs: 0,
    loseAnswerAfterCommit: 'off',
    skewMs: 0,
    unofferedSlotPage: 'calendar',
    unreleasedPost: 'time_unavailable',
    hugeAnswer: { times: false, booking: false, bytes: 50 * 1024 * 1024 },
    redirect: null,
    hang: 'off',
    pageAnswer: 'shell',
    misconfirm: 'off',
    notOffered: { status: 422, error: 'time_unavailable' },
    taken: { status: 409, error: 'double_booked' },
    invalid: { status: 400, error: 'bad_request' },
  };
}

/** A partial update of the switches; `limiter` may be partial too. */
export type SpaSwitchesPatch = Partial<Omit<SpaSwitches, 'limiter' | 'hugeAnswer'>> & {
  limiter?: Partial<SpaSwitches['limiter']>;
  hugeAnswer?: Partial<SpaSwitches['hugeAnswer']>;
};

const isNonNegative = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
const isAnswer = (a: unknown): a is SpaErrorAnswer =>
  typeof a === 'object' && a !== null && Number.isInteger((a as SpaErrorAnswer).status) && typeof (a as SpaErrorAnswer).error === 'string';

/**
 * Applies `patch` to `current` (returns a new object).
 *
 * @throws Error naming the first invalid field (nothing is applied then).
 */
export function applySpaSwitches(current: SpaSwitches, patch: SpaSwitchesPatch): SpaSwitches {
  const next: SpaSwitches = {
    ...current, ...patch, limiter: { ...current.limiter, ...(patch.limiter ?? {}) }, hugeAnswer: { ...current.hugeAnswer, ...(patch.hugeAnswer ?? {}) },
  } as SpaSwitches;
  const bad = (field: string): never => {
    throw new Error(`acuity-spa: invalid switch ${field}`);
  };
  if (next.offsetFormat !== 'colon' && next.offsetFormat !== 'compact') bad('offsetFormat');
  if (next.language !== 'es' && next.language !== 'en') bad('language');
  const v = next.captchaVerdict as CaptchaVerdict | undefined;
  if (!v || !(['pass', 'fail', 'failAfter'] as const).includes(v.kind) || (v.kind === 'failAfter' && !(Number.isInteger(v.passes) && v.passes >= 0))) {
    bad('captchaVerdict');
  }
  for (const f of ['captchaLatencyMs', 'slowMs', 'slowSubmitMs'] as const) if (!isNonNegative(next[f])) bad(f);
  if (typeof next.skewMs !== 'number' || !Number.isFinite(next.skewMs)) bad('skewMs');
  if (typeof next.limiter.enabled !== 'boolean' || !(next.limiter.perSecond >= 1) || !(next.limiter.concurrent >= 1) ||
    (next.limiter.scope !== 'api' && next.limiter.scope !== 'all')) bad('limiter');
  if (!['off', 'once', 'always'].includes(next.loseAnswerAfterCommit)) bad('loseAnswerAfterCommit');
  if (next.unofferedSlotPage !== 'calendar' && next.unofferedSlotPage !== 'form') bad('unofferedSlotPage');
  if (next.unreleasedPost !== 'time_unavailable' && next.unreleasedPost !== 'book') bad('unreleasedPost');
  for (const f of ['notOffered', 'taken', 'invalid'] as const) if (!isAnswer(next[f])) bad(f);
  checkHostileSwitches(next, bad);
  return next;
}

/** The hostile-site switches' checks (`bad` throws naming the field). */
function checkHostileSwitches(next: SpaSwitches, bad: (field: string) => never): void {
  const h = next.hugeAnswer;
  if (typeof h.times !== 'boolean' || typeof h.booking !== 'boolean' || !(Number.isInteger(h.bytes) && h.bytes >= 0 && h.bytes <= 512 * 1024 * 1024)) bad('hugeAnswer');
  const r = next.redirect;
  if (r !== null && !(typeof r === 'object' && ['page', 'times', 'booking'].includes(r.target) && typeof r.to === 'string' && /^https?:\/\/[^/]+$/.test(r.to))) bad('redirect');
  if (!['off', 'document', 'script'].includes(next.hang)) bad('hang');
  if (!['shell', 'login', 'maintenance'].includes(next.pageAnswer)) bad('pageAnswer');
  if (!['off', 'answerOtherSlot', 'answerOtherClient', 'lookupOtherSlot'].includes(next.misconfirm)) bad('misconfirm');
}
