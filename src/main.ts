#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { pino } from 'pino';
import { createApp, openServices, siteLookupFor } from './app.js';
import {
  createProgram,
  DEFAULT_CONFIG_PATH,
  withBookNowFlag,
  type AddOptions,
  type BookNowOptions,
  type CommonOptions,
  type DbUrlOptions,
  type DoctorOptions,
  type ListOptions,
  type RunOptions,
  type SandboxOptions,
} from './cli.js';
import { dbUrlCommand, runPsql } from './commands/database.js';
import { doctorCommand } from './commands/doctor.js';
import { processOutput } from './commands/output.js';
import { addReservation, cancelCommand, checkListFilter, listCommand, showCommand, type CommandContext } from './commands/reservations.js';
import type { ReservationStatus } from './db/types.js';
import { clockDate, createOffsetClock, systemClock, type Clock } from './clock.js';
import { ConfigError, loadConfig, secretValuesOf } from './config/load.js';
import type { Config } from './config/schema.js';
import { ContractError } from './contracts/index.js';
import { openDatabase } from './db/create-database.js';
import { migrateToLatest } from './db/migrate.js';
import { openStandingDatabase } from './commands/standing.js';
import { runDemo } from './demo.js';
import { ReservdError } from './errors.js';
import { scrubSecrets } from './redact.js';
import { createSystemdNotifier } from './systemd/notify.js';
import { runSandbox } from './sandbox/run-sandbox.js';
import { bookNow, validateImmediateBooking, type ImmediateBookingInput } from './scheduling/book-now.js';
import { SlotTimeError } from './scheduling/release-time.js';
import { createLogger, type Logger } from './telemetry/logger.js';

/**
 * The process entry: the only file with top-level side effects. Parses the command line,
 * loads config once, creates the logger and the app, installs signal handlers and maps the end to an
 * exit code: 0 clean stop, 1 crash (a bug: logged with its stack), 2 booking failed (`book-now`), 65 invalid
 * booking input (or a change the database's guards refuse, `cancel`), 66 no such reservation (`show`, `cancel`),
 * 69 psql or the database missing (or a `doctor` check failed), 75 a database that stayed unreachable (systemd tries again), 78 an operator
 * error (systemd's `RestartPreventExitStatus=78` stops a restart loop): bad configuration or environment, a
 * database that refuses the login, an embedded data directory or a port in use. Exits 65, 75 and 78 print one
 * sentence on stderr (`reservd: ...`), no stack.
 */

const EXIT_OK = 0;
const EXIT_CRASH = 1;
const EXIT_BOOKING_FAILED = 2;
const EXIT_BAD_INPUT = 65;
const EXIT_BAD_CONFIG = 78;
/** sysexits' EX_TEMPFAIL: the database stayed unreachable; a restart later may find it up (systemd restarts on it). */
const EXIT_TEMPFAIL = 75;

const env = process.env;
/** The level of the logger before the config is loaded: a bad `RESERVD_LOG_LEVEL` is refused by `loadConfig` (exit 78), not by pino. */
const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const earlyLevel = env.RESERVD_LOG_LEVEL !== undefined && LOG_LEVELS.includes(env.RESERVD_LOG_LEVEL) ? env.RESERVD_LOG_LEVEL : 'info';
let logger: Logger = createLogger({ level: earlyLevel, ...(env.DATABASE_URL ? { secrets: [env.DATABASE_URL] } : {}) });

/** Secret values of the loaded config: scrubbed from log lines, printed errors and JSON output. */
let secrets: readonly string[] = env.DATABASE_URL ? [env.DATABASE_URL] : [];

/**
 * Loads the config and re-creates the logger at its level (on stderr when stdout carries a result), scrubbing
 * the config's secrets; the loader's warnings (a secrets file readable by others) are logged once it exists.
 */
function load(options: CommonOptions, logTo: 'stdout' | 'stderr' = 'stdout'): Config {
  const warnings: string[] = [];
  const config = loadConfig(options.config, env, { onWarning: (message) => warnings.push(message) });
  secrets = secretValuesOf(config);
  logger = createLogger({ level: config.log.level, destination: pino.destination({ fd: logTo === 'stdout' ? 1 : 2, sync: false }), secrets });
  for (const warning of warnings) logger.warn({ config: options.config }, `configuration: ${warning}`);
  return config;
}

/** Resolves on the first SIGTERM/SIGINT; a second one forces exit 1. */
function onceStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    let received = 0;
    const handler = (signal: NodeJS.Signals): void => {
      received += 1;
      if (received === 1) {
        logger.info({ signal }, `received ${signal}; stopping`);
        resolve(signal);
      } else {
        logger.warn({ signal }, `received ${signal} again; forcing exit`);
        process.exit(EXIT_CRASH);
      }
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/**
 * The daemon's clock: the system clock, or — for process-level tests only — the system clock shifted by
 * `RESERVD_TEST_CLOCK_OFFSET_MS` (an integer, ms), so a spawned daemon can stand seconds before a release
 * that is days away. Logged loudly: a shifted clock books at the wrong time.
 *
 * @throws ConfigError when the variable is set but not an integer.
 */
function daemonClock(): Clock {
  const raw = env.RESERVD_TEST_CLOCK_OFFSET_MS;
  if (raw === undefined || raw === '') return systemClock;
  const offsetMs = Number(raw);
  if (!Number.isSafeInteger(offsetMs)) throw new ConfigError(`RESERVD_TEST_CLOCK_OFFSET_MS must be an integer number of ms, got "${raw}"`);
  logger.warn({ offset_ms: offsetMs }, 'RESERVD_TEST_CLOCK_OFFSET_MS is set: the daemon runs on a shifted clock (tests only)');
  return createOffsetClock(offsetMs);
}

/**
 * `reservd run`: starts the daemon and, under systemd (`NOTIFY_SOCKET` set), sends READY=1 once migrations ran
 * and the scheduler's first tick loaded the queue, WATCHDOG=1 pings from the event loop, and STOPPING=1 on the
 * stop signal (src/systemd/notify.ts).
 */
async function run(options: RunOptions): Promise<number> {
  const config = load(options);
  const clock = daemonClock();
  const notifier = createSystemdNotifier({ env, clock, logger });
  const app = createApp({ config, logger, clock });
  const stopSignal = onceStopSignal();
  let stopRequested = false;
  void stopSignal.then(() => (stopRequested = true));
  await notifier.status('starting: opening and migrating the database');
  await app.start();
  // The queue is loaded once the scheduler's first tick has read it (a failing tick retries with backoff).
  while (!stopRequested && app.scheduler()?.lastTickAt() == null) await clock.sleep(QUEUE_LOADED_POLL_MS);
  if (!stopRequested) {
    notifier.startWatchdog();
    await notifier.ready(`running: venues ${Object.keys(config.venues).join(', ') || '(none)'}`);
    startTestBusyLoop(clock);
  }
  await stopSignal;
  await notifier.stopping(`stopping: draining in-flight bookings (up to ${config.daemon.stopGraceMs} ms)`);
  try {
    await app.stop();
  } finally {
    notifier.stopWatchdog();
  }
  return EXIT_OK;
}

/** How often `run` checks whether the scheduler's first tick has loaded the queue (ms). */
const QUEUE_LOADED_POLL_MS = 10;

/**
 * Tests only: `RESERVD_TEST_BUSY_LOOP_AT_MS` (an integer, ms) freezes the event loop in a busy loop that many
 * ms after READY=1, so a process test can show that WATCHDOG=1 pings stop and a supervisor restarts the
 * daemon (test/systemd.test.ts). Never set it in production: the daemon hangs until it is killed.
 *
 * @throws ConfigError when the variable is set but not a non-negative integer.
 */
function startTestBusyLoop(clock: Clock): void {
  const raw = env.RESERVD_TEST_BUSY_LOOP_AT_MS;
  if (raw === undefined || raw === '') return;
  const atMs = Number(raw);
  if (!Number.isSafeInteger(atMs) || atMs < 0) throw new ConfigError(`RESERVD_TEST_BUSY_LOOP_AT_MS must be a non-negative integer number of ms, got "${raw}"`);
  logger.warn({ at_ms: atMs }, 'RESERVD_TEST_BUSY_LOOP_AT_MS is set: the event loop will freeze (tests only)');
  void clock.sleep(atMs).then(() => {
    logger.warn('RESERVD_TEST_BUSY_LOOP_AT_MS: freezing the event loop now');
    for (;;) clock.now();
  });
}

async function migrate(options: CommonOptions): Promise<number> {
  const config = load(options);
  const database = await openDatabase(config.database, logger);
  try {
    const applied = await migrateToLatest(database.db, logger);
    logger.info({ applied }, `migrations applied: ${applied.length}`);
  } finally {
    await database.close();
  }
  return EXIT_OK;
}

async function sandbox(options: SandboxOptions): Promise<number> {
  const config = load(options);
  const port = options.port ?? config.sandbox.port;
  const site = await runSandbox({ config, clock: systemClock, port, clockSkewMs: options.clockSkewMs ?? config.sandbox.clockSkewMs, logger }).catch((err: unknown) => {
    // An operator error (exit 78): say which port and the fix instead of Node's "listen EADDRINUSE".
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new ReservdError('port_in_use', `sandbox: port ${port} on 127.0.0.1 is in use by another program; stop it or pass --port (0 picks a free one).`, { cause: err });
  });
  await onceStopSignal();
  await site.stop();
  return EXIT_OK;
}

async function bookNowCommand(options: BookNowOptions): Promise<number> {
  const config = load(options, 'stderr');
  const clock = daemonClock();
  const input = toInput(options);
  // Before the database and Chromium: bad input exits 65 with its one sentence, and nothing is started.
  validateImmediateBooking(config, input, new Date(clock.now()));
  // attach: a daemon holding the embedded database is talked to, not refused with data_dir_in_use.
  const services = await openServices({ config, logger, clock, attach: true });
  const abort = new AbortController();
  void onceStopSignal().then(() => abort.abort());
  try {
    const { reservationId, result, recorded } = await bookNow({
      db: services.database.db,
      config,
      clock,
      logger,
      executor: services.executor,
      owner: services.daemonId,
      siteLookup: siteLookupFor(config),
      signal: abort.signal,
      input,
    });
    // `recorded: false`: the row changed under the booking (cancelled, taken over); the row says what to check.
    const summary = { reservation_id: reservationId, status: result.status, outcome: result.outcome, court: result.court, confirmation_code: result.confirmationCode, errors: result.errors, recorded };
    process.stdout.write(`${scrubSecrets(JSON.stringify(summary), secrets)}\n`);
    return result.status === 'success' ? EXIT_OK : EXIT_BOOKING_FAILED;
  } finally {
    await services.close();
  }
}

function toInput(options: BookNowOptions): ImmediateBookingInput {
  return {
    user: { firstName: options.firstName, lastName: options.lastName, email: options.email, phone: options.phone },
    venue: options.venue,
    targetDate: options.date,
    targetTime: options.time,
    courts: options.courts,
  };
}

/**
 * Runs a data command on the database of `options.config` (migrated first), logging to stderr so stdout carries
 * only the result; `check` (input validation) runs before the database is opened. A running daemon's embedded server is attached to, never started twice.
 */
async function withDatabase(options: CommonOptions, work: (ctx: CommandContext) => Promise<number>, check?: (config: Config, now: Date) => void): Promise<number> {
  const config = load(options, 'stderr');
  // Bad input exits 65 before the database is opened (an embedded one started, migrations run).
  check?.(config, new Date(daemonClock().now()));
  const database = await openDatabase(config.database, logger, { attach: true });
  try {
    await migrateToLatest(database.db, logger);
    const out = { write: (text: string) => processOutput.write(scrubSecrets(text, secrets)), error: processOutput.error };
    return await work({ db: database.db, config, now: new Date(daemonClock().now()), out });
  } finally {
    await database.close();
  }
}

async function listFromOptions(o: ListOptions): Promise<number> {
  const filter = {
    ...(o.status ? { status: o.status as ReservationStatus[] } : {}),
    ...(o.venue !== undefined ? { venue: o.venue } : {}),
    ...(o.from !== undefined ? { from: o.from } : {}),
    ...(o.to !== undefined ? { to: o.to } : {}),
    ...(o.email !== undefined ? { email: o.email } : {}),
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
  };
  checkListFilter(filter); // bad flags exit 65 before the database is opened (or migrated)
  return withDatabase(o, (ctx) => listCommand(ctx, filter, o.json === true));
}

async function psqlCommand(args: string[], options: CommonOptions): Promise<number> {
  const config = load(options, 'stderr');
  const database = await openDatabase(config.database, logger, { attach: true });
  try {
    return await runPsql(database.url, args, processOutput);
  } finally {
    await database.close();
  }
}

const dataCommands = {
  add: (o: AddOptions) =>
    withDatabase(
      o,
      (ctx) => addReservation(ctx, toInput(o), o.json === true, o.telegramChatId),
      (config, now) => void validateImmediateBooking(config, toInput(o), now),
    ),
  list: listFromOptions,
  show: (id: number, o: CommonOptions & { json?: boolean }) => withDatabase(o, (ctx) => showCommand(ctx, id, o.json === true)),
  cancel: (id: number, o: CommonOptions & { json?: boolean }) => withDatabase(o, (ctx) => cancelCommand(ctx, id, o.json === true)),
  dbUrl: (o: DbUrlOptions) => dbUrlCommand(load(o, 'stderr').database, processOutput, { showPassword: o.showPassword === true, json: o.json === true }),
  psql: psqlCommand,
  doctor: (o: DoctorOptions) =>
    doctorCommand({
      configPath: o.config,
      load: () => load(o, 'stderr'),
      // The logger `load` re-creates (stderr, the config's level), looked up at each call.
      logger: { info: (obj, msg) => logger.info(obj, msg), warn: (obj, msg) => logger.warn(obj, msg), error: (obj, msg) => logger.error(obj, msg) },
      clock: systemClock,
      out: { write: (text) => processOutput.write(scrubSecrets(text, secrets)), error: processOutput.error },
      json: o.json === true,
      browser: o.browser,
    }),
};

/**
 * pg's answers when the server refuses the login or cannot be found: SQLSTATE 28P01 (wrong password), 28000
 * (no such role / no pg_hba entry), 3D000 (no such database), and a host that does not resolve (ENOTFOUND).
 * `openDatabase` adds the URL (password replaced) to the message.
 */
const OPERATOR_PG_CODES = new Set(['28P01', '28000', '3D000', 'ENOTFOUND']);

/** The exit code of a failed command, by the error's stable `code` (docs/architecture.md "Errors"). */
function exitCodeFor(err: unknown): number {
  if (!(err instanceof ReservdError)) {
    const code = (err as { code?: unknown } | null)?.code;
    return typeof code === 'string' && OPERATOR_PG_CODES.has(code) ? EXIT_BAD_CONFIG : EXIT_CRASH;
  }
  switch (err.code) {
    case 'config_invalid':
    case 'browser_not_found':
    // Set-up problems an operator must fix; restarting cannot help: an embedded data directory PostgreSQL
    // cannot use or another PostgreSQL already runs on, a port in use.
    case 'data_dir_unusable':
    case 'data_dir_in_use':
    case 'port_in_use':
      return EXIT_BAD_CONFIG;
    // A database that stayed unreachable for database.retryMs: one sentence too, but not 78 — at boot the
    // server may simply not be up yet, and systemd must try again (Restart=on-failure, RestartSec).
    case 'unavailable':
      return EXIT_TEMPFAIL;
    case 'invalid_request': // ContractError
    case 'slot_time_invalid': // SlotTimeError
      return EXIT_BAD_INPUT;
    default:
      return EXIT_CRASH;
  }
}

function exit(code: number): void {
  logger.flush(() => process.exit(code));
}

process.on('unhandledRejection', (err) => {
  logger.fatal({ err }, 'unhandled promise rejection');
  exit(EXIT_CRASH);
});

/**
 * package.json's `version`: the file two levels up from `dist/src/main.js`, one up from `src/main.ts` (tsx).
 * @throws Error when neither holds reservd's package.json (a broken install: a crash, exit 1).
 */
function packageVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    const path = new URL(relative, import.meta.url);
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'reservd' && typeof pkg.version === 'string') return pkg.version;
  }
  throw new Error(`reservd: no package.json with a version found above ${import.meta.url}`);
}

const program = createProgram(
  {
    run, migrate, sandbox, bookNow: bookNowCommand, demo: (o) => runDemo({ configPath: o.config, env, onStopSignal: onceStopSignal }),
    ...dataCommands,
    standing: { load: (path) => load({ config: path }, 'stderr'), openDatabase: (config) => openStandingDatabase(config, logger), write: (text) => process.stdout.write(scrubSecrets(text, secrets)), now: () => clockDate(systemClock) },
  },
  exit,
  env.RESERVD_CONFIG ?? DEFAULT_CONFIG_PATH,
  packageVersion(),
);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? EXIT_OK : 64);
  }
  const code = exitCodeFor(err);
  const message = scrubSecrets(err instanceof Error ? err.message : String(err), secrets);
  if (code === EXIT_BAD_CONFIG || code === EXIT_BAD_INPUT || code === EXIT_TEMPFAIL) {
    const field = (err as { field?: string }).field;
    // Only `book-now`, `add`, `standing` and the data commands let an input error reach this point (the daemon rejects a bad
    // row and keeps running); `add` shares book-now's flags.
    // One sentence on stderr and nothing else: a log line beside it would say the same thing twice.
    process.stderr.write(`reservd: ${code === EXIT_BAD_INPUT ? withBookNowFlag(field, message) : message}\n`);
  } else {
    logger.fatal({ err }, `reservd crashed: ${message}`);
  }
  exit(code);
});
