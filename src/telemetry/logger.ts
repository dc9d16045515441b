import { pino, type DestinationStream, type Logger } from 'pino';

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
];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** pino level name (default `info`). */
  level?: string;
  /** Destination stream; default stdout (fd 1). */
  destination?: DestinationStream;
  /** Bound fields on every line, e.g. `{ daemon_id }`. */
  base?: Record<string, unknown>;
}

/** Creates the JSON logger (pino to stdout, ISO times, errors under `err`, contact details redacted). */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'reservd',
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACTED_LOG_PATHS], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything (tests that do not inspect logs). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Replaces the value of a Postgres URL's password so a URL can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}

/** Fields whose values are contact details: a reason about them keeps the value off the logs. */
const CONTACT_FIELD_RE = /^(booking_users\.|user\.)|^(email|phone|firstName|lastName|first_name|last_name)$/;

/**
 * A validation reason fit for a log line: reasons about contact fields (which quote the bad value, e.g.
 * an email) are replaced by the field name; the full reason stays on the row or the terminal.
 */
export function loggableReason(field: string | undefined, reason: string): string {
  return field && CONTACT_FIELD_RE.test(field) ? `${field}: invalid value (details withheld from logs)` : reason;
}
