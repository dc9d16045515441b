/** Why the database could not be opened (see {@link DatabaseStartError}). */
export type DatabaseStartErrorCode =
  /** Another PostgreSQL (another reservd) already runs on the embedded data directory. */
  | 'data_dir_in_use'
  /** The embedded port is taken by some other program. */
  | 'port_in_use'
  /** The embedded data directory cannot be created, read or used (permissions, not a data directory...). */
  | 'data_dir_unusable'
  /** Anything else while starting embedded PostgreSQL. */
  | 'start_failed';

/**
 * Opening the database failed in a way an operator must fix (nothing is retried). `main` may map it to exit
 * code 78 so systemd does not restart in a loop. The message is a sentence naming the data directory or port
 * and the fix; `cause` holds the underlying error or PostgreSQL's own log lines.
 */
export class DatabaseStartError extends Error {
  readonly retryable = false;

  constructor(
    readonly code: DatabaseStartErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
