import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntities, encodeAcuityForm, parseAcuityHtml } from '../src/booking/flows/acuity-html.js';
import { directSlotUrl } from '../src/booking/flows/acuity-urls.js';
import { startTestSandbox, T0, type TestSandbox } from './helpers/sandbox.js';

/** The raw-HTML reader of the request flow: the sandbox's real pages, and pages written differently. */

const DAY = '2027-07-23';
const CLIENT = { 'client.firstName': 'Ana', 'client.lastName': 'López', 'client.email': 'ana@example.test', 'client.phone': '+502 5555 1234' };
const PAGE = 'https://club.example/schedule/x/appointment/1/calendar/2/datetime/seg';
let sandbox: TestSandbox;

beforeAll(async () => {
  sandbox = await startTestSandbox();
});
afterAll(async () => {
  await sandbox.stop();
});

const get = async (time: string, court = 1) => {
  const url = directSlotUrl(sandbox.venue(), court, DAY, time);
  const response = await fetch(url);
  return { url, status: response.status, html: await response.text() };
};

describe('parseAcuityHtml on the sandbox pages', () => {
  it('reads the open slot form: action, token and the four client inputs in form order', async () => {
    const { url, html } = await get('09:00');
    const page = parseAcuityHtml(html, url);
    expect(page).toMatchObject({ state: 'form', missing: [], fieldErrors: [], title: 'La Villa Tennis — Court 1 — 2027-07-23 09:00' });
    expect(page.form?.actionUrl).toBe(url);
    expect(page.form?.fields.map(([name]) => name)).toEqual(['form_token', 'client.firstName', 'client.lastName', 'client.email', 'client.phone']);
    const token = /name="form_token" value="([^"]+)"/.exec(html)?.[1];
    expect(page.form?.fields[0]).toEqual(['form_token', token]);
    const body = new URLSearchParams(encodeAcuityForm(page.form!, CLIENT));
    expect(Object.fromEntries(body)).toEqual({ form_token: token, ...CLIENT });
  });

  it('classifies not open yet, taken, blocked, expired form, field errors and the confirmation', async () => {
    expect(parseAcuityHtml((await get('10:00')).html, PAGE).state).toBe('not_open_yet');
    sandbox.site.book({ venue: 'la-villa', court: 2, date: DAY, time: '09:00' });
    expect(parseAcuityHtml((await get('09:00', 2)).html, PAGE).state).toBe('slot_taken');
    sandbox.site.setControl({ blocked: true });
    const blocked = await get('09:00');
    expect(blocked.status).toBe(403);
    expect(parseAcuityHtml(blocked.html, PAGE).state).toBe('blocked');
    sandbox.site.setControl({ blocked: false });

    const { url, html } = await get('08:00');
    const form = parseAcuityHtml(html, url).form!;
    const post = (fields: Record<string, string>) =>
      fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
    const expired = await post({ ...CLIENT, form_token: 'nope' });
    expect(expired.status).toBe(403);
    expect(parseAcuityHtml(await expired.text(), url).state).toBe('bad_token');
    const invalid = await post({ ...Object.fromEntries(new URLSearchParams(encodeAcuityForm(form, CLIENT))), 'client.email': 'ana@', 'client.phone': '12' });
    expect(invalid.status).toBe(400);
    const shown = parseAcuityHtml(await invalid.text(), url);
    expect(shown).toMatchObject({ state: 'field_errors', fieldErrors: ['Email: is not a valid email address', 'Phone: is not a valid phone number'] });
    expect(shown.form?.fields.find(([n]) => n === 'client.firstName')).toEqual(['client.firstName', 'Ana']);

    const fresh = parseAcuityHtml((await get('08:00')).html, url).form!;
    const booked = await post(Object.fromEntries(new URLSearchParams(encodeAcuityForm(fresh, CLIENT))));
    expect(booked.status).toBe(303);
    const confirmation = await fetch(new URL(booked.headers.get('location')!, url));
    const page = parseAcuityHtml(await confirmation.text(), url);
    expect(page).toMatchObject({ state: 'booked', clientName: 'Ana López', form: null });
    expect(page.confirmationCode).toBe(sandbox.site.bookings().find((b) => b.court === 1)?.confirmationCode);
    expect(sandbox.site.siteNow()).toBe(T0);
  });
});

describe('parseAcuityHtml on pages written differently', () => {
  const form = (inner: string, attrs = 'id="booking-form" method="post"') =>
    `<!doctype html><html><head><title>Book &amp; play</title></head><body><form ${attrs}>${inner}</form></body></html>`;
  const inputs = `<input name="client.firstName"><input name='client.lastName' value=''><input type=email name=client.email><input name="client.phone" type="tel">`;

  it('takes every named control a browser would post, with entities decoded, whatever the quoting and order', () => {
    const html = form(
      `<!-- <div class="blocked"></div> --><input value="a&amp;b&#39;c&#x3C;" type="hidden" name="session">
<input type='hidden' name='form_token' value='T0K3N'>${inputs}
<input type="checkbox" name="newsletter" value="yes"><input type="checkbox" name="terms" checked>
<input type="text" name="off" value="x" disabled><input type="submit" name="go" value="Go">
<button type="submit" class="btn btn-confirm" name="action" value="confirm">Confirm</button><script>document.write('<p class="slot-unavailable">')</script>`,
      `method=POST action="/book?x=1" id='booking-form'`,
    );
    const page = parseAcuityHtml(html, PAGE);
    expect(page).toMatchObject({ state: 'form', title: 'Book & play', missing: [] });
    expect(page.form).toEqual({
      actionUrl: 'https://club.example/book?x=1',
      fields: [
        ['session', "a&b'c<"],
        ['form_token', 'T0K3N'],
        ['client.firstName', ''],
        ['client.lastName', ''],
        ['client.email', ''],
        ['client.phone', ''],
        ['terms', 'on'],
        ['action', 'confirm'],
      ],
    });
    expect(encodeAcuityForm(page.form!, CLIENT)).toBe(
      'session=a%26b%27c%3C&form_token=T0K3N&client.firstName=Ana&client.lastName=L%C3%B3pez&client.email=ana%40example.test&client.phone=%2B502+5555+1234&terms=on&action=confirm',
    );
  });

  it('calls a form without every client input, the confirm button or method POST unknown, naming what is missing', () => {
    expect(parseAcuityHtml(form('<input name="client.firstName"><button class="btn-confirm">Go</button>'), PAGE)).toMatchObject({
      state: 'unknown',
      form: null,
      missing: ['client.lastName', 'client.email', 'client.phone'],
    });
    expect(parseAcuityHtml(form(inputs), PAGE).missing).toEqual(['button.btn-confirm']);
    expect(parseAcuityHtml(form(`${inputs}<button class="btn-confirm">Go</button>`, 'id="booking-form"'), PAGE).missing).toEqual(['form method="post" (found "get")']);
    expect(parseAcuityHtml('<html><title>Maintenance</title><p>Back soon</p></html>', PAGE)).toMatchObject({ state: 'unknown', title: 'Maintenance', missing: [] });
    expect(parseAcuityHtml('', PAGE).state).toBe('unknown');
  });

  it('decodes the common entities and leaves unknown ones alone', () => {
    expect(decodeEntities('&lt;a&gt; &quot;b&quot; &amp;amp; &#233;&#xE9; &bogus; &#xFFFFFFF;')).toBe('<a> "b" &amp; éé &bogus; &#xFFFFFFF;');
  });
});
