import type { SpaVenue } from '../../src/sandbox/acuity-spa/venues.js';

/**
 * The club the Acuity look-alike tests book on: America/Guatemala (−06:00, no DST), hoursBefore 48, hourly
 * slots 06:00–21:00, each court its own appointment type AND calendar, an 8-hex owner key.
 */

/** The look-alike club's owner key. */
export const SPA_OWNER = 'a3f09c1e';

/** The look-alike's alert for a booking its captcha flagged (Spanish page). */
export const SPA_ALERT_ES = 'Se detectó un uso irregular del sitio. Comunícate con el negocio para hacer una reserva.';

const COURTS = [
  { court: 1, name: 'Cancha 1', appointmentTypeId: 70000101, calendarId: 9000201 },
  { court: 2, name: 'Cancha 2', appointmentTypeId: 70000102, calendarId: 9000202 },
  { court: 3, name: 'Cancha 3', appointmentTypeId: 70000103, calendarId: 9000203 },
];

/** The club with its first `courts` courts (1–3). */
export function spaClub(courts: 1 | 2 | 3): SpaVenue {
  return {
    ownerKey: SPA_OWNER,
    businessId: 31337001,
    name: 'Club de Tenis Sandbox',
    timeZone: 'America/Guatemala',
    country: 'GT',
    courts: COURTS.slice(0, courts),
    grid: { firstSlotTime: '06:00', lastSlotTime: '21:00', slotLengthS: 3600 },
    release: { kind: 'hoursBefore', hours: 48 },
  };
}
