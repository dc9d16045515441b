import type { Migration } from 'kysely';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_unknown_outcome.js';
import * as m0003 from './0003_site_outcomes.js';
import * as m0004 from './0004_row_guards.js';
import * as m0005 from './0005_daemons.js';
import * as m0006 from './0006_result_without_contact.js';
import * as m0007 from './0007_booked_rows_final.js';
import * as m0008 from './0008_slot_end.js';
import * as m0009 from './0009_reservation_events.js';
import * as m0010 from './0010_notification_outbox.js';
import * as m0011 from './0011_standing_reservations.js';

/**
 * Every migration, by name, in the order Kysely's `Migrator` applies them (names sort alphabetically).
 * A static map rather than `FileMigrationProvider`, which cannot load `.ts` files under vitest.
 * Add a new migration by importing it here under the next `NNNN_name`.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_unknown_outcome': m0002,
  '0003_site_outcomes': m0003,
  '0004_row_guards': m0004,
  '0005_daemons': m0005,
  '0006_result_without_contact': m0006,
  '0007_booked_rows_final': m0007,
  '0008_slot_end': m0008,
  '0009_reservation_events': m0009,
  '0010_notification_outbox': m0010,
  '0011_standing_reservations': m0011,
};
