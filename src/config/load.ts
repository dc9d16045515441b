import { readFileSync } from 'node:fs';
import { ReservdError } from '../errors.js';
import { formatConfigIssues } from './issues.js';
import { resolveSecrets } from './secrets.js';
import { configSchema, type Config } from './schema.js';

/** Thrown when the configuration file or environment is invalid; `main` maps it to exit code 78. */
export class ConfigError extends ReservdError {
  /** Always `config_invalid`. */
  declare readonly code: 'config_invalid';
  /** Never retryable: the same configuration fails the same way until an operator fixes it. */
  declare readonly retryable: false;

  /**
   * @param message - names the file, key or variable at fault and how to fix it.
   * @param options - `cause`: the underlying error (zod's, the file system's), if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super('config_invalid', message, { ...options, retryable: false });
  }
}

/** Environment variables reservd reads (only here and in `main.ts` is `process.env` read). */
export interface ConfigEnv {
  /** Postgres connection string (a secret); overrides `database.url`. */
  DATABASE_URL?: string | undefined;
  /** Overrides `log.level`. */
  RESERVD_LOG_LEVEL?: string | undefined;
  /** Overrides `daemon.browserExecutable`. */
  RESERVD_BROWSER?: string | undefined;
  /** Any variable a secret's `{ "fromEnv": "NAME" }` names. */
  [name: string]: string | undefined;
}

/** Options of {@link parseConfig} and {@link loadConfig}. */
export interface ParseConfigOptions {
  /**
   * Receives each warning (a secrets file readable by group or others, a password written in the config file);
   * default `process.emitWarning`. `main.ts` logs them once the logger exists.
   */
  onWarning?: (message: string) => void;
  /** Reads a `fromFile` secret (default `readFileSync(path, 'utf8')`). */
  readFile?: (path: string) => string;
  /** A `fromFile` secret's permission bits (default `statSync(path).mode`). */
  fileMode?: (path: string) => number;
}

/** Config keys holding secrets: their given values are never quoted in an error message. */
const SECRET_CONFIG_PATHS: ReadonlySet<string> = new Set(['database.url', 'database.password', 'notify.webhook.secret', 'notify.telegram.botToken']);

/** The secret values of each config `parseConfig` returned (for log and message scrubbing). */
const secretValues = new WeakMap<object, readonly string[]>();

/**
 * The secret values `config` was resolved with (every `fromEnv`/`fromFile`/literal secret, `DATABASE_URL`, the
 * final database URL and its password), for `createLogger({ secrets })` and `scrubSecrets`. Empty for an
 * object `parseConfig` did not return.
 */
export function secretValuesOf(config: Config): readonly string[] {
  return secretValues.get(config) ?? [];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates a raw configuration object plus environment overrides, resolves its secrets (`secrets.ts`) and
 * returns a deep-frozen {@link Config}.
 *
 * @throws ConfigError listing every problem at once, one line each, by key path (e.g.
 *   `venues.la-villa.releaseRule: mixes two kinds of rule ...`, `database.password: the environment variable
 *   DB_PASSWORD ("fromEnv") is not set ...`); an unset secret variable or unreadable file is such a problem.
 */
export function parseConfig(raw: unknown, env: ConfigEnv = {}, options: ParseConfigOptions = {}): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = formatConfigIssues(result.error.issues, { schema: configSchema, raw, secretPaths: SECRET_CONFIG_PATHS });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`, { cause: result.error });
  }
  const onWarning = options.onWarning ?? ((message: string) => process.emitWarning(message, 'ReservdConfigWarning'));
  const resolved = resolveSecrets(result.data, { env, onWarning, ...(options.readFile ? { readFile: options.readFile } : {}), ...(options.fileMode ? { fileMode: options.fileMode } : {}) });
  if (resolved.problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${resolved.problems.join('\n  ')}`);
  const config = resolved.value as Config;
  // A URL written in the file is a secret only when it carries a password.
  const secrets = resolved.secrets.flatMap((s) => (s.literal && s.path === 'database.url' ? urlSecrets(s.value) : [s.value]));
  if (env.DATABASE_URL) {
    config.database.url = env.DATABASE_URL;
    secrets.push(env.DATABASE_URL);
  }
  secrets.push(...withDatabasePassword(config, resolved.secrets, !env.DATABASE_URL, onWarning));
  if (env.RESERVD_BROWSER) config.daemon.browserExecutable = env.RESERVD_BROWSER;
  if (env.RESERVD_LOG_LEVEL) {
    const levelSchema = configSchema.shape.log.unwrap().shape.level.unwrap();
    const level = levelSchema.safeParse(env.RESERVD_LOG_LEVEL);
    if (!level.success) throw new ConfigError(`RESERVD_LOG_LEVEL: must be one of ${levelSchema.options.map((o) => `"${o}"`).join(', ')}, got "${env.RESERVD_LOG_LEVEL}"`);
    config.log.level = level.data;
  }
  const frozen = deepFreeze(config);
  secretValues.set(frozen, [...new Set(secrets)]);
  return frozen;
}

/**
 * Puts `database.password` into `database.url` (it replaces the URL's own password) and warns about a password
 * written literally in the config file. Returns the final URL and its password, both secrets.
 *
 * @throws ConfigError when a password is given without a URL, or the URL does not parse.
 */
function withDatabasePassword(config: Config, secrets: ReadonlyArray<{ path: string; literal: boolean }>, urlFromFile: boolean, onWarning: (message: string) => void): string[] {
  const { url, password } = config.database;
  if (url === null) {
    if (password !== null) throw new ConfigError('invalid configuration:\n  database.password: is set but there is no database.url (or DATABASE_URL) to use it with; the embedded PostgreSQL needs none');
    return [];
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('invalid configuration:\n  database.url: is not a URL; expected "postgres://user@host:5432/database" (the value is withheld: it may hold a password)');
  }
  if (password !== null) parsed.password = password;
  const literal = (path: string) => secrets.some((s) => s.path === path && s.literal);
  if (literal('database.password') || (urlFromFile && literal('database.url') && parsed.password && password === null)) {
    onWarning('database: a password is written in the configuration file; give it as { "fromFile": "/etc/reservd/db-password" } (mode 600) or { "fromEnv": "NAME" } instead');
  }
  if (password !== null) config.database.url = parsed.toString();
  return urlSecrets(config.database.url as string);
}

/** A URL with a password and its password (decoded and as written); nothing for a URL without one. */
function urlSecrets(url: string): string[] {
  try {
    const { password } = new URL(url);
    return password ? [url, decodeURIComponent(password), password] : [];
  } catch {
    return [url];
  }
}

/**
 * Reads a JSON configuration file and validates it with {@link parseConfig}.
 *
 * @throws ConfigError when the file is missing, is not JSON, or is invalid (the message names the file and key).
 */
export function loadConfig(path: string, env: ConfigEnv = {}, options: ParseConfigOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`configuration file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseConfig(raw, env, options);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${path}: ${err.message}`, { cause: err.cause });
    throw err;
  }
}
