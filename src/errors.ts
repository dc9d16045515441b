/**
 * The base class of reservd's errors (docs/architecture.md "Errors"). Pure: no imports, no I/O, no clock, so every folder
 * may import it (src/contracts/ too).
 */

/** Options of {@link ReservdError}: the standard `ErrorOptions` (`cause`) and whether to retry. */
export interface ReservdErrorOptions extends ErrorOptions {
  /** Whether the same operation may succeed if tried again (see {@link ReservdError.retryable}). Default false. */
  retryable?: boolean;
}

/**
 * An error a caller may branch on. Subclasses exist only where a caller needs to tell them apart
 * (`instanceof` or `code`); an error nobody branches on is a plain `ReservdError` with its `code`.
 *
 * - `code`: a stable machine-readable reason in snake_case (`invalid_request`, `config_invalid`,
 *   `data_dir_unusable`, ...); messages may change, codes do not. Branch on `code`, not on the message.
 * - `retryable`: true when trying the same operation again later may succeed (a lost connection), false
 *   when it fails the same way until something is fixed (bad input, bad config).
 * - `cause`: the underlying error, if any (standard `ErrorOptions`; pino logs it under `err`).
 * - `name`: the class name of the error actually thrown (`new.target.name`), so logs say `ContractError`
 *   rather than `Error` or `ReservdError`.
 *
 * The message is a sentence that names the entity ("reservation 42: court list is empty").
 */
export class ReservdError extends Error {
  /** Stable machine-readable reason, snake_case. */
  readonly code: string;
  /** Whether the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  /**
   * @param code - stable reason, e.g. `unknown_court`.
   * @param message - a sentence naming the entity and, where there is one, the fix.
   * @param options - `cause` (standard `ErrorOptions`) and `retryable` (default false).
   */
  constructor(code: string, message: string, options?: ReservdErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}
