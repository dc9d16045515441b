/**
 * The only module that reads the time or sets timers (docs/architecture.md, boundaries; docs/timing.md).
 *
 * Everything else receives a {@link Clock} and asks it for `now()` and for sleeps, so tests can
 * inject a {@link ManualClock} and run days of schedule in milliseconds without sleeping.
 */

/** Longest single timer we arm; longer waits are chunked and the clock re-read after each chunk. */
export const MAX_TIMER_MS = 30_000;

/** A source of time and of abortable sleeps. */
export interface Clock {
  /** Current instant, epoch milliseconds (UTC). */
  now(): number;
  /**
   * Resolves after `durationMs` have passed on this clock, or earlier when `signal` aborts
   * (it resolves, never rejects, on abort: callers re-check their state after every wake).
   * Waits longer than {@link MAX_TIMER_MS} are armed in chunks and the clock is re-read after each.
   */
  sleep(durationMs: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: `Date.now()` and chunked `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(durationMs, signal) {
    const untilMs = Date.now() + Math.max(0, durationMs);
    while (!signal?.aborted) {
      const leftMs = untilMs - Date.now();
      if (leftMs <= 0) return;
      await sleepOnce(Math.min(leftMs, MAX_TIMER_MS), signal);
    }
  },
};

function sleepOnce(durationMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, durationMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Current instant as a `Date` from the given clock. */
export function clockDate(clock: Clock): Date {
  return new Date(clock.now());
}

/** A clock that only moves when told to; sleepers wake when `advance`/`set` passes their deadline. */
export interface ManualClock extends Clock {
  /** Moves the clock forward by `durationMs` and wakes every sleeper whose deadline has passed. */
  advance(durationMs: number): void;
  /** Sets the clock to `atMs` (may go backwards; sleepers are not woken by a backwards jump). */
  set(atMs: number): void;
  /** Number of sleeps currently pending (lets tests wait until a loop is parked). */
  pendingSleeps(): number;
}

/** Creates a {@link ManualClock} starting at `startMs` (epoch ms). */
export function createManualClock(startMs: number): ManualClock {
  let nowMs = startMs;
  const sleepers = new Set<{ untilMs: number; wake: () => void }>();
  const wakeDue = (): void => {
    for (const sleeper of [...sleepers]) {
      if (sleeper.untilMs <= nowMs) sleeper.wake();
    }
  };
  return {
    now: () => nowMs,
    sleep(durationMs, signal) {
      if (signal?.aborted || durationMs <= 0) return Promise.resolve();
      return new Promise((resolve) => {
        const sleeper = {
          untilMs: nowMs + durationMs,
          wake: () => {
            sleepers.delete(sleeper);
            signal?.removeEventListener('abort', sleeper.wake);
            resolve();
          },
        };
        sleepers.add(sleeper);
        signal?.addEventListener('abort', sleeper.wake, { once: true });
      });
    },
    advance(durationMs) {
      nowMs += durationMs;
      wakeDue();
    },
    set(atMs) {
      nowMs = atMs;
      wakeDue();
    },
    pendingSleeps: () => sleepers.size,
  };
}

/**
 * A real-time clock shifted by `offsetMs`: time flows normally, but `now()` reads `Date.now() + offsetMs`.
 * Lets a test or demo stand a few seconds before any chosen instant without sleeping for days.
 */
export function createOffsetClock(offsetMs: number): Clock {
  return { now: () => systemClock.now() + offsetMs, sleep: (durationMs, signal) => systemClock.sleep(durationMs, signal) };
}
