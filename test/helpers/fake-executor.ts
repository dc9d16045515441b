import type { ManualClock } from '../../src/clock.js';
import { BookingResult, createBookingMetadata } from '../../src/contracts/index.js';
import type { BookingExecutor } from '../../src/booking/session-port.js';

/** One call of a {@link createFakeExecutor} executor. */
export interface FakeExecuteCall {
  reservationId: number;
  /** Clock when the scheduler handed the booking over (its claim). */
  calledAtMs: number;
  fireAtMs: number;
  /** Clock when it "submitted", or null when it stopped before the fire instant. */
  submittedAtMs: number | null;
}

/**
 * A fake executor for scheduler tests on a manual clock: waits for `fireAt` on the clock like the real one
 * (abortable by the session's `signal`/`stopWaiting`), begins the fire on the session, then "books" the first
 * preferred court with the code `FAKE-<reservation id>` (no attempt rows). `parked()` counts executions
 * waiting for their fire instant.
 */
export function createFakeExecutor(clock: ManualClock): BookingExecutor & { calls: FakeExecuteCall[]; parked: () => number } {
  const calls: FakeExecuteCall[] = [];
  let parked = 0;
  return {
    calls,
    parked: () => parked,
    async execute(session) {
      const call: FakeExecuteCall = { reservationId: session.reservationId, calledAtMs: clock.now(), fireAtMs: session.fireAt.getTime(), submittedAtMs: null };
      calls.push(call);
      const { request } = session;
      const metadata = createBookingMetadata(request, { executor: 'fake', flow: 'fake', browserId: 'none', attempt: 1 });
      const waitMs = session.fireAt.getTime() - clock.now();
      if (waitMs > 0) {
        parked += 1;
        await clock.sleep(waitMs, AbortSignal.any([session.signal, session.stopWaiting]));
        parked -= 1;
      }
      if (session.signal.aborted || session.stopWaiting.aborted || !(await session.beginFire())) {
        return { kind: 'interrupted', result: BookingResult.failure({ request, outcome: 'interrupted', errors: ['stopped before the fire instant'], metadata }) };
      }
      call.submittedAtMs = clock.now();
      const court = request.courtPreference.asList()[0]!;
      return { kind: 'settled', result: BookingResult.success({ request, court, confirmationCode: `FAKE-${session.reservationId}`, metadata }) };
    },
  };
}
