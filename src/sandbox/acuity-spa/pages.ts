import type { SpaSwitches } from './switches.js';
import type { SpaVenue } from './venues.js';

/**
 * The few things the look-alike serves as files: the page shell (the same for every scheduler route, as on
 * the real page: globals, a captcha script, an empty app container, the app script; no form, no token),
 * the "not active" page and the local fake reCAPTCHA script. The app itself is `app-script.ts`.
 */

/** The alert the app shows under the submit button when the captcha flags a submit, by language. */
export const IRREGULAR_USAGE_TEXT: Record<SpaSwitches['language'], string> = {
  es: 'Se detectó un uso irregular del sitio. Comunícate con el negocio para hacer una reserva.',
  en: 'Irregular use of the site was detected. Contact the business to make a booking.',
};

/** The site key the shell publishes and the fake captcha accepts (not a Google key). */
export const SPA_RECAPTCHA_SITE_KEY = '6LsandboxSpaLookAlikeKey0000000000000000';

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** JSON safe inside a `<script>` element. */
export const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** The `BUSINESS` global of a venue, in the shape of the real page's (the fields the app and a flow read). */
export function businessGlobal(venue: SpaVenue, language: SpaSwitches['language']): Record<string, unknown> {
  const durationMin = venue.grid.slotLengthS / 60;
  return {
    id: venue.businessId,
    ownerKey: venue.ownerKey,
    name: venue.name,
    description: language === 'es'
      ? '<p>Una reserva por persona por día. No se permiten reservas traslapadas; las reservas que incumplan estas reglas se eliminan.</p>'
      : '<p>One booking per person per day. No overlapping bookings; bookings that break these rules are deleted.</p>',
    timezone: venue.timeZone,
    timeFormat: '24h',
    language,
    country: venue.country,
    defaultToClientTimezone: false,
    clientCanEditTimezone: true,
    isRequiredClientPhoneForAppointment: true,
    calendars: venue.courts.map((c) => ({ id: c.calendarId, name: c.name, timezone: venue.timeZone })),
    appointmentTypes: venue.courts.map((c) => ({
      id: c.appointmentTypeId,
      name: c.name,
      duration: durationMin,
      price: '0.00',
      category: '',
      calendarIDs: [c.calendarId],
    })),
  };
}

/** The HTML shell every `/schedule/<ownerKey>/…` route answers. */
export function shellPage(venue: SpaVenue, language: SpaSwitches['language']): string {
  return `<!DOCTYPE html>
<html lang="${language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(venue.name)}</title>
<script>
window.OWNER_KEY = ${scriptJson(venue.ownerKey)};
window.BUSINESS = ${scriptJson(businessGlobal(venue, language))};
window.RECAPTCHA_SITE_KEY = ${scriptJson(SPA_RECAPTCHA_SITE_KEY)};
</script>
<script src="/recaptcha/enterprise.js?render=${encodeURIComponent(SPA_RECAPTCHA_SITE_KEY)}"></script>
</head>
<body>
<div id="secondo-container"></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}

/** The page of an unknown owner key. */
export function notActivePage(): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>This page is not active</title></head>
<body><h1>This page is not active</h1><p>This page is not active. Please contact the business for more information.</p></body>
</html>
`;
}

/**
 * The local stand-in for Google's `recaptcha/enterprise.js`: defines `grecaptcha.enterprise.ready(cb)` and
 * `grecaptcha.enterprise.execute(siteKey, { action })`, which mints a token at call time by asking the
 * sandbox (`POST /__recaptcha/token`). Never talks to Google.
 */
export function recaptchaScript(): string {
  return `(function () {
  'use strict';
  function execute(siteKey, options) {
    var action = options && options.action ? String(options.action) : '';
    return fetch('/__recaptcha/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ siteKey: String(siteKey), action: action })
    }).then(function (res) {
      if (!res.ok) throw new Error('recaptcha: token request failed (' + res.status + ')');
      return res.json();
    }).then(function (body) { return body.token; });
  }
  function ready(callback) { Promise.resolve().then(callback); }
  window.grecaptcha = window.grecaptcha || {};
  window.grecaptcha.enterprise = { ready: ready, execute: execute };
})();
`;
}
