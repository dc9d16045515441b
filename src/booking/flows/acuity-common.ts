import type { Clock } from '../../clock.js';

/** What the Acuity flow's pieces share: the client type, the "not held" message and the phase timer. */

/** The person booked; `BookingUser` from `src/contracts/` fits. */
export interface AcuityClient {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}

/** The message of a submit `onBeforeSubmit` refused: the intent guard found the row no longer held. */
export const NOT_HELD_MESSAGE = 'not submitted: the reservation is no longer held by this daemon (cancelled or taken over)';

/** Phase timer on an injected clock; laps are recorded as `<name>_ms`, plus `total_ms` at the end. */
export function createTimer(clock: Clock | null) {
  const startMs = clock?.now() ?? 0;
  let lastMs = startMs;
  const timingsMs: Record<string, number> = {};
  return {
    timingsMs,
    /** Records the time since the previous lap (or the start) as `<name>_ms`. */
    lap(name: string): void {
      if (!clock) return;
      const nowMs = clock.now();
      timingsMs[`${name}_ms`] = nowMs - lastMs;
      lastMs = nowMs;
    },
    elapsedMs: (): number => (clock ? clock.now() - startMs : 0),
    finish(): Record<string, number> {
      if (clock) timingsMs.total_ms = clock.now() - startMs;
      return timingsMs;
    },
  };
}
