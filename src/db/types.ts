import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely table types for the schema created by `migrations/` (the migrations are the source of truth; keep
 * these in step with them).
 *
 * Conventions:
 * - `bigserial`/`bigint` columns are `string` in rows: pg returns int8 as text and reservd does not install a
 *   global int8 parser (precision above 2^53). Repositories expose ids as `number` via `Number()`.
 *   Inserts accept `string | number`.
 * - `date` columns are `YYYY-MM-DD` strings (see `reservdPgTypes`, case C08).
 * - `timestamptz` columns are `Date` (exact instants in any host zone, case C09).
 * - `jsonb` columns are read as parsed JSON and written as JSON TEXT (`JSON.stringify`): pg would turn a JS array
 *   into a Postgres array literal, not JSON.
 */

/** Any JSON value (what a `jsonb` column holds). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An int8 id: read as text, written as text or number, never updated. */
export type Int8Id = ColumnType<string, string | number | undefined, never>;
/** An int8 foreign key: read as text, written as text or number. */
export type Int8Ref = ColumnType<string, string | number, string | number>;
/** An audit `timestamptz NOT NULL DEFAULT now()` column. */
export type AuditInstant = ColumnType<Date, Date | undefined, Date>;

/** Every value of `reservations.status` (CHECK `reservations_status_known`; life cycle in docs/architecture.md). */
const RESERVATION_STATUSES = [
  'pending',
  'scheduled',
  'claimed',
  'booking',
  'succeeded',
  'failed',
  'rejected',
  'expired',
  'cancelled',
  'needs_attention',
] as const;
/** A reservation's life-cycle state. */
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/** Every value of `reservations.source` (BookingSource: queued row or `reservd book-now`). */
const RESERVATION_SOURCES = ['queue', 'immediate'] as const;
/** Where a reservation came from. */
export type ReservationSource = (typeof RESERVATION_SOURCES)[number];

/** Every value of `booking_attempts.outcome` (mirrors `BookingResult.outcome` in `src/contracts/`). */
const ATTEMPT_OUTCOMES = [
  'booked',
  'slot_taken',
  'not_open_yet',
  'site_blocked',
  'site_changed',
  'timeout',
  'interrupted',
  'invalid_request',
  'error',
  'unknown',
  'rate_limited',
  'form_rejected',
] as const;
/** How one attempt ended. */
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** `booking_users`: the person a booking is made for. Contact fields are NOT validated by the database. */
export interface BookingUsersTable {
  id: Int8Id;
  first_name: string;
  last_name: string;
  email: string;
  phone: string;
  /** Telegram chat the person's notifications go to (migration 0010); null: none. */
  telegram_chat_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: AuditInstant;
  updated_at: AuditInstant;
}

/** `reservations`: one queued wish for a slot (venue, local date, local start time) with an ordered court list. */
export interface ReservationsTable {
  id: Int8Id;
  user_id: Int8Ref;
  venue: string;
  /** Venue-local calendar date `YYYY-MM-DD`. */
  target_date: string;
  /** Venue-local start time `HH:MM` (shape checked by the database, range by the daemon). */
  target_time: string;
  /** Court preference, most wanted first; at least one, no NULLs. */
  courts: number[];
  status: ColumnType<ReservationStatus, ReservationStatus | undefined, ReservationStatus>;
  source: ColumnType<ReservationSource, ReservationSource | undefined, ReservationSource>;
  idempotency_key: string | null;
  release_at: Date | null;
  /** The slot's start instant. */
  slot_at: Date | null;
  /** The slot's end (start + the venue's slot length), written with `slot_at`; null on rows scheduled before it existed. */
  slot_end_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Why the row was rejected, failed, expired or needs attention. */
  reason: string | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  attempt_count: Generated<number>;
  booked_court: number | null;
  confirmation_code: string | null;
  result: ColumnType<JsonValue | null, string | null | undefined, string | null>;
  created_at: AuditInstant;
  updated_at: AuditInstant;
  finished_at: Date | null;
  /** The standing reservation this row was materialised from (migration 0011); null for other rows. Never changes. */
  standing_id: ColumnType<string | null, string | number | null | undefined, never>;
  /** The occurrence it was materialised for, venue-local `YYYY-MM-DDTHH:MM`; set with `standing_id`. Never changes. */
  standing_occurrence: ColumnType<string | null, string | null | undefined, never>;
}

/** Every value of `standing_reservations.status` (CHECK `standing_reservations_status_known`). */
const STANDING_STATUSES = ['active', 'paused', 'removed'] as const;
/** `active`: materialised; `paused`: no new rows; `removed`: never materialised again (kept for its rows' link). */
export type StandingStatus = (typeof STANDING_STATUSES)[number];

/**
 * `standing_reservations` (migration 0011): a person's recurring wish, a cron pattern read in the venue's zone,
 * materialised into `reservations` rows by `src/standing/`.
 */
export interface StandingReservationsTable {
  id: Int8Id;
  user_id: Int8Ref;
  venue: string;
  /** Court preference, most wanted first; copied onto every row it creates. */
  courts: number[];
  /** 5- or 6-field cron pattern, venue-local, fixed times on the venue's slot grid (checked at creation). */
  cron: string;
  status: ColumnType<StandingStatus, StandingStatus | undefined, StandingStatus>;
  /** Last venue-local date (`YYYY-MM-DD`, inclusive) an occurrence may fall on; null = no end. */
  until_date: string | null;
  created_at: AuditInstant;
  updated_at: AuditInstant;
}

/** `booking_attempts`: append-only log, one row per try of one court. */
export interface BookingAttemptsTable {
  id: Int8Id;
  reservation_id: Int8Ref;
  /** 1-based within the reservation. */
  attempt: number;
  court: number;
  daemon_id: string;
  browser_id: string | null;
  flow: string;
  started_at: Date;
  /** Intent: written BEFORE the submit is pressed; an intent without an outcome is reconciled against the site. */
  submitted_at: Date | null;
  finished_at: Date | null;
  outcome: AttemptOutcome | null;
  confirmation_code: string | null;
  error: string | null;
  metadata: ColumnType<{ [key: string]: JsonValue }, string | undefined, string>;
}

/**
 * `site_blocks`: a venue whose site flagged this daemon's bookings as irregular usage; no booking is
 * attempted for it until `blocked_until` (`daemon.siteBlockedCoolOffMs` after the flag).
 */
export interface SiteBlocksTable {
  venue: string;
  blocked_at: Date;
  blocked_until: Date;
  /** The site's words (or the flow's message) when it flagged the booking. */
  reason: string;
}

/**
 * `daemons`: one row per `reservd run` process (migration 0005), kept after its stop. Live = `stopped_at IS
 * NULL` and `seen_at` within two of its leases (`2 × lease_ms`); see `src/reservations/daemons.ts`.
 */
export interface DaemonsTable {
  /** The daemon's lease owner id (`lease_owner`, `booking_attempts.daemon_id`). */
  id: string;
  host: string;
  pid: number;
  /** The venue ids of its config: the venues it validates, claims and reconciles. */
  venues: string[];
  /** Its `daemon.leaseMs`; it beats every third of it. */
  lease_ms: number;
  started_at: Date;
  /** Refreshed on every beat (every `lease_ms / 3`). */
  seen_at: Date;
  /** Set on a clean stop; null while it runs (or after a crash, until `seen_at` is stale). */
  stopped_at: Date | null;
}

/**
 * `reservation_events` (migration 0009): one row per status a reservation took, written by a trigger in the
 * transaction of the change (daemon updates and hand edits alike).
 */
export interface ReservationEventsTable {
  id: Int8Id;
  reservation_id: Int8Ref;
  /** The row's new `updated_at` when the change set it, else the transaction's time. */
  at: AuditInstant;
  /** Null for the insert. */
  from_status: ReservationStatus | null;
  to_status: ReservationStatus;
  /** The row's `reason` after the change. */
  reason: string | null;
  /** `reservd.actor` of the session, else the lease owner (a daemon id), else null (a hand edit). */
  actor: string | null;
}

/** `notification_sinks` (migration 0010): the sinks notifications are queued for, synced from the config. */
export interface NotificationSinksTable {
  name: NotificationSink;
}

/** A notification sink (CHECK `notification_sinks_known`). */
export type NotificationSink = 'webhook' | 'telegram';

/** Delivery state of an outbox row: `skipped` when the sink has no address for the person (no chat id). */
export type OutboxState = 'pending' | 'delivered' | 'failed' | 'skipped';

/**
 * `notification_outbox` (migration 0010): one message per reservation, final status and sink, queued by a
 * trigger in the transaction of the status change and delivered by `src/notify/dispatcher.ts`.
 */
export interface NotificationOutboxTable {
  id: Int8Id;
  reservation_id: Int8Ref;
  status: ReservationStatus;
  sink: NotificationSink;
  state: ColumnType<OutboxState, OutboxState | undefined, OutboxState>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | undefined, Date>;
  delivered_at: Date | null;
  last_error: string | null;
  created_at: AuditInstant;
}

/** The whole database as Kysely sees it. */
export interface Database {
  booking_users: BookingUsersTable;
  reservations: ReservationsTable;
  booking_attempts: BookingAttemptsTable;
  site_blocks: SiteBlocksTable;
  daemons: DaemonsTable;
  standing_reservations: StandingReservationsTable;
  reservation_events: ReservationEventsTable;
  notification_sinks: NotificationSinksTable;
  notification_outbox: NotificationOutboxTable;
}
