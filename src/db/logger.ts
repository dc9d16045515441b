/**
 * The logging surface `src/db/` needs; a pino `Logger` satisfies it. Objects go first, messages are sentences
 * naming the entity; errors go under `err`.
 */
export interface DbLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
