import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../src/clock.js';
import { createAcuitySpaSite, type AcuitySpaSite } from '../src/sandbox/acuity-spa/site.js';
import { SPA_ALERT_ES, SPA_OWNER, spaClub } from './helpers/acuity-spa.js';

const OWNER = SPA_OWNER;
const CLUB = spaClub(2);
/** 2027-07-21 09:00 in Guatemala: 2027-07-23 09:00 is released this instant, 10:00 is not. */
const T0 = Date.parse('2027-07-21T15:00:00Z');
const ALERT_ES = SPA_ALERT_ES;
const C1 = CLUB.courts[0]!;
const CALENDAR = `/schedule/${OWNER}/appointment/${C1.appointmentTypeId}/calendar/${C1.calendarId}?appointmentTypeIds[]=${C1.appointmentTypeId}`;
const hours = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${String(from + i).padStart(2, '0')}:00`);

interface Booking { hash: string; date: string; time: string; court: number; client: { firstName: string; lastName: string; email: string; phone: string } }

let clock: ManualClock;
let site: AcuitySpaSite;
let url: string;
let browser: Browser;
let page: Page;

const controls = async <T>(path: string): Promise<T> => (await (await fetch(`${url}/__sandbox/${path}`)).json()) as T;
const bookings = async (): Promise<Booking[]> => controls<Booking[]>('bookings');
const timeTexts = async (): Promise<string[]> => page.locator('button.time-selection > p').allTextContents();

/** Opens the calendar, picks 2027-07-23 09:00 (the second 09:00: 2027-07-22 comes first) and fills the form. */
async function openFormAndFill(email: 'typed' | 'script'): Promise<void> {
  await page.goto(`${url}${CALENDAR}`);
  await page.locator('button.time-selection').first().waitFor();
  await page.locator('button.time-selection', { hasText: '09:00' }).nth(1).click();
  await page.locator('#your-information-form-container').waitFor();
  await page.fill('input[id="client.firstName"]', 'Ana');
  await page.locator('input[id="client.lastName"]').click();
  await page.keyboard.type('Pérez');
  await page.locator('input[id="client.phone"]').click();
  await page.keyboard.press('End');
  await page.keyboard.type(' 5555 1234');
  const emailInput = page.locator('input[id="client.email"]');
  if (email === 'typed') {
    await emailInput.click();
    await page.keyboard.type('ana@example.test');
    await page.keyboard.press('Enter');
  } else {
    await emailInput.evaluate((el) => { (el as HTMLInputElement).value = 'bot@example.test'; });
  }
}

beforeAll(async () => {
  clock = createManualClock(T0);
  site = createAcuitySpaSite({ clock, venues: [CLUB], confirmationOrigin: 'http://127.0.0.1:9' });
  url = await site.start(0);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await site?.stop();
});
beforeEach(async () => {
  clock.set(T0);
  site.reset();
  // The limiter counts on the manual clock, which does not move by itself.
  site.state.setSwitches({ limiter: { enabled: false } });
  page = await (await browser.newContext({ locale: 'es-GT' })).newPage();
  return async () => { await page.context().close(); };
});

describe('the look-alike app in a real browser', () => {
  it('renders the released times in one flat container, day labels, the step title and pages with "Más horas"', async () => {
    await page.goto(`${url}${CALENDAR}`);
    await page.locator('button.time-selection').first().waitFor();
    expect(await page.locator('nav#pylon-nav h2').textContent()).toBe('Fecha y hora');
    // 07-21 after 09:00 (09:00 has started), all of 07-22, 07-23 up to 09:00 (10:00 is released at 16:00Z).
    expect(await timeTexts()).toEqual([...hours(10, 21), ...hours(6, 21), ...hours(6, 9)]);
    expect(await page.locator('button.time-selection').evaluateAll((bs) => new Set(bs.map((b) => b.parentElement)).size)).toBe(1);
    expect(await page.locator('button.time-selection').first().getAttribute('aria-label')).toBe('Horario disponible a las 10:00');
    const labels = await page.locator('button.time-selection').first().evaluate((b) =>
      Array.from(b.parentElement!.previousElementSibling!.children).map((d) => (d as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
    expect(labels).toEqual(['hoy miércoles jul 21', 'mañana jueves jul 22', 'viernes jul 23', 'sábado jul 24', 'domingo jul 25']);
    const classes = await page.locator('button.time-selection').first().getAttribute('class');
    expect(classes).toMatch(/^time-selection css-[0-9a-z]{7}$/);

    clock.set(Date.parse('2027-07-21T16:00:00Z'));
    await page.locator('button[aria-label="Más horas"]').click();
    // 07-26 … 07-30: a new XHR, nothing released yet.
    await page.getByText('jul 30', { exact: true }).waitFor();
    expect(await timeTexts()).toEqual([]);
    expect(await page.getByText('No hay horarios disponibles en estos días.').count()).toBe(1);
    await page.reload();
    await page.locator('button.time-selection').first().waitFor();
    // At 10:00 local: 07-21 10:00 has started, 07-23 10:00 is now released.
    expect(await timeTexts()).toEqual([...hours(11, 21), ...hours(6, 21), ...hours(6, 10)]);
  }, 30_000);

  it('books as a person does: pick 09:00, fill with real input, e-mail chip, Confirmar cita → confirmation route', async () => {
    await openFormAndFill('typed');
    expect(page.url()).toBe(`${url}/schedule/${OWNER}/appointment/${C1.appointmentTypeId}/calendar/${C1.calendarId}/datetime/2027-07-23T09%3A00%3A00-06%3A00?appointmentTypeIds[]=${C1.appointmentTypeId}`);
    expect(await page.locator('nav#pylon-nav h2').textContent()).toBe('Tus datos');
    expect(await page.locator('input[id="client.email"]').inputValue()).toBe('');
    expect(await page.locator('input[id="client.email"]').getAttribute('placeholder')).toBe('Añadir...');
    expect(await page.locator('#your-information-form-container').innerText()).toContain('ana@example.test');
    await page.locator('button.btn', { hasText: 'Confirmar cita' }).click();
    await page.waitForURL(/\/confirmation\/[0-9a-f]{32}$/);
    const hash = /\/confirmation\/([0-9a-f]{32})$/.exec(page.url())![1]!;
    expect(await page.locator('nav#pylon-nav h2').textContent()).toBe('Cita confirmada');
    const text = await page.locator('#secondo-container').innerText();
    expect(text).toContain('Ana, ¡Tu cita está confirmada!');
    expect(text).toContain('09:00 - 10:00 GMT-6');
    expect(text).not.toContain(hash);
    const list = await bookings();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ hash, date: '2027-07-23', time: '09:00', court: 1 });
    expect(list[0]!.client).toEqual({ firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.test', phone: '+502 5555 1234' });
    // A page load of the confirmation route finds the booking by its hash.
    await page.reload();
    await page.getByText('Ana, ¡Tu cita está confirmada!').waitFor();
  }, 30_000);

  it('a flagged submit keeps the form: p[role=alert] after the button with the irregular-usage text, URL unchanged', async () => {
    site.state.setSwitches({ captchaVerdict: { kind: 'fail' } });
    await openFormAndFill('typed');
    const before = page.url();
    await page.locator('button.btn', { hasText: 'Confirmar cita' }).click();
    const alert = page.locator('p[role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toBe(ALERT_ES);
    expect(await alert.evaluate((p) => (p.previousElementSibling as HTMLElement).matches('button.btn'))).toBe(true);
    expect(page.url()).toBe(before);
    expect(await page.locator('#your-information-form-container').count()).toBe(1);
    expect(await bookings()).toEqual([]);
  }, 30_000);

  it('an e-mail set only from script (no input events) is not submitted: the app asks for the e-mail', async () => {
    await openFormAndFill('script');
    await page.locator('button.btn', { hasText: 'Confirmar cita' }).click();
    await page.getByText('Añade tu correo electrónico.').waitFor();
    expect(page.url()).toContain('/datetime/');
    const xhrs = await controls<unknown>('xhrs');
    expect(JSON.stringify(xhrs)).not.toContain('POST');
    expect(await bookings()).toEqual([]);
  }, 30_000);

  it('a direct-slot URL (raw colons) opens the form; an unreleased one shows the calendar by default', async () => {
    const base = `/schedule/${OWNER}/appointment/${C1.appointmentTypeId}/calendar/${C1.calendarId}/datetime`;
    await page.goto(`${url}${base}/2027-07-23T09:00:00-06:00`);
    await page.locator('#your-information-form-container').waitFor();
    expect(await page.locator('input[id="client.phone"]').inputValue()).toBe('+502');
    expect(await page.locator('select[name="client.phoneCountry"]').inputValue()).toBe('GT');
    await page.goto(`${url}${base}/2027-07-23T10%3A00%3A00-06%3A00`);
    await page.locator('button.time-selection').first().waitFor();
    expect(await page.locator('#your-information-form-container').count()).toBe(0);
  }, 30_000);
});
