import { spawn } from 'node:child_process';
import type { DatabaseConfig } from '../config/schema.js';
import { embeddedUrlOf, findRunningEmbeddedServer } from '../db/embedded-server.js';
import { redactUrl } from '../redact.js';
import { EXIT_OK, EXIT_UNAVAILABLE, printJson, type Output } from './output.js';

/**
 * `reservd db-url` and `reservd psql`: how a person reaches the database reservd uses — `database.url` /
 * `DATABASE_URL`, or the embedded PostgreSQL (user `postgres`, database `reservd`, password in
 * `<embeddedDataDir>/reservd-password`, port from its `postmaster.pid` while it runs).
 */

/** Where the database is, as `db-url` reports it. */
export interface DatabaseLocation {
  /** Connection URL, password included. */
  url: string;
  embedded: boolean;
  /** For the embedded one: whether a server runs on its data directory now (else the URL is where it will listen). */
  running: boolean | null;
}

/**
 * The database of `config`: its URL, or the embedded server's (running: the port of its `postmaster.pid`;
 * stopped: `database.embeddedPort`). Null when the embedded data directory was never initialised.
 */
export async function locateDatabase(config: DatabaseConfig): Promise<DatabaseLocation | null> {
  if (config.url !== null) return { url: config.url, embedded: false, running: null };
  const running = await findRunningEmbeddedServer(config.embeddedDataDir);
  if (running) return { url: running.url, embedded: true, running: true };
  const url = await embeddedUrlOf(config.embeddedDataDir, config.embeddedPort);
  return url === null ? null : { url, embedded: true, running: false };
}

/** `reservd db-url`: prints the URL, its password as `***` unless `showPassword`. Exit 69 when there is no database yet. */
export async function dbUrlCommand(config: DatabaseConfig, out: Output, options: { showPassword: boolean; json: boolean }): Promise<number> {
  const location = await locateDatabase(config);
  if (location === null) {
    out.error(`reservd: the embedded database in ${config.embeddedDataDir} has not been created yet (run "reservd migrate" or "reservd run" once), or set DATABASE_URL.\n`);
    return EXIT_UNAVAILABLE;
  }
  const url = options.showPassword ? location.url : redactUrl(location.url);
  if (options.json) return printJson(out, { url, embedded: location.embedded, running: location.running });
  out.write(`${url}\n`);
  if (location.running === false) out.error(`reservd: the embedded database is not running (it runs while "reservd run" does); this is where it will listen.\n`);
  return EXIT_OK;
}

/**
 * `reservd psql [args...]`: runs `psql` on `url` with the terminal, the password passed in `PGPASSWORD` (not
 * on the command line, where `ps` shows it). Resolves to psql's exit code; 69 when psql is not installed.
 */
export function runPsql(url: string, args: readonly string[], out: Output, psql = 'psql'): Promise<number> {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  // Ctrl-C in psql cancels its query; the terminal sends SIGINT to reservd too, which must then neither exit
  // (leaving psql orphaned, an embedded server unstopped) nor stop: ignored while psql runs, as system(3) does.
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGQUIT', ignore);
  return new Promise<number>((resolve) => {
    const child = spawn(psql, [parsed.toString(), ...args], { stdio: 'inherit', env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } });
    child.on('error', (err: NodeJS.ErrnoException) => {
      out.error(err.code === 'ENOENT' ? `reservd: psql is not installed (e.g. apt-get install postgresql-client)\n` : `reservd: psql could not start: ${err.message}\n`);
      resolve(EXIT_UNAVAILABLE);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  }).finally(() => {
    process.removeListener('SIGINT', ignore);
    process.removeListener('SIGQUIT', ignore);
  });
}
