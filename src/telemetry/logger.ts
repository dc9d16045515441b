import { pino, type DestinationStream, type Logger } from 'pino';
import { createSecretScrubber } from '../redact.js';

export type { Logger } from 'pino';

/**
 * Paths pino removes from every log line: contact details and secrets never reach the logs
 * (reasons about contact fields are shortened by {@link loggableReason}).
 */
const REDACTED_LOG_PATHS: readonly string[] = [
  'email',
  'phone',
  'firstName',
  'lastName',
  'user',
  '*.email',
  '*.phone',
  '*.firstName',
  '*.lastName',
  '*.user',
  'password',
  '*.password',
  'connectionString',
  '*.connectionString',
  'DATABASE_URL',
  '*.DATABASE_URL',
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level name (default `info`). */
  level?: string;
  /** Destination stream; default stdout (fd 1). */
  destination?: DestinationStream;
  /** Bound fields on every line, e.g. `{ daemon_id }`. */
  base?: Record<string, unknown>;
  /**
   * Secret values to scrub from every line wherever they appear (messages, error text), e.g.
   * `secretValuesOf(config)`. URL passwords are scrubbed always (`scrubSecrets`).
   */
  secrets?: readonly string[];
}

/**
 * Creates the JSON logger (pino to stdout, ISO times, errors under `err`): contact details and secret keys
 * redacted by path (pino `redact`), then every finished line scrubbed of URL passwords and `options.secrets`
 * (pino's `streamWrite` hook; a path cannot reach a password inside a message or an error's text).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = createSecretScrubber(options.secrets ?? []);
  return pino(
    {
      name: 'reservd',
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACTED_LOG_PATHS], censor: '[redacted]' },
      hooks: { streamWrite: scrub },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything (tests that do not inspect logs). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

export { redactUrl } from '../redact.js';

/** Fields whose values are contact details, at any depth (`user.email`, `result.user.phone`, `booking_users.email`). */
const CONTACT_FIELD_RE = /(^|\.)(booking_users|user)\.|(^|\.)(email|phone|firstName|lastName|first_name|last_name)$/;

/**
 * A validation reason fit for a log line: reasons about contact fields (which quote the bad value, e.g.
 * an email) are replaced by the field name; the full reason stays on the row or the terminal.
 */
export function loggableReason(field: string | undefined, reason: string): string {
  return field && CONTACT_FIELD_RE.test(field) ? `${field}: invalid value (details withheld from logs)` : reason;
}
