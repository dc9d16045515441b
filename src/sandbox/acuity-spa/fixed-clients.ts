import type { SpaClient } from './state.js';

/** The client every competing booker books as. */
export const SPA_COMPETITOR_CLIENT: SpaClient = { firstName: 'Competidor', lastName: 'Rápido', email: 'competidor@example.test', phone: '+502 5555 0100' };

/** The client of slots marked taken by the test controls. */
export const SPA_CONTROL_CLIENT: SpaClient = { firstName: 'Reserva', lastName: 'Previa', email: 'previa@example.test', phone: '+502 5555 0101' };
