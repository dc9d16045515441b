/**
 * The part of a pino logger the sandbox uses; a pino `Logger` fits it. Errors go under `err`.
 */
export interface SandboxLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything (the default when none is given). */
export const silentLogger: SandboxLogger = { info() {}, warn() {}, error() {} };
