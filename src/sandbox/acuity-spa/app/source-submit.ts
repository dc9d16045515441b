/**
 * Browser source of the app, part 4: submit (captcha token minted at submit, then the appointment POST; one
 * submit in flight), the confirmation step (reached by a client-side route change; no human-readable code)
 * and the router that boots the app.
 */
export const SOURCE_SUBMIT = String.raw`
function showAlert(form, button, message) {
  const old = form.querySelector('p[role="alert"]');
  if (old) old.remove();
  if (message) button.after(h('p', { role: 'alert', class: C.alert, text: message }));
}

function captchaToken() {
  return new Promise(function (resolve, reject) {
    if (!window.grecaptcha || !grecaptcha.enterprise) { reject(new Error('no captcha')); return; }
    grecaptcha.enterprise.ready(function () {
      grecaptcha.enterprise.execute(window.RECAPTCHA_SITE_KEY, { action: 'book' }).then(resolve, reject);
    });
  });
}

async function submitForm(sel, state, form, button) {
  if (state.busy) return;
  showAlert(form, button, '');
  if (checkForm(state)) return;
  state.busy = true;
  button.disabled = true;
  try {
    let token;
    try { token = await captchaToken(); } catch (e) { showAlert(form, button, T.captchaError); return; }
    const body = { appointmentTypeID: Number(sel.typeId), calendarID: Number(sel.calId), datetime: sel.datetime,
      firstName: state.firstName.trim(), lastName: state.lastName.trim(), email: state.email, phone: state.phone.trim(),
      timezone: TZ, fields: [], recaptchaToken: token };
    let answer;
    try {
      answer = await api('/api/scheduling/v1/appointments', { method: 'POST',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (e) { showAlert(form, button, T.networkError); return; }
    if (answer.ok && answer.body && answer.body.hash) {
      history.pushState(null, '', '/schedule/' + OWNER + '/confirmation/' + answer.body.hash);
      renderConfirmation(answer.body);
      return;
    }
    showAlert(form, button, (answer.body && answer.body.message) || T.networkError);
  } finally {
    state.busy = false;
    button.disabled = false;
  }
}

function renderConfirmation(appt) {
  const offset = shortGmt(gmtOffset(TZ, instantOf(appt.datetime)));
  const link = function (text, href) { return href ? h('a', { href: href, target: '_blank', rel: 'noopener', text: text }) : null; };
  frame(T.stepDone, h('section', { class: C.confirm }, [
    h('h3', { text: appt.firstName + T.confirmed }),
    h('div', { class: C.card }, [
      h('p', { text: appt.type }),
      h('p', { text: longDate(appt.date) }),
      h('p', { text: appt.time + ' - ' + appt.endTime + ' ' + offset }),
    ]),
    h('div', { class: C.links }, [
      link(T.ics, appt.confirmationPage && appt.confirmationPage + '&m=ics'), link(T.google, appt.addToGoogleLink),
      link(T.change, appt.confirmationPage), link(T.cancel, appt.confirmationPage),
      h('button', { type: 'button', text: T.again, onclick: function () {
        go(calendarPath(appt.appointmentTypeID, appt.calendarID));
        renderCalendar({ typeId: appt.appointmentTypeID, calId: appt.calendarID, startDate: '' });
      } }),
    ]),
  ]));
}

async function renderConfirmationRoute(hash) {
  const q = new URLSearchParams({ owner: OWNER });
  q.append('appointmentIds[]', hash);
  const answer = await api('/api/scheduling/v1/appointments?' + q.toString());
  const appt = answer.ok && answer.body && answer.body.appointments ? answer.body.appointments[0] : undefined;
  if (appt) renderConfirmation(appt);
  else frame(T.stepDone, h('p', { class: C.empty, text: T.notFound }));
}

/** What the current path names: the court list, a court's picker, a direct slot or a confirmation. */
function parseRoute(pathname) {
  const s = pathname.split('/').filter(Boolean).map(function (p) {
    try { return decodeURIComponent(p); } catch (e) { return p; }
  });
  if (s[2] === 'confirmation' && /^[0-9a-f]{32}$/.test(s[3] || '')) return { kind: 'confirmation', hash: s[3] };
  const t = s[2] === 'appointment' ? court(s[3]) : undefined;
  if (!t) return { kind: 'courts' };
  const calId = s[4] === 'calendar' && s[5] ? s[5] : String(t.calendarIDs[0]);
  if (s[6] === 'datetime' && s[7]) return { kind: 'slot', typeId: String(t.id), calId: calId, datetime: s[7] };
  return { kind: 'calendar', typeId: String(t.id), calId: calId };
}

function route() {
  const r = parseRoute(location.pathname);
  if (r.kind === 'confirmation') return renderConfirmationRoute(r.hash);
  if (r.kind === 'slot') return renderDirectSlot(r);
  if (r.kind === 'calendar') return renderCalendar({ typeId: r.typeId, calId: r.calId, startDate: '' });
  return renderCourts();
}

function injectStyle() {
  const css = [
    '.' + C.app + '{font-family:system-ui,sans-serif;max-width:960px;margin:0 auto;padding:16px}',
    '.' + C.days + ',.' + C.times + '{display:grid;grid-template-columns:repeat(5,1fr);gap:8px}',
    '.' + C.dayLabel + '{display:flex;flex-direction:column}',
    '.' + C.time + '{margin:2px 0;padding:6px;border:1px solid #888;border-radius:4px;background:#fff;cursor:pointer}',
    '.' + C.field + '{display:flex;flex-direction:column;margin:8px 0}',
    '.' + C.chips + '{display:flex;gap:6px;align-items:center;flex-wrap:wrap}',
    '.' + C.chip + '{background:#e6e6e6;border-radius:12px;padding:2px 8px}',
    '.' + C.fieldError + '{color:#b00020;font-size:0.85em}',
    '.' + C.submit + '{text-transform:uppercase;padding:10px 16px;margin-top:12px}',
    '.' + C.alert + '{color:#b00020}',
  ].join('\n');
  document.head.append(h('style', { text: css }));
}

injectStyle();
window.addEventListener('popstate', function () { route(); });
syncClock().then(route);
`;
