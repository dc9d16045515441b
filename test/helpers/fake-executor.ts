import type { ManualClock } from '../../src/clock.js';
import { BookingResult, createBookingMetadata } from '../../src/contracts/index.js';
import type { BookingExecutor } from '../../src/scheduling/booking-job.js';

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
 * (abortable by `signal`/`stopWaiting`), asks `beforeFire`, then "books" the first preferred court with
 * the code `FAKE-<reservation id>`. `parked()` counts executions waiting for their fire instant.
 */
export function createFakeExecutor(clock: ManualClock): BookingExecutor & { calls: FakeExecuteCall[]; parked: () => number } {
  const calls: FakeExecuteCall[] = [];
  let parked = 0;
  return {
    calls,
    parked: () => parked,
    async execute(args) {
      const call: FakeExecuteCall = { reservationId: args.reservationId, calledAtMs: clock.now(), fireAtMs: args.fireAt.getTime(), submittedAtMs: null };
      calls.push(call);
      const metadata = createBookingMetadata(args.request, { executor: 'fake', flow: 'fake', browserId: 'none', attempt: 1 });
      const waitMs = args.fireAt.getTime() - clock.now();
      if (waitMs > 0) {
        parked += 1;
        await clock.sleep(waitMs, args.stopWaiting ? AbortSignal.any([args.signal, args.stopWaiting]) : args.signal);
        parked -= 1;
      }
      if (args.signal.aborted || args.stopWaiting?.aborted || (args.beforeFire && !(await args.beforeFire()))) {
        return BookingResult.failure({ request: args.request, outcome: 'interrupted', errors: ['stopped before the fire instant'], metadata });
      }
      call.submittedAtMs = clock.now();
      const court = args.request.courtPreference.asList()[0]!;
      return BookingResult.success({ request: args.request, court, confirmationCode: `FAKE-${args.reservationId}`, metadata });
    },
  };
}
