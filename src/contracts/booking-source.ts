import { z } from 'zod';
import { badValue } from './parse-field.js';

/**
 * Where a booking request came from:
 * - `'queue'`: a row of the `reservations` table, fired at its release instant;
 * - `'immediate'`: `reservd book-now`, fired at once.
 */
export const bookingSourceSchema = z.enum(['queue', 'immediate'], { error: badValue('is not a booking source ("queue" or "immediate")') });

/** `'queue' | 'immediate'`; see {@link bookingSourceSchema}. */
export type BookingSource = z.infer<typeof bookingSourceSchema>;
