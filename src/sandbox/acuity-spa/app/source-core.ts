/**
 * Browser source of the app, part 1: texts, DOM and date helpers, the page frame (business header, rules,
 * step title in `nav#pylon-nav h2`) and the XHR helper. Plain browser JavaScript kept as a string (no build
 * step); `C` (class names) and `SPA_APP_SETTINGS` are prepended by `app-script.ts`. Written for reservd, not
 * copied from any bundle. Must never contain a template-literal placeholder or a backtick.
 */
export const SOURCE_CORE = String.raw`
const B = window.BUSINESS;
const OWNER = window.OWNER_KEY;
const TZ = B.timezone;
const LANG = B.language === 'en' ? 'en' : 'es';
const TEXTS = {
  es: {
    stepTime: 'Fecha y hora', stepForm: 'Tus datos', stepDone: 'Cita confirmada', zone: 'Zona horaria:',
    more: 'Más horas', timeAria: 'Horario disponible a las ', today: 'hoy', tomorrow: 'mañana', loading: 'Cargando…',
    noTimes: 'No hay horarios disponibles en estos días.', loadError: 'No se pudieron cargar los horarios.',
    firstName: 'Nombre', lastName: 'Apellido', phone: 'Teléfono', email: 'Correo electrónico', add: 'Añadir...',
    remove: 'Quitar ', submit: 'Confirmar cita', required: 'Este campo es obligatorio.',
    emailMissing: 'Añade tu correo electrónico.', emailInvalid: 'Introduce un correo electrónico válido.',
    confirmed: ', ¡Tu cita está confirmada!', networkError: 'No se pudo completar la reserva. Inténtalo de nuevo.',
    captchaError: 'No se pudo verificar la solicitud. Inténtalo de nuevo.', notFound: 'No se encontró la cita.',
    ics: 'Añadir a iCal / Outlook', google: 'Añadir a Google', change: 'Modificar', cancel: 'Cancelar',
    again: 'Reservar otra cita', courts: 'Elige una cancha',
  },
  en: {
    stepTime: 'Date & time', stepForm: 'Your info', stepDone: 'Appointment confirmed', zone: 'Time zone:',
    more: 'More times', timeAria: 'Available time at ', today: 'today', tomorrow: 'tomorrow', loading: 'Loading…',
    noTimes: 'No times available on these days.', loadError: 'The times could not be loaded.',
    firstName: 'First name', lastName: 'Last name', phone: 'Phone', email: 'Email', add: 'Add...',
    remove: 'Remove ', submit: 'Confirm appointment', required: 'This field is required.',
    emailMissing: 'Add your email.', emailInvalid: 'Enter a valid email.',
    confirmed: ', your appointment is confirmed!', networkError: 'The booking could not be completed. Try again.',
    captchaError: 'The request could not be verified. Try again.', notFound: 'Appointment not found.',
    ics: 'Add to iCal / Outlook', google: 'Add to Google', change: 'Change', cancel: 'Cancel',
    again: 'Book another appointment', courts: 'Choose a court',
  },
};
const T = TEXTS[LANG];
const LOCALE = LANG === 'en' ? 'en-US' : 'es';
const SESSION = window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
const root = document.getElementById('secondo-container');
/** Site clock minus browser clock, from the Date header (the site's clock may not be the browser's). */
let siteOffsetMs = 0;

function h(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const k of Object.keys(attrs || {})) {
    const v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'html') e.innerHTML = v;
    else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of [].concat(children || [])) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

function siteNow() { return Date.now() + siteOffsetMs; }
async function syncClock() {
  try {
    const res = await fetch(location.pathname, { method: 'HEAD', cache: 'no-store' });
    const at = Date.parse(res.headers.get('date') || '');
    if (!isNaN(at)) siteOffsetMs = at - Date.now();
  } catch (e) { /* keep the browser clock */ }
}
function dateIn(tz, ms) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}
function addDays(date, n) {
  const d = new Date(Date.UTC(+date.slice(0, 4), +date.slice(5, 7) - 1, +date.slice(8, 10) + n));
  return d.toISOString().slice(0, 10);
}
function noonUtc(date) { return Date.UTC(+date.slice(0, 4), +date.slice(5, 7) - 1, +date.slice(8, 10), 12); }
function weekday(date) { return new Intl.DateTimeFormat(LOCALE, { weekday: 'long', timeZone: 'UTC' }).format(noonUtc(date)); }
function shortDate(date) {
  const month = new Intl.DateTimeFormat(LOCALE, { month: 'short', timeZone: 'UTC' }).format(noonUtc(date)).replace('.', '');
  return month + ' ' + Number(date.slice(8, 10));
}
function longDate(date) {
  return new Intl.DateTimeFormat(LOCALE, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(noonUtc(date));
}
function gmtOffset(tz, ms) {
  const part = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(ms)
    .find(function (p) { return p.type === 'timeZoneName'; });
  return part && part.value !== 'GMT' ? part.value : 'GMT+00:00';
}
function shortGmt(offset) {
  const m = /^GMT([+-])(\d{2}):(\d{2})$/.exec(offset);
  return m ? 'GMT' + m[1] + Number(m[2]) + (m[3] === '00' ? '' : ':' + m[3]) : offset;
}
function instantOf(iso) { return Date.parse(iso.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')); }
function hhmm(iso) { return iso.slice(11, 16); }

function court(typeId) {
  return B.appointmentTypes.find(function (t) { return String(t.id) === String(typeId); });
}
function calendarPath(typeId, calId) { return '/schedule/' + OWNER + '/appointment/' + typeId + '/calendar/' + calId; }
function go(path) { history.pushState(null, '', path + location.search); }

function frame(step, content) {
  const zoneLabel = TZ.split('/').pop().replace(/_/g, ' ') + ' (' + gmtOffset(TZ, siteNow()) + ')';
  root.replaceChildren(h('div', { class: C.app }, [
    h('header', { class: C.header }, [h('h1', { text: B.name }), h('div', { class: C.rules, html: B.description })]),
    h('nav', { id: 'pylon-nav', class: C.nav }, [h('h2', { class: C.step, text: step })]),
    h('div', { class: C.zone }, [h('span', { text: T.zone + ' ' }), h('button', { type: 'button', text: zoneLabel })]),
    content,
  ]));
}

async function api(path, init) {
  const headers = Object.assign({ 'x-secondo-owner': OWNER, 'x-secondo-session': SESSION }, (init && init.headers) || {});
  const res = await fetch(path, Object.assign({}, init || {}, { headers: headers }));
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  return { status: res.status, ok: res.ok, body: body };
}
function fetchTimes(typeId, calId, startDate, maxDays) {
  const q = new URLSearchParams({ owner: OWNER, appointmentTypeId: String(typeId), calendarId: String(calId),
    startDate: startDate, maxDays: String(maxDays), timezone: TZ });
  return api('/api/scheduling/v1/availability/times?' + q.toString());
}
`;
