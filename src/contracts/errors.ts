import { ReservdError } from '../errors.js';

/**
 * The one error class of `src/contracts/`.
 *
 * Thrown by every builder and factory when input breaks a contract rule.
 * Callers branch on it: a reservation row that throws it is `rejected` (never retried), and its `field` names
 * the offending column so the rejection can say which one.
 */
export class ContractError extends ReservdError {
  /** Stable machine code; equals the `invalid_request` booking outcome. */
  declare readonly code: 'invalid_request';
  /** Never retryable: the same input fails the same way. */
  declare readonly retryable: false;
  /**
   * What was wrong: for a booking request the DB column, whether the input is a queued row or `book-now`'s
   * (`courts`, `target_time`, `booking_users.email`, `target_date/target_time` for the slot as a whole);
   * a key path for metadata (`metadata.timings_ms.submit`).
   */
  readonly field: string;

  /**
   * @param field - the offending field (see {@link ContractError.field}).
   * @param detail - a sentence fragment naming the bad value, e.g. `"25:00" is not a 24-hour HH:MM time`.
   *   The message becomes `` `${field}: ${detail}` ``; a `detail` that already starts with `` `${field}: ` ``
   *   is used as the message unchanged (so callers may pass either form).
   * @param options - standard `ErrorOptions`; `cause` keeps the underlying error, if any.
   */
  constructor(field: string, detail: string, options?: ErrorOptions) {
    super('invalid_request', detail.startsWith(`${field}: `) ? detail : `${field}: ${detail}`, { ...options, retryable: false });
    this.field = field;
  }
}
