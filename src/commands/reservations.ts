import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import { describeConstraintViolation } from '../db/errors.js';
import type { Database, ReservationStatus } from '../db/types.js';
import { ReservdError } from '../errors.js';
import {
  cancelReservation,
  findOrCreateUser,
  getReservationWithUser,
  insertReservation,
  listAttempts,
  listReservationEvents,
  listReservations,
  type ReservationFilter,
} from '../reservations/index.js';
import { validateImmediateBooking, type ImmediateBookingInput } from '../scheduling/book-now.js';
import { EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_OK, formatTable, printJson, type Output } from './output.js';

/**
 * The reservation commands of the CLI (`add`, `list`, `show`, `cancel`): plain functions over an open database,
 * so tests call them in-process with a captured output. Each resolves to the exit code (docs in README "Using
 * the CLI"); bad input throws a `ReservdError` with code `invalid_request` naming the field (main.ts: exit 65).
 */

/** What every reservation command gets. */
export interface CommandContext {
  db: Kysely<Database>;
  config: Config;
  /** The command's "now" (slot not started yet, release before start). */
  now: Date;
  out: Output;
}

/**
 * `reservd add`: validates the input exactly as the daemon validates a pending row (`validateImmediateBooking`:
 * the same builder and `assertBookableAtVenue`), finds or creates the person, and inserts a `pending` row as a
 * person would. The daemon validates it again and schedules it.
 *
 * @throws ContractError (invalid_request) naming the field; DatabaseConstraintError when the schema refuses the row.
 */
export async function addReservation(ctx: CommandContext, input: ImmediateBookingInput, json: boolean, telegramChatId?: string): Promise<number> {
  const { releaseAt, slotAt } = validateImmediateBooking(ctx.config, input, ctx.now);
  if (telegramChatId !== undefined) checkTelegramChatId(telegramChatId);
  const user = await findOrCreateUser(ctx.db, input.user);
  if (telegramChatId !== undefined) await ctx.db.updateTable('booking_users').set({ telegram_chat_id: telegramChatId }).where('id', '=', String(user.id)).execute();
  let id: number;
  try {
    id = await insertReservation(ctx.db, { userId: user.id, venue: input.venue, targetDate: input.targetDate, targetTime: input.targetTime, courts: input.courts });
  } catch (err) {
    throw describeConstraintViolation(err) ?? err;
  }
  const summary = { id, status: 'pending', venue: input.venue, target_date: input.targetDate, target_time: input.targetTime, courts: input.courts, user_id: user.id, release_at: releaseAt.toISOString(), slot_at: slotAt.toISOString() };
  if (json) return printJson(ctx.out, summary);
  ctx.out.write(
    `reservation ${id} queued (pending): ${input.venue} ${input.targetDate} ${input.targetTime}, courts ${input.courts.join(',')}.\n` +
      `A running daemon (reservd run) serving ${input.venue} validates it, schedules it for the release at ${releaseAt.toISOString()} and books it then; ` +
      `follow it with: reservd show ${id}\n`,
  );
  return EXIT_OK;
}

/**
 * A Telegram chat id as the Bot API gives it (`message.chat.id`): an integer, negative for groups, or a
 * channel's `@username`.
 * @throws ReservdError invalid_request naming `--telegram-chat-id` otherwise.
 */
export function checkTelegramChatId(value: string): void {
  if (!/^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$/.test(value)) {
    throw new ReservdError('invalid_request', `--telegram-chat-id: "${value}" is not a Telegram chat id (an integer such as 123456789, or @channelname)`);
  }
}

/** Every status, for `--status` (the CHECK `reservations_status_known`). */
export const STATUSES: readonly ReservationStatus[] = ['pending', 'scheduled', 'claimed', 'booking', 'succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'needs_attention'];

/** The most rows one `list` prints (`--limit`). */
const MAX_LIST_LIMIT = 100_000;

/** Whether `value` is `YYYY-MM-DD` and a real calendar date (2026-02-30 is not). */
function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/**
 * Checks `list`'s filters (before the database is opened).
 * @throws ReservdError invalid_request naming `--status`, `--from`, `--to` or `--limit` when one is not valid.
 */
export function checkListFilter(filter: ReservationFilter): void {
  for (const status of filter.status ?? []) {
    if (!STATUSES.includes(status)) throw new ReservdError('invalid_request', `--status: "${status}" is not a status (one of ${STATUSES.join(', ')})`);
  }
  for (const [flag, value] of [['--from', filter.from], ['--to', filter.to]] as const) {
    if (value !== undefined && !isCalendarDate(value)) throw new ReservdError('invalid_request', `${flag}: "${value}" is not a date written YYYY-MM-DD`);
  }
  if (filter.limit !== undefined && !(Number.isSafeInteger(filter.limit) && filter.limit >= 1 && filter.limit <= MAX_LIST_LIMIT)) {
    throw new ReservdError('invalid_request', `--limit: must be a whole number from 1 to ${MAX_LIST_LIMIT} (got ${filter.limit})`);
  }
}

/**
 * `reservd list`: reservations matching the filters, by slot, as a table or JSON (an array of rows).
 * @throws ReservdError invalid_request as {@link checkListFilter}.
 */
export async function listCommand(ctx: CommandContext, filter: ReservationFilter, json: boolean): Promise<number> {
  checkListFilter(filter);
  const rows = await listReservations(ctx.db, filter);
  if (json) return printJson(ctx.out, rows);
  if (rows.length === 0) {
    ctx.out.write('no reservations match\n');
    return EXIT_OK;
  }
  const header = ['id', 'status', 'venue', 'date', 'time', 'courts', 'person', 'release_at', 'reason'];
  const body = rows.map((r) => [String(r.id), r.status, r.venue, r.target_date, r.target_time, r.courts.join(','), `${r.first_name} ${r.last_name} <${r.email.trim()}>`, r.release_at?.toISOString() ?? '', r.reason ?? '']);
  ctx.out.write(formatTable(header, body));
  return EXIT_OK;
}

/** `reservd show <id>`: the row, its attempts and its status history (`reservation_events`). Exit 66 when there is no such row. */
export async function showCommand(ctx: CommandContext, id: number, json: boolean): Promise<number> {
  const row = await getReservationWithUser(ctx.db, id);
  if (!row) return notFound(ctx.out, id);
  const [attempts, events] = await Promise.all([listAttempts(ctx.db, id), listReservationEvents(ctx.db, id)]);
  if (json) return printJson(ctx.out, { reservation: row, attempts, events });
  const fields: Array<[string, string]> = [
    ['id', String(row.id)],
    ['status', row.status],
    ['venue', row.venue],
    ['slot', `${row.target_date} ${row.target_time}`],
    ['courts', row.courts.join(',')],
    ['person', `${row.first_name} ${row.last_name} <${row.email.trim()}>`],
    ['source', row.source],
    ['release_at', row.release_at?.toISOString() ?? '-'],
    ['slot_at', row.slot_at?.toISOString() ?? '-'],
    ['booked_court', row.booked_court === null ? '-' : String(row.booked_court)],
    ['confirmation_code', row.confirmation_code ?? '-'],
    ['reason', row.reason ?? '-'],
    ['lease_owner', row.lease_owner ?? '-'],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  ctx.out.write(`${fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n')}\n\nattempts:\n`);
  ctx.out.write(
    attempts.length === 0
      ? '  none\n'
      : formatTable(['#', 'court', 'daemon', 'started_at', 'submitted_at', 'outcome', 'error'], attempts.map((a) => [String(a.attempt), String(a.court), a.daemon_id, a.started_at.toISOString(), a.submitted_at?.toISOString() ?? '', a.outcome ?? '', a.error ?? ''])),
  );
  ctx.out.write('\ntimeline:\n');
  ctx.out.write(formatTable(['at', 'from', 'to', 'actor', 'reason'], events.map((e) => [e.at.toISOString(), e.from_status ?? '-', e.to_status, e.actor ?? '-', e.reason ?? ''])));
  return EXIT_OK;
}

/**
 * `reservd cancel <id>`: sets the row `cancelled` as a hand edit would, its event naming the actor `cli`. A row
 * already final is left as is (exit 0, said so); a booked row is refused by its guard (0007): the guard's
 * sentence, exit 65; no such row: exit 66.
 */
export async function cancelCommand(ctx: CommandContext, id: number, json: boolean): Promise<number> {
  let result: Awaited<ReturnType<typeof cancelReservation>>;
  try {
    result = await cancelReservation(ctx.db, { id, actor: 'cli' });
  } catch (err) {
    throw describeConstraintViolation(err) ?? err;
  }
  if (result.outcome === 'missing') return notFound(ctx.out, id, json);
  if (json) return printJson(ctx.out, { id, outcome: result.outcome, previous_status: result.previous, status: result.outcome === 'cancelled' ? 'cancelled' : result.previous });
  ctx.out.write(
    result.outcome === 'cancelled'
      ? `reservation ${id} cancelled (was ${result.previous}).\n`
      : `reservation ${id} is already ${result.previous}: nothing to cancel.\n`,
  );
  return EXIT_OK;
}

function notFound(out: Output, id: number, json = false): number {
  if (json) printJson(out, { id, error: 'not_found' });
  out.error(`reservd: reservation ${id} does not exist\n`);
  return EXIT_NOT_FOUND;
}

export { EXIT_BAD_INPUT };
