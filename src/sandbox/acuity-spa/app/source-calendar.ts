/**
 * Browser source of the app, part 2: the court list and the time picker ("Fecha y hora"). All visible days'
 * times are `button.time-selection` in ONE flat container (days told apart by order and grid column), with
 * the day labels above and `button[aria-label="Más horas"]` paging forward with another XHR.
 */
export const SOURCE_CALENDAR = String.raw`
const VISIBLE_DAYS = 5;

function renderCourts() {
  frame(T.stepTime, h('ul', { class: C.courts }, B.appointmentTypes.map(function (t) {
    const href = calendarPath(t.id, t.calendarIDs[0]) + '?appointmentTypeIds[]=' + t.id;
    return h('li', {}, [h('a', { href: href, text: t.name })]);
  })));
}

function dayLabel(date, today) {
  const rel = date === today ? T.today : date === addDays(today, 1) ? T.tomorrow : '';
  return h('div', { class: C.dayLabel }, [
    rel ? h('span', { text: rel }) : null, h('span', { text: weekday(date) }), h('span', { text: shortDate(date) }),
  ]);
}

function timeButton(iso, column, onPick) {
  const text = hhmm(iso);
  return h('button', {
    type: 'button', class: 'time-selection ' + C.time, 'aria-label': T.timeAria + text,
    style: 'grid-column:' + column, onclick: function () { onPick(iso); },
  }, [h('p', { text: text })]);
}

/** The picker for view ({ typeId, calId, startDate }); paging moves view.startDate. */
async function renderCalendar(view) {
  const today = dateIn(TZ, siteNow());
  if (!view.startDate || view.startDate < today) view.startDate = today;
  frame(T.stepTime, h('p', { class: C.empty, text: T.loading }));
  const answer = await fetchTimes(view.typeId, view.calId, view.startDate, VISIBLE_DAYS);
  if (!answer.ok || !answer.body) {
    frame(T.stepTime, h('p', { class: C.empty, text: T.loadError }));
    return;
  }
  const dates = [];
  for (let i = 0; i < VISIBLE_DAYS; i++) dates.push(addDays(view.startDate, i));
  const buttons = [];
  dates.forEach(function (date, i) {
    for (const slot of answer.body[date] || []) {
      buttons.push(timeButton(slot.time, i + 1, function (iso) { pickTime(view, iso); }));
    }
  });
  const more = h('button', { type: 'button', class: C.more, 'aria-label': T.more, text: T.more, onclick: function () {
    view.startDate = addDays(view.startDate, VISIBLE_DAYS);
    renderCalendar(view);
  } });
  const t = court(view.typeId);
  frame(T.stepTime, h('section', {}, [
    t ? h('h3', { text: t.name }) : null,
    h('div', { class: C.days }, dates.map(function (d) { return dayLabel(d, today); })),
    h('div', { class: C.times }, buttons),
    buttons.length ? null : h('p', { class: C.empty, text: T.noTimes }),
    more,
  ]));
}

function pickTime(view, iso) {
  go(calendarPath(view.typeId, view.calId) + '/datetime/' + encodeURIComponent(iso));
  renderForm({ typeId: view.typeId, calId: view.calId, datetime: iso });
}

/** A direct-slot URL: the form when the time is offered (or the app setting says so), else the picker. */
async function renderDirectSlot(route) {
  const view = { typeId: route.typeId, calId: route.calId, startDate: '' };
  const at = instantOf(route.datetime);
  if (isNaN(at)) return renderCalendar(view);
  if (SPA_APP_SETTINGS.unofferedSlotPage === 'form') {
    return renderForm({ typeId: route.typeId, calId: route.calId, datetime: route.datetime });
  }
  const date = dateIn(TZ, at);
  const answer = date >= dateIn(TZ, siteNow()) ? await fetchTimes(route.typeId, route.calId, date, 1) : null;
  const offered = answer && answer.ok && answer.body ? (answer.body[date] || []).find(function (s) {
    return instantOf(s.time) === at;
  }) : undefined;
  if (!offered) return renderCalendar(view);
  renderForm({ typeId: route.typeId, calId: route.calId, datetime: offered.time });
}
`;
