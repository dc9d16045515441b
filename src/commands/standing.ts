import { type Command, InvalidArgumentError } from 'commander';
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import { ContractError } from '../contracts/index.js';
import { openDatabase } from '../db/create-database.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Database } from '../db/types.js';
import { getStandingStatus, insertStanding, listStanding, removeStanding, setStandingStatus, userExists, type StandingRow } from '../reservations/index.js';
import { listOccurrences } from '../standing/occurrences.js';
import { validateStanding } from '../standing/validate-standing.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * `reservd standing add|list|pause|resume|remove`: the person's side of standing reservations (README
 * "Standing reservations"). Input errors are `ContractError`s naming the field (exit 65 in `main.ts`).
 */

/** An open database for one command. */
export interface StandingDatabase {
  db: Kysely<Database>;
  close(): Promise<void>;
}

/** What the standing commands need from the process (`main.ts` supplies it; tests pass their own). */
export interface StandingCommandDeps {
  /** Loads and validates the config file. @throws ConfigError. */
  load(configPath: string): Config;
  /** Opens (and migrates) the config's database. */
  openDatabase(config: Config): Promise<StandingDatabase>;
  /** Writes command output (stdout). */
  write(text: string): void;
  /** The current instant. */
  now(): Date;
}

/** Opens the config's database and applies the migrations (the table must exist for a first `add`). */
export async function openStandingDatabase(config: Config, logger: Logger): Promise<StandingDatabase> {
  const handle = await openDatabase(config.database, logger, { attach: true });
  try {
    await migrateToLatest(handle.db, logger);
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
  return { db: handle.db, close: () => handle.close() };
}

function parseCourts(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(`--courts must be a comma-separated list of court numbers such as "3,1" (got "${value}")`);
  return parts.map(Number);
}

function parseId(name: string) {
  return (value: string): number => {
    if (!/^[1-9]\d{0,14}$/.test(value)) throw new InvalidArgumentError(`${name} must be a positive whole number (got "${value}")`);
    return Number(value);
  };
}

/**
 * The next `count` occurrences of a standing row that can still be queued (release after `now`),
 * `YYYY-MM-DD HH:MM`, for messages (empty for an unknown venue or a pattern that no longer validates).
 */
function nextOccurrences(config: Config, row: { venue: string; cron: string; untilDate: string | null }, now: Date, count: number): string[] {
  const venue = Object.hasOwn(config.venues, row.venue) ? config.venues[row.venue] : undefined;
  if (!venue) return [];
  try {
    return listOccurrences({ cron: row.cron, venue, after: now, releasedAfter: now, untilDate: row.untilDate, limit: count }).map((o) => `${o.targetDate} ${o.targetTime}`);
  } catch {
    return [];
  }
}

async function withDatabase<T>(deps: StandingCommandDeps, config: Config, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const database = await deps.openDatabase(config);
  try {
    return await work(database.db);
  } finally {
    await database.close();
  }
}

interface AddOptions {
  config: string;
  user: number;
  venue: string;
  cron: string;
  courts: number[];
  until?: string;
}

async function add(deps: StandingCommandDeps, o: AddOptions): Promise<number> {
  const config = deps.load(o.config);
  const now = deps.now();
  const input = { venue: o.venue, courts: o.courts, cron: o.cron, untilDate: o.until ?? null };
  // Before the database: a wrong pattern or court is refused with its one sentence.
  validateStanding(config, input, now);
  const id = await withDatabase(deps, config, async (db) => {
    if (!(await userExists(db, o.user))) throw new ContractError('user_id', `no booking_users row has id ${o.user}`);
    return insertStanding(db, { userId: o.user, ...input, now });
  });
  const next = nextOccurrences(config, input, now, 3);
  deps.write(`standing reservation ${id} added: venue ${o.venue}, cron "${o.cron}" (${config.venues[o.venue]!.timeZone}), courts ${o.courts.join(',')}${o.until ? `, until ${o.until}` : ''}; next: ${next.join(', ') || 'none'}\n`);
  return 0;
}

function rowJson(config: Config, row: StandingRow, now: Date): Record<string, unknown> {
  return {
    id: row.id,
    user_id: row.userId,
    venue: row.venue,
    courts: row.courts,
    cron: row.cron,
    status: row.status,
    until_date: row.untilDate,
    created_at: row.createdAt.toISOString(),
    created_rows: row.createdRows,
    next_occurrence: row.status === 'active' ? (nextOccurrences(config, row, now, 1)[0] ?? null) : null,
  };
}

async function list(deps: StandingCommandDeps, o: { config: string; json?: boolean; all?: boolean }): Promise<number> {
  const config = deps.load(o.config);
  const now = deps.now();
  const rows = await withDatabase(deps, config, (db) => listStanding(db, o.all ? { statuses: ['active', 'paused', 'removed'] } : {}));
  const items = rows.map((row) => rowJson(config, row, now));
  if (o.json) {
    deps.write(`${JSON.stringify(items)}\n`);
    return 0;
  }
  if (items.length === 0) deps.write('no standing reservations\n');
  for (const r of items) {
    deps.write(`${String(r.id)}\t${String(r.status)}\tuser ${String(r.user_id)}\t${String(r.venue)}\t"${String(r.cron)}"\tcourts ${(r.courts as number[]).join(',')}\tuntil ${String(r.until_date ?? '-')}\trows ${String(r.created_rows)}\tnext ${String(r.next_occurrence ?? '-')}\n`);
  }
  return 0;
}

/** Pause (`active → paused`) or resume (`paused → active`); a row already there is left as is. */
async function setStatus(deps: StandingCommandDeps, o: { config: string }, id: number, to: 'active' | 'paused'): Promise<number> {
  const config = deps.load(o.config);
  const verb = to === 'paused' ? 'paused' : 'resumed';
  const message = await withDatabase(deps, config, async (db) => {
    const from = to === 'paused' ? 'active' : 'paused';
    if (await setStandingStatus(db, { id, from: [from], to, now: deps.now() })) return `standing reservation ${id} ${verb}`;
    const status = await getStandingStatus(db, id);
    if (status === null) throw new ContractError('id', `no standing reservation has id ${id}`);
    if (status === 'removed') throw new ContractError('id', `standing reservation ${id} was removed; add a new one instead`);
    return `standing reservation ${id} is already ${status}`;
  });
  deps.write(`${message}\n`);
  return 0;
}

async function remove(deps: StandingCommandDeps, o: { config: string; cancelWaiting?: boolean }, id: number): Promise<number> {
  const config = deps.load(o.config);
  const { removed, cancelled } = await withDatabase(deps, config, async (db) => {
    const result = await removeStanding(db, { id, now: deps.now(), cancelWaiting: o.cancelWaiting === true });
    if (!result.removed && (await getStandingStatus(db, id)) === null) throw new ContractError('id', `no standing reservation has id ${id}`);
    return result;
  });
  const tail = o.cancelWaiting ? `; reservations cancelled: ${cancelled.join(', ') || 'none'}` : '; the reservations it already created are kept (cancel them one by one, or use --cancel-waiting)';
  deps.write(removed ? `standing reservation ${id} removed${tail}\n` : `standing reservation ${id} was already removed\n`);
  return 0;
}

/**
 * Adds the `standing` command group to `program`.
 * @param deps - process services; without them (a program built only to parse) each command throws.
 * @param configOption - the `--config` option every command takes.
 * @param finish - hands a handler's exit code to the program's `onExit`.
 */
export function registerStandingCommands(
  program: Command,
  deps: StandingCommandDeps | undefined,
  configOption: readonly [string, string, string],
  finish: (p: Promise<number>) => Promise<void>,
): void {
  const need = (): StandingCommandDeps => {
    if (!deps) throw new Error('reservd standing: no handlers were wired (createProgram without handlers.standing)');
    return deps;
  };
  const standing = program.command('standing').description("recurring reservations: a cron pattern in the venue's zone, queued as ordinary reservations before each release");
  standing
    .command('add')
    .description('add a standing reservation, e.g. every Tuesday 19:00: --cron "0 19 * * 2"')
    .option(...configOption)
    .requiredOption('--user <id>', 'booking_users id of the person', parseId('--user'))
    .requiredOption('--venue <id>', 'venue id from the config')
    .requiredOption('--cron <pattern>', "cron pattern in the venue's zone (minute hour day-of-month month day-of-week); times on the venue's slot grid")
    .requiredOption('--courts <list>', 'preferred courts in order, e.g. 3,1', parseCourts)
    .option('--until <YYYY-MM-DD>', 'last venue-local date an occurrence may fall on (inclusive)')
    .action((o: AddOptions) => finish(add(need(), o)));
  standing
    .command('list')
    .description('list standing reservations (active and paused; --all adds removed ones)')
    .option(...configOption)
    .option('--json', 'print a JSON array')
    .option('--all', 'include removed ones')
    .action((o: { config: string; json?: boolean; all?: boolean }) => finish(list(need(), o)));
  for (const [name, to] of [['pause', 'paused'], ['resume', 'active']] as const) {
    standing
      .command(name)
      .argument('<id>', 'standing reservation id', parseId('<id>'))
      .description(name === 'pause' ? 'stop creating new reservations (the ones already created stay)' : 'create reservations again from the next occurrence whose release has not passed')
      .option(...configOption)
      .action((id: number, o: { config: string }) => finish(setStatus(need(), o, id, to)));
  }
  standing
    .command('remove')
    .argument('<id>', 'standing reservation id', parseId('<id>'))
    .description('remove a standing reservation for good; the reservations it created stay unless --cancel-waiting')
    .option(...configOption)
    .option('--cancel-waiting', 'also cancel its reservations still pending or scheduled (rows being booked are left alone)')
    .action((id: number, o: { config: string; cancelWaiting?: boolean }) => finish(remove(need(), o, id)));
}
