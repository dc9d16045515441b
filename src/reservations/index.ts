/**
 * The reservations repository: the only Kysely queries outside `src/db/` (docs/architecture.md). Every
 * function takes `db` (a `Kysely<Database>` or a transaction) and, where it writes, an explicit `now: Date`
 * bound as a parameter. Every state change names the status (and lease owner) it expects and reports whether
 * it changed the row.
 */
export { listPending, markScheduled, markRejected, expireOverdue, nextReleaseAt } from './intake.js';
export { claimDue, closeCancelled, expireLeasesOfDeadOwners, heartbeat, isHeld, releaseClaim, startBooking, requeueReservation, markNeedsAttention, type ClaimDueArgs } from './claims.js';
export {
  registerDaemon,
  touchDaemon,
  markDaemonStopped,
  pruneGoneDaemons,
  listLiveDaemons,
  listDaemons,
  LIVE_LEASES,
  type DaemonRecord,
  type DaemonRow,
} from './daemons.js';
export { getBookingResult, getStatus, getReservation, listReservationOutcomes } from './lookups.js';
export {
  startAttempt,
  findStartedAttempt,
  recordIntent,
  recordSiteAnswer,
  finishAttempt,
  listAttempts,
  type StartAttemptArgs,
  type FinishAttemptArgs,
} from './attempts.js';
export { recordBookingResult, type RecordBookingResultArgs } from './record-booking-result.js';
export { recordSiteBlock, findActiveSiteBlock, type RecordSiteBlockArgs, type SiteBlockRow } from './site-blocks.js';
export { createImmediateReservation, type ImmediateReservationArgs } from './create-immediate-reservation.js';
export {
  duplicateReason,
  findOverlappingBooking,
  lockPerson,
  scheduleUnlessDuplicate,
  type OverlappingBooking,
  type PersonSlot,
  type ScheduleVerdict,
} from './duplicates.js';
export { insertUser, insertReservation, type UserInput, type ReservationInput } from './inserts.js';
export type { ReservationRow, PendingReservation, ClaimedReservation, AttemptRow, ReservationUserColumns } from './rows.js';
export type { ReservationStatus, ReservationSource, AttemptOutcome } from '../db/types.js';
export {
  flagLateBooking,
  flagUnknownAfterCancel,
  rejectHeld,
  takeOverAbandonedBookings,
  flagUnservedBookings,
  getHeldBooking,
  markAttemptReconciled,
  closeUnsubmittedAttempts,
  type HeldBooking,
  type ReconciledAttemptArgs,
} from './recovery.js';
export { pingDatabase, countReservationsByStatus, listUpcomingReleases, listRecentOutcomes, type StatusPageRow } from './observability.js';
export { insertStanding, userExists, listStanding, getStandingStatus, setStandingStatus, removeStanding, insertOccurrence, type StandingRow, type StandingInsert } from './standing.js';
export {
  findOrCreateUser,
  listReservations,
  getReservationWithUser,
  listReservationEvents,
  cancelReservation,
  type ReservationFilter,
  type ReservationEvent,
} from './cli-queries.js';
