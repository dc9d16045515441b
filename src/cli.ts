import { Command, InvalidArgumentError } from 'commander';
import { registerStandingCommands, type StandingCommandDeps } from './commands/standing.js';

/**
 * Command-line grammar (commander). Parsing only: each command hands a typed options object to the
 * handler `main.ts` provides, so this file has no side effects of its own.
 */

/** Default configuration file, relative to the working directory (env `RESERVD_CONFIG` overrides). */
export const DEFAULT_CONFIG_PATH = 'config/reservd.json';

/** Options every command takes. */
export interface CommonOptions {
  config: string;
}
export type RunOptions = CommonOptions;
export interface SandboxOptions extends CommonOptions {
  port?: number;
  clockSkewMs?: number;
}
export interface BookNowOptions extends CommonOptions {
  venue: string;
  date: string;
  time: string;
  courts: number[];
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}
export interface DemoOptions {
  config?: string;
}
/** Options of the commands that print data: `--json` prints it as JSON instead of text. */
export interface JsonOption {
  json?: boolean;
}
export type AddOptions = BookNowOptions & JsonOption & {
  /** `booking_users.telegram_chat_id` to store for the person (README "Notifications"). */
  telegramChatId?: string;
};
export interface DoctorOptions extends CommonOptions, JsonOption {
  /** False with `--no-browser`: Chromium is not launched. */
  browser: boolean;
}
export interface ListOptions extends CommonOptions, JsonOption {
  status?: string[];
  venue?: string;
  from?: string;
  to?: string;
  email?: string;
  limit?: number;
}
export type ShowOptions = CommonOptions & JsonOption;
export type CancelOptions = CommonOptions & JsonOption;
export interface DbUrlOptions extends CommonOptions, JsonOption {
  showPassword?: boolean;
}
export type PsqlOptions = CommonOptions;

/** What each command does; `main.ts` supplies them. Each resolves to the process exit code. */
export interface CommandHandlers {
  run(options: RunOptions): Promise<number>;
  migrate(options: CommonOptions): Promise<number>;
  sandbox(options: SandboxOptions): Promise<number>;
  bookNow(options: BookNowOptions): Promise<number>;
  demo(options: DemoOptions): Promise<number>;
  /** `reservd standing ...` (src/commands/standing.ts); without it those commands throw. */
  standing?: StandingCommandDeps;
  add(options: AddOptions): Promise<number>;
  list(options: ListOptions): Promise<number>;
  show(id: number, options: ShowOptions): Promise<number>;
  cancel(id: number, options: CancelOptions): Promise<number>;
  dbUrl(options: DbUrlOptions): Promise<number>;
  psql(args: string[], options: PsqlOptions): Promise<number>;
  /** `reservd doctor` (src/commands/doctor.ts); without it the command throws. */
  doctor?(options: DoctorOptions): Promise<number>;
}

/**
 * The `book-now` flag of each field a validation error may name (the error names the column, as for a queued
 * row; see `REQUEST_FIELDS` in `src/contracts/`).
 */
export const BOOK_NOW_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  venue: '--venue',
  target_date: '--date',
  target_time: '--time',
  'target_date/target_time': '--date/--time',
  courts: '--courts',
  'booking_users.first_name': '--first-name',
  'booking_users.last_name': '--last-name',
  'booking_users.email': '--email',
  'booking_users.phone': '--phone',
});

/**
 * A `book-now` validation message with the flag beside the column it names:
 * `target_time: "25:00" is ...` → `target_time (--time): "25:00" is ...`. A message about another field,
 * or not of the `field: ...` form, is returned unchanged.
 */
export function withBookNowFlag(field: string | undefined, message: string): string {
  const flag = field === undefined || !Object.hasOwn(BOOK_NOW_FLAGS, field) ? undefined : BOOK_NOW_FLAGS[field];
  return flag !== undefined && message.startsWith(`${field}: `) ? `${field} (${flag}): ${message.slice(field!.length + 2)}` : message;
}

function parseInteger(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number (got "${value}")`);
    return Number(value);
  };
}

function parseCourts(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(`--courts must be a comma-separated list of court numbers such as "2,1" (got "${value}")`);
  return parts.map(Number);
}

function parseId(value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`<id> must be a reservation id, a whole number from 1 to ${Number.MAX_SAFE_INTEGER} (got "${value}")`);
  return Number(value);
}

/** The slot and person flags `book-now` and `add` share. */
function withBookingFlags(command: Command): Command {
  return command
    .requiredOption('--venue <id>', 'venue id from the config')
    .requiredOption('--date <YYYY-MM-DD>', 'slot date, venue-local')
    .requiredOption('--time <HH:MM>', 'slot start, venue-local 24 h')
    .requiredOption('--courts <list>', 'preferred courts in order, e.g. 2,1', parseCourts)
    .requiredOption('--first-name <name>', "client's first name")
    .requiredOption('--last-name <name>', "client's last name")
    .requiredOption('--email <email>', "client's email")
    .requiredOption('--phone <phone>', "client's phone");
}

/** The reservation and database commands (`add`, `list`, `show`, `cancel`, `db-url`, `psql`, `doctor`). */
function addDataCommands(program: Command, handlers: CommandHandlers, configOption: readonly [string, string, string], finish: (p: Promise<number>) => Promise<void>): void {
  const json = ['--json', 'print the result as JSON'] as const;
  withBookingFlags(program.command('add').description('queue a reservation (a pending row the daemon validates, schedules and books at its release)').option(...configOption))
    .option('--telegram-chat-id <id>', "the person's Telegram chat id, stored in booking_users.telegram_chat_id (README \"Notifications\")")
    .option(...json)
    .action((o: AddOptions) => finish(handlers.add(o)));
  program
    .command('list')
    .description('list reservations, by slot')
    .option(...configOption)
    .option('--status <list>', 'only these statuses, comma-separated (e.g. pending,scheduled)', (v: string) => v.split(',').map((p) => p.trim()).filter(Boolean))
    .option('--venue <id>', 'only this venue')
    .option('--from <YYYY-MM-DD>', 'slot date on or after (venue-local)')
    .option('--to <YYYY-MM-DD>', 'slot date on or before (venue-local)')
    .option('--email <email>', "only this person's reservations")
    .option('--limit <n>', 'at most n rows (default 500)', parseInteger('--limit'))
    .option(...json)
    .action((o: ListOptions) => finish(handlers.list(o)));
  program
    .command('show')
    .description('show a reservation, its booking attempts and its status timeline')
    .argument('<id>', 'reservation id', parseId)
    .option(...configOption)
    .option(...json)
    .action((id: number, o: ShowOptions) => finish(handlers.show(id, o)));
  program
    .command('cancel')
    .description('cancel a reservation (a booked one is refused: cancel it on the site)')
    .argument('<id>', 'reservation id', parseId)
    .option(...configOption)
    .option(...json)
    .action((id: number, o: CancelOptions) => finish(handlers.cancel(id, o)));
  program
    .command('db-url')
    .description('print the connection URL of the database in use (embedded or not), password redacted')
    .option(...configOption)
    .option('--show-password', 'print the password too')
    .option(...json)
    .action((o: DbUrlOptions) => finish(handlers.dbUrl(o)));
  program
    .command('psql')
    .description('run psql on the database in use (arguments after -- go to psql)')
    .argument('[args...]', 'psql arguments')
    .option(...configOption)
    .action((args: string[], o: PsqlOptions) => finish(handlers.psql(args, o)));
  program
    .command('doctor')
    .description('check the config, database, Chromium, each venue\'s site and clock; one line per check (exit 0 ok, 69 a check failed, 78 bad config)')
    .option(...configOption)
    .option('--no-browser', 'do not launch Chromium')
    .option(...json)
    .action((o: DoctorOptions) => finish(handlers.doctor ? handlers.doctor(o) : Promise.reject(new Error('reservd doctor is not wired in this program'))));
}

/**
 * Builds the `reservd` program. `onExit` receives the exit code a handler resolved to.
 * @param defaultConfig config path used when `--config` is not given.
 * @param version what `reservd --version` prints (package.json's `version`); none: no `--version` option.
 */
export function createProgram(handlers: CommandHandlers, onExit: (code: number) => void, defaultConfig = DEFAULT_CONFIG_PATH, version?: string): Command {
  const program = new Command('reservd')
    .description('Books reservations the instant a booking site releases them.')
    .showHelpAfterError()
    .exitOverride();
  if (version !== undefined) program.version(version, '-V, --version', 'print the version and exit');
  const configOption = ['-c, --config <file>', 'configuration file (JSON)', defaultConfig] as const;
  const finish = (p: Promise<number>): Promise<void> => p.then(onExit);

  program
    .command('run')
    .description('run the daemon: validate, schedule and book queued reservations')
    .option(...configOption)
    .action((o: RunOptions) => finish(handlers.run(o)));
  program
    .command('migrate')
    .description('apply database migrations and exit')
    .option(...configOption)
    .action((o: CommonOptions) => finish(handlers.migrate(o)));
  program
    .command('sandbox')
    .description('serve the Acuity-style sandbox booking site on 127.0.0.1 for the configured venues')
    .option(...configOption)
    .option('-p, --port <n>', 'port (0 picks a free one; default from config sandbox.port)', parseInteger('--port'))
    .option('--clock-skew-ms <ms>', "the site's clock minus the true clock, ms", parseInteger('--clock-skew-ms'))
    .action((o: SandboxOptions) => finish(handlers.sandbox(o)));
  withBookingFlags(program.command('book-now').description('book one slot immediately (same validation, executor and persistence as the queue)').option(...configOption))
    .action((o: BookNowOptions) => finish(handlers.bookNow(o)));
  program
    .command('demo')
    .description('start the sandbox site, the database (embedded unless DATABASE_URL) and the daemon; book three reservations released within a minute')
    .option('-c, --config <file>', 'base configuration (default: built-in demo venue)')
    .action((o: DemoOptions) => finish(handlers.demo(o)));
  registerStandingCommands(program, handlers.standing, configOption, finish);
  addDataCommands(program, handlers, configOption, finish);
  return program;
}
