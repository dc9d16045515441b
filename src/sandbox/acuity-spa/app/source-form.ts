/**
 * Browser source of the app, part 3: the details form ("Tus datos"). The app keeps its own state from
 * `input` events only: a value set from script without an input event does not count. The e-mail is a chip
 * input: its text becomes a chip on Enter, comma or blur, the input goes back to "", and the chip is what is
 * submitted. "Confirmar cita" mints a captcha token at submit, then POSTs the appointment; a refusal keeps
 * the form and shows the answer's `message` in `p[role=alert]` after the button.
 */
export const SOURCE_FORM = String.raw`
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const COUNTRIES = [['GT', '+502'], ['SV', '+503'], ['HN', '+504'], ['MX', '+52'], ['US', '+1'], ['ES', '+34']];
function dialCode(country) {
  const c = COUNTRIES.find(function (x) { return x[0] === country; });
  return c ? c[1] : '+502';
}

function field(label, id, input, state) {
  const error = h('span', { class: C.fieldError, 'aria-live': 'polite' });
  state.errors[id] = error;
  return h('div', { class: C.field }, [h('label', { class: C.label, for: id, text: label }), input, error]);
}

function textInput(id, key, state, autocomplete) {
  return h('input', { id: id, name: id, type: 'text', class: C.input, autocomplete: autocomplete,
    oninput: function (e) { state[key] = e.target.value; } });
}

function phoneWidget(state) {
  const phone = h('input', { id: 'client.phone', name: 'client.phone', type: 'tel', class: C.input, value: state.phone,
    autocomplete: 'tel', oninput: function (e) { state.phone = e.target.value; } });
  const select = h('select', { name: 'client.phoneCountry', class: C.input, onchange: function (e) {
    const before = dialCode(state.phoneCountry);
    state.phoneCountry = e.target.value;
    if (state.phone.trim() === before) { state.phone = dialCode(state.phoneCountry); phone.value = state.phone; }
  } }, COUNTRIES.map(function (c) {
    return h('option', { value: c[0], selected: c[0] === state.phoneCountry, text: c[0] + ' ' + c[1] });
  }));
  return h('div', { class: C.phone }, [select, phone]);
}

function emailChips(state) {
  const box = h('div', { class: C.chips });
  const input = h('input', { id: 'client.email', name: 'client.email', type: 'email', class: C.input, placeholder: T.add,
    autocomplete: 'email' });
  function draw() {
    const chip = state.email ? h('span', { class: C.chip }, [h('span', { text: state.email }),
      h('button', { type: 'button', class: C.chipRemove, 'aria-label': T.remove + state.email, text: '×',
        onclick: function () { state.email = ''; draw(); input.focus(); } })]) : null;
    box.replaceChildren.apply(box, chip ? [chip, input] : [input]);
  }
  state.commitEmail = function () {
    const text = state.emailDraft.replace(/,/g, ' ').trim();
    state.emailDraft = '';
    input.value = '';
    if (text) { state.email = text; state.errors['client.email'].textContent = ''; draw(); }
  };
  input.addEventListener('input', function () {
    state.emailDraft = input.value;
    if (input.value.indexOf(',') >= 0) state.commitEmail();
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' || e.key === ',') { e.preventDefault(); state.commitEmail(); }
  });
  input.addEventListener('blur', function () { state.commitEmail(); });
  draw();
  return box;
}

function renderForm(sel) {
  const state = { firstName: '', lastName: '', phoneCountry: B.country || 'GT', phone: '', email: '', emailDraft: '',
    busy: false, errors: {}, commitEmail: function () {} };
  state.phone = dialCode(state.phoneCountry);
  const t = court(sel.typeId);
  const date = sel.datetime.slice(0, 10);
  const button = h('button', { type: 'button', class: 'btn ' + C.submit, text: T.submit });
  const form = h('div', { id: 'your-information-form-container', class: C.form }, [
    h('p', { class: C.summary, text: (t ? t.name + ' · ' : '') + longDate(date) + ' · ' + hhmm(sel.datetime) }),
    field(T.firstName, 'client.firstName', textInput('client.firstName', 'firstName', state, 'given-name'), state),
    field(T.lastName, 'client.lastName', textInput('client.lastName', 'lastName', state, 'family-name'), state),
    field(T.phone, 'client.phone', phoneWidget(state), state),
    field(T.email, 'client.email', emailChips(state), state),
    button,
  ]);
  button.addEventListener('click', function () { submitForm(sel, state, form, button); });
  frame(T.stepForm, form);
}

/** The first field error of state (writing each under its field), or '' when the form may be sent. */
function checkForm(state) {
  state.commitEmail();
  const problems = {
    'client.firstName': state.firstName.trim() ? '' : T.required,
    'client.lastName': state.lastName.trim() ? '' : T.required,
    'client.phone': state.phone.trim() ? '' : T.required,
    'client.email': !state.email ? T.emailMissing : EMAIL_RE.test(state.email) ? '' : T.emailInvalid,
  };
  let first = '';
  for (const id of Object.keys(problems)) {
    state.errors[id].textContent = problems[id];
    if (problems[id] && !first) first = problems[id];
  }
  return first;
}
`;
