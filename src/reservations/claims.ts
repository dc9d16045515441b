import type { Kysely } from 'kysely';
import { toStoredResult, type BookingResult } from '../contracts/index.js';
import type { Database } from '../db/types.js';
import { addMs, changedRow, inVenues, leaseRunOut, RESERVATION_COLUMNS, USER_COLUMNS, withNumericIds, type ClaimedReservation } from './rows.js';

/** Arguments of {@link claimDue}. */
export interface ClaimDueArgs {
  /** Lease owner written to `lease_owner` (the daemon id). */
  owner: string;
  now: Date;
  /** Claim rows whose `release_at <= now + horizonMs` (the prepare lead). */
  horizonMs: number;
  /** Lease length; `lease_expires_at = now + leaseMs`. */
  leaseMs: number;
  /** Most rows claimed per call. */
  limit: number;
  /** The venue ids this daemon serves: rows of any other venue are left to a daemon that serves it. */
  venues: readonly string[];
}

/**
 * Claims due reservations for `owner`: `scheduled` rows (and `claimed` rows whose lease expired, i.e. their
 * holder died before firing) with `release_at <= now + horizonMs` and a slot not yet started, earliest release
 * first, become `claimed` with a lease until `now + leaseMs`. Only rows of `venues` (the daemon's own) are
 * claimed: a daemon never claims another daemon's venue. `booking` rows with an expired lease are NOT taken
 * over: a submit may have happened, they need reconciliation.
 *
 * One statement: a CTE `SELECT ... FOR UPDATE SKIP LOCKED LIMIT n` feeding the UPDATE, so concurrent claimers
 * (any number of daemons on one database) never get the same row and never wait for each other.
 *
 * @returns the claimed rows with their user's contact columns, ordered by `release_at`, then `id`.
 */
export async function claimDue(db: Kysely<Database>, args: ClaimDueArgs): Promise<ClaimedReservation[]> {
  const { owner, now } = args;
  const rows = await db
    .with('due', (qb) =>
      qb
        .selectFrom('reservations')
        .select('id')
        .where('release_at', '<=', addMs(now, args.horizonMs))
        .where('slot_at', '>', now)
        .where(inVenues('venue', args.venues))
        .where((eb) => eb.or([eb('status', '=', 'scheduled'), eb.and([eb('status', '=', 'claimed'), leaseRunOut('lease_expires_at', now)])]))
        .orderBy('release_at')
        .orderBy('id')
        .limit(args.limit)
        .forUpdate()
        .skipLocked(),
    )
    .updateTable('reservations as r')
    .from(['due', 'booking_users as u'])
    .set({ status: 'claimed', lease_owner: owner, lease_expires_at: addMs(now, args.leaseMs), updated_at: now })
    .whereRef('r.id', '=', 'due.id')
    .whereRef('u.id', '=', 'r.user_id')
    .returning([...RESERVATION_COLUMNS, ...USER_COLUMNS])
    .execute();
  return rows
    .map((row) => withNumericIds(row) as ClaimedReservation)
    .sort((a, b) => a.release_at.getTime() - b.release_at.getTime() || a.id - b.id);
}

/**
 * Extends the lease of a reservation `owner` holds (`claimed` or `booking`) to `now + leaseMs`.
 *
 * @returns false when the lease is lost: the row changed state (cancelled, expired, finished) or another daemon
 *   took it over after the lease ran out.
 */
export async function heartbeat(db: Kysely<Database>, args: { id: number; owner: string; now: Date; leaseMs: number }): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set({ lease_expires_at: addMs(args.now, args.leaseMs), updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', 'in', ['claimed', 'booking'])
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return changedRow(result);
}

/** `claimed → scheduled` for a claim `owner` gives back before firing (e.g. shutdown); clears the lease. */
export async function releaseClaim(db: Kysely<Database>, args: { id: number; owner: string; now: Date }): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set({ status: 'scheduled', lease_owner: null, lease_expires_at: null, updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', '=', 'claimed')
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return changedRow(result);
}

/**
 * Begins the fire: `claimed → booking` (a row already in `booking`, e.g. a `book-now` row, stays there) and
 * renews the lease to `now + leaseMs` in the same statement, only while `owner` holds the row. A lease that ran
 * out while nobody took the row over is still ours: every take-over changes `lease_owner` in one guarded
 * statement, so the owner check is what decides. False means do NOT submit: the row was cancelled, expired
 * or taken over while this daemon waited (a user's `cancelled` is respected up to the submit).
 */
export async function startBooking(db: Kysely<Database>, args: { id: number; owner: string; now: Date; leaseMs: number }): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set({ status: 'booking', lease_expires_at: addMs(args.now, args.leaseMs), updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', 'in', ['claimed', 'booking'])
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return changedRow(result);
}

/** True while reservation `id` is held by `owner` (`claimed` or `booking`): checked before each further court. */
export async function isHeld(db: Kysely<Database>, args: { id: number; owner: string }): Promise<boolean> {
  const row = await db
    .selectFrom('reservations')
    .select('id')
    .where('id', '=', String(args.id))
    .where('status', 'in', ['claimed', 'booking'])
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * `claimed|booking → scheduled` for a booking cut off (stop, crash recovery) before anything was submitted, so it
 * is tried again while its window is open. Clears the lease. A `cancelled` row stays cancelled.
 */
export async function requeueReservation(db: Kysely<Database>, args: { id: number; owner: string; now: Date }): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set({ status: 'scheduled', lease_owner: null, lease_expires_at: null, updated_at: args.now })
    .where('id', '=', String(args.id))
    .where('status', 'in', ['claimed', 'booking'])
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return changedRow(result);
}

/**
 * `claimed|booking → needs_attention`: nobody can tell whether the site took the booking (a submit happened and
 * its outcome is unknown), so a person looks; never a blind second submit (docs/architecture.md "Reconciliation"). Stores `reason`, the
 * result JSON when given, and clears the lease.
 */
export async function markNeedsAttention(
  db: Kysely<Database>,
  args: { id: number; owner: string; reason: string; result?: BookingResult | null; now: Date },
): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set({
      status: 'needs_attention',
      reason: args.reason,
      ...(args.result ? { result: JSON.stringify(toStoredResult(args.result)) } : {}),
      lease_owner: null,
      lease_expires_at: null,
      updated_at: args.now,
    })
    .where('id', '=', String(args.id))
    .where('status', 'in', ['claimed', 'booking'])
    .where('lease_owner', '=', args.owner)
    .executeTakeFirst();
  return changedRow(result);
}

/**
 * Ends at once the leases held by daemons this host knows are dead: every distinct `lease_owner` of a
 * `claimed` or `booking` row with a live lease is passed to `isDead`; for each owner it confirms, the
 * lease expiry is set to `now` (guarded by that owner and the unchanged status), so the normal take-over paths
 * (`claimDue`, booking recovery) act on the next tick instead of waiting up to `leaseMs`. Used after a
 * `kill -9` and a systemd restart on the same machine (the take-over time in README "Reliability: never twice, never lost"); a daemon on another machine
 * is only ever taken over when its lease runs out.
 *
 * @param isDead decides from the owner id alone (e.g. same host and its pid no longer runs); it must answer
 *   false for owners it cannot judge.
 * @returns the owners whose leases were ended, with how many rows each held.
 */
export async function expireLeasesOfDeadOwners(
  db: Kysely<Database>,
  args: { now: Date; isDead: (owner: string) => boolean },
): Promise<Array<{ owner: string; rows: number }>> {
  const owners = await db
    .selectFrom('reservations')
    .select('lease_owner')
    .distinct()
    .where('status', 'in', ['claimed', 'booking'])
    .where('lease_expires_at', '>', args.now)
    .where('lease_owner', 'is not', null)
    .execute();
  const ended: Array<{ owner: string; rows: number }> = [];
  for (const { lease_owner: owner } of owners) {
    if (owner === null || !args.isDead(owner)) continue;
    const result = await db
      .updateTable('reservations')
      // `updated_at` with the same clock: the lease bound (`reservations_lease_bounded`) is measured from it.
      .set({ lease_expires_at: args.now, updated_at: args.now })
      .where('status', 'in', ['claimed', 'booking'])
      .where('lease_owner', '=', owner)
      .where('lease_expires_at', '>', args.now)
      .executeTakeFirst();
    const rows = Number(result.numUpdatedRows);
    if (rows > 0) ended.push({ owner, rows });
  }
  return ended;
}

/**
 * Closes a row the user cancelled (`UPDATE reservations SET status = 'cancelled'`, `reservd cancel`): clears
 * the lease and stamps `finished_at` (kept when the cancel stamped it). `held`: the row is `owner`'s held row
 * whose fire has not begun, so only a lease of `owner` is cleared; otherwise only a row nobody holds (it was
 * `pending`/`scheduled`) of one of `venues` is closed. A row not `cancelled`, or held by someone else, is left alone.
 *
 * @returns whether the row was closed here.
 */
export async function closeCancelled(db: Kysely<Database>, args: { id: number; owner: string; held: boolean; venues: readonly string[]; now: Date }): Promise<boolean> {
  const result = await db
    .updateTable('reservations')
    .set((eb) => ({ lease_owner: null, lease_expires_at: null, finished_at: eb.fn.coalesce('finished_at', eb.val(args.now)), updated_at: args.now }))
    .where('id', '=', String(args.id))
    .where('status', '=', 'cancelled')
    .where((eb) => (args.held ? eb('lease_owner', '=', args.owner) : eb('lease_owner', 'is', null)))
    .where(inVenues('venue', args.venues))
    .executeTakeFirst();
  return changedRow(result);
}
