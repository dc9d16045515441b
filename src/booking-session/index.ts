/**
 * The booking session: the one owner of a held reservation (docs/architecture.md "Booking session").
 * Import from here, not from the files.
 */
export { createBookingSessions, type BookingSession, type BookingSessions, type ImmediateHold, type RunArgs, type SessionDeps } from './session.js';
export type { SessionEnd } from './settle.js';
export { reconcileAbandonedBookings, reconcileOwnBooking, type ReconcileDeps, type ReconcileOutcome } from './reconcile.js';
