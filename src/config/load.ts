import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ReservdError } from '../errors.js';
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
  /** Postgres connection string; overrides `database.url`. */
  DATABASE_URL?: string | undefined;
  /** Overrides `log.level`. */
  RESERVD_LOG_LEVEL?: string | undefined;
  /** Overrides `daemon.browserExecutable`. */
  RESERVD_BROWSER?: string | undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates a raw configuration object plus environment overrides and returns a deep-frozen {@link Config}.
 *
 * @throws ConfigError naming every bad key (e.g. `venues.la-villa.timeZone: must be an IANA time zone ...`).
 */
export function parseConfig(raw: unknown, env: ConfigEnv = {}): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      // zod reports a bad record key as "Invalid key in record" and nests the key schema's own message.
      const message = issue.code === 'invalid_key' ? `invalid key: ${issue.issues.map((i) => i.message).join('; ')}` : issue.message;
      return `${issue.path.join('.') || '(root)'}: ${message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`, { cause: result.error });
  }
  const config = structuredClone(result.data);
  if (env.DATABASE_URL) config.database.url = env.DATABASE_URL;
  if (env.RESERVD_BROWSER) config.daemon.browserExecutable = env.RESERVD_BROWSER;
  if (env.RESERVD_LOG_LEVEL) {
    const level = configSchema.shape.log.unwrap().shape.level.safeParse(env.RESERVD_LOG_LEVEL);
    if (!level.success) throw new ConfigError(`RESERVD_LOG_LEVEL: ${z.prettifyError(level.error)}`);
    config.log.level = level.data;
  }
  return deepFreeze(config);
}

/**
 * Reads a JSON configuration file and validates it with {@link parseConfig}.
 *
 * @throws ConfigError when the file is missing, is not JSON, or is invalid (the message names the file and key).
 */
export function loadConfig(path: string, env: ConfigEnv = {}): Config {
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
    return parseConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${path}: ${err.message}`, { cause: err.cause });
    throw err;
  }
}
