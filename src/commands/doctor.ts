import { readFile, stat } from 'node:fs/promises';
import { sql } from 'kysely';
import { findChromium, launchChromiumVersion } from '../booking/browser.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { openDatabase, type DatabaseHandle } from '../db/create-database.js';
import type { DbLogger } from '../db/logger.js';
import { migrationStatus } from '../db/migrate.js';
import { redactUrl } from '../redact.js';
import { estimateSiteClockOffset } from '../scheduling/site-clock.js';
import { EXIT_OK, EXIT_UNAVAILABLE, printJson, type Output } from './output.js';

/**
 * `reservd doctor`: checks what a daemon needs — the config, the database (reachable, migrated, its clock), Chromium,
 * each venue's site (reachable, its clock offset) and the embedded data directory — and prints one line per check.
 * Exit 0 when nothing failed (warnings allowed), 69 (EX_UNAVAILABLE) when a check failed, 78 when the config
 * itself is invalid (README "Using the CLI"). Nothing is changed: migrations are counted, not run.
 */

/** Exit code when the config cannot be loaded (EX_CONFIG, as every command). */
export const EXIT_DOCTOR_BAD_CONFIG = 78;
/** Default bound of each check, ms: doctor never hangs on a dead host. */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
/** Database clock further than this from the host's: a warning, ms. */
export const DB_CLOCK_WARN_MS = 1_000;

/** `ok` ✔, `warn` ! (worth a look, not a failure), `fail` ✘. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the report. */
export interface CheckResult {
  /** E.g. `config`, `database`, `site la-villa`. */
  name: string;
  status: CheckStatus;
  /** Short detail; never a secret (URLs through `redactUrl`). */
  detail: string;
}

/** What {@link doctorCommand} needs. */
export interface DoctorDeps {
  /** The `--config` path, for the first line. */
  configPath: string;
  /** Loads the config. @throws ConfigError (or any error) when it is invalid: exit 78. */
  load: () => Config;
  logger: DbLogger;
  clock: Clock;
  out: Output;
  json: boolean;
  /** Launch Chromium (default true; `--no-browser` skips it). */
  browser?: boolean;
  /** Bound of each check, ms (default {@link DEFAULT_CHECK_TIMEOUT_MS}). */
  timeoutMs?: number;
}

const MARKS: Record<CheckStatus, string> = { ok: '✔', warn: '!', fail: '✘' };

/** Runs every check in turn and prints the report. @returns 0, 69 or 78 (see the module comment). */
export async function doctorCommand(deps: DoctorDeps): Promise<number> {
  const results: CheckResult[] = [];
  let config: Config;
  try {
    config = deps.load();
    results.push({ name: 'config', status: 'ok', detail: `${deps.configPath} (${plural(Object.keys(config.venues).length, "venue")})` });
  } catch (err) {
    const message = errorText(err);
    // loadConfig's messages name the file already.
    results.push({ name: 'config', status: 'fail', detail: message.startsWith(deps.configPath) ? message : `${deps.configPath}: ${message}` });
    report(deps.out, results, deps.json);
    return EXIT_DOCTOR_BAD_CONFIG;
  }
  const timeoutMs = deps.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  results.push(...(await databaseChecks(config, deps.logger, deps.clock, timeoutMs)));
  if (deps.browser !== false) results.push(await bounded('chromium', deps.clock, timeoutMs, () => checkChromium(config.daemon.browserExecutable, timeoutMs)));
  for (const [id, venue] of Object.entries(config.venues)) {
    results.push(await bounded(`site ${id}`, deps.clock, timeoutMs, (signal) => checkSite(`site ${id}`, venue.site.baseUrl, deps.clock, signal)));
  }
  if (config.database.url === null) results.push(await bounded('data directory', deps.clock, timeoutMs, () => checkDataDir(config.database.embeddedDataDir)));
  report(deps.out, results, deps.json);
  return results.some((r) => r.status === 'fail') ? EXIT_UNAVAILABLE : EXIT_OK;
}

function report(out: Output, results: readonly CheckResult[], json: boolean): void {
  if (json) {
    printJson(out, { ok: !results.some((r) => r.status === 'fail'), checks: results });
    return;
  }
  out.write(results.map((r) => `${MARKS[r.status]} ${r.name}: ${r.detail}\n`).join(''));
}

/** An error's message on one line (a config error lists its problems on indented lines). */
function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ');
}

/**
 * Runs one check, bounded by `timeoutMs`: a check that throws is `fail` with the error's message, one still
 * running at the bound is `fail` "no answer within N ms" (its `signal` is aborted).
 */
export async function bounded(name: string, clock: Clock, timeoutMs: number, check: (signal: AbortSignal) => Promise<CheckResult>): Promise<CheckResult> {
  const abort = new AbortController();
  const done = new AbortController();
  const timeout = clock.sleep(timeoutMs, done.signal).then(
    (): CheckResult => {
      abort.abort(new Error(`no answer within ${timeoutMs} ms`));
      return { name, status: 'fail', detail: `no answer within ${timeoutMs} ms` };
    },
    () => new Promise<CheckResult>(() => undefined), // the check finished first: this sleep was cut short
  );
  try {
    return await Promise.race([check(abort.signal).catch((err: unknown): CheckResult => ({ name, status: 'fail', detail: errorText(err) })), timeout]);
  } finally {
    done.abort();
  }
}

/**
 * The database checks: reachable (URL redacted, server version), migrated (applied vs known) and its clock
 * (`SELECT now()` minus the host's clock at the query's midpoint). Attaches to a running daemon's embedded
 * server, or starts it for the check and stops it after, as the other commands do.
 */
async function databaseChecks(config: Config, logger: DbLogger, clock: Clock, timeoutMs: number): Promise<CheckResult[]> {
  const dbConfig = { ...config.database, retryMs: Math.min(config.database.retryMs, timeoutMs), connectionTimeoutMs: Math.min(config.database.connectionTimeoutMs, timeoutMs) };
  let handle: DatabaseHandle | null = null;
  const opened = openDatabase(dbConfig, logger, { attach: true, clock });
  const result = await bounded('database', clock, timeoutMs, async () => {
    handle = await opened;
    const { rows } = await sql<{ server_version: string }>`SHOW server_version`.execute(handle.db);
    const where = handle.embedded ? (handle.attached ? 'embedded, the running daemon\'s' : 'embedded, started for this check') : 'database.url';
    return { name: 'database', status: 'ok', detail: `${redactUrl(handle.url)} (${where}; PostgreSQL ${rows[0]?.server_version.split(' ')[0] ?? '?'})` };
  });
  if (handle === null) {
    // Timed out while opening: close it once it opens (an embedded server started late is stopped).
    void opened.then((late) => late.close()).catch(() => undefined);
    return [result];
  }
  const db = (handle as DatabaseHandle).db;
  try {
    if (result.status === 'fail') return [result];
    const migrations = await bounded('migrations', clock, timeoutMs, async () => {
      const { applied, pending } = await migrationStatus(db);
      const total = applied.length + pending.length;
      return pending.length === 0
        ? { name: 'migrations', status: 'ok', detail: `${applied.length} of ${total} applied` }
        : { name: 'migrations', status: 'fail', detail: `${applied.length} of ${total} applied; pending ${pending.length > 3 ? `${pending[0]} … ${pending.at(-1)}` : pending.join(', ')} (run "reservd migrate")` };
    });
    const dbClock = await bounded('database clock', clock, timeoutMs, async () => {
      const sentAtMs = clock.now();
      const { rows } = await sql<{ now: Date }>`SELECT now() AS now`.execute(db);
      const receivedAtMs = clock.now();
      const diffMs = Math.round(rows[0]!.now.getTime() - (sentAtMs + receivedAtMs) / 2);
      const detail = `${signed(diffMs)} ms from the host's clock (round trip ${receivedAtMs - sentAtMs} ms)`;
      return { name: 'database clock', status: Math.abs(diffMs) > DB_CLOCK_WARN_MS ? 'warn' : 'ok', detail };
    });
    return [result, migrations, dbClock];
  } finally {
    await (handle as DatabaseHandle).close();
  }
}

function signed(n: number): string {
  return n >= 0 ? `+${n}` : `−${-n}`;
}

/** Finds Chromium (`daemon.browserExecutable`, else auto-detected) and launches it headless once. */
async function checkChromium(configured: string | null, timeoutMs: number): Promise<CheckResult> {
  const path = findChromium(configured);
  const version = await launchChromiumVersion(path, timeoutMs);
  return { name: 'chromium', status: 'ok', detail: `${path} (${version})` };
}

/** Estimates the site's clock from its `Date` headers, as the daemon does before a release. */
async function checkSite(name: string, baseUrl: string, clock: Clock, signal: AbortSignal): Promise<CheckResult> {
  const estimate = await estimateSiteClockOffset({ url: baseUrl, clock, signal });
  const detail = `${baseUrl} answers; clock ${signed(Math.round(estimate.offsetMs))} ms ± ${Math.round(estimate.uncertaintyMs)} ms (${estimate.samples} requests, round trip ${Math.round(estimate.rttMs)} ms)`;
  return { name, status: 'ok', detail };
}

/**
 * The embedded data directory's owner and mode: `warn` when group or others may read it (PostgreSQL refuses
 * to start on a directory wider than 0750) or when it does not exist yet (created on the first start).
 */
export async function checkDataDir(dir: string): Promise<CheckResult> {
  const name = 'data directory';
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { name, status: 'warn', detail: `${dir} does not exist yet (created by the first "reservd migrate" or "reservd run")` };
    throw err;
  }
  const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
  const owner = `${await userName(info.uid)} (uid ${info.uid})`;
  const open = (info.mode & 0o077) !== 0;
  return { name, status: open ? 'warn' : 'ok', detail: `${dir} owner ${owner}, mode ${mode}${open ? '; readable by group or others: chmod 700 it' : ''}` };
}

/** The login name of `uid` from /etc/passwd, else `?`. */
async function userName(uid: number): Promise<string> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  return passwd.split('\n').map((line) => line.split(':')).find((f) => f[2] === String(uid))?.[0] ?? '?';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
