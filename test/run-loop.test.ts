import { afterEach, describe, expect, it, vi } from 'vitest';
import { createManualClock, type Clock, type ManualClock } from '../src/clock.js';
import { runLoop, type RunLoopOptions } from '../src/scheduling/run-loop.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { waitFor } from './helpers/wait.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

/** A ManualClock that also records every sleep duration the loop asks for. */
function recordingClock(startMs: number): { clock: ManualClock; requestedMs: number[] } {
  const manual = createManualClock(startMs);
  const requestedMs: number[] = [];
  const clock: ManualClock = {
    ...manual,
    sleep(durationMs, signal) {
      requestedMs.push(durationMs);
      return manual.sleep(durationMs, signal);
    },
  };
  return { clock, requestedMs };
}

/** Lets every queued continuation run (one macrotask turn), so "nothing happened" is a real observation. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Condition wait (no fixed sleep): re-checks every millisecond, fails after 5 s. */
function until(what: string, check: () => boolean): Promise<true> {
  return waitFor(what, () => check() || undefined, { timeoutMs: 5_000, everyMs: 1 });
}

interface Harness {
  clock: ManualClock;
  requestedMs: number[];
  tickAtMs: number[];
  controller: AbortController;
  logger: ReturnType<typeof createSilentLogger>;
  done: Promise<void>;
  /** True once `runLoop` resolved. */
  ended: () => boolean;
}

function startLoop(overrides: Partial<RunLoopOptions> & { tick?: (n: number, clock: Clock) => Promise<void> | void } = {}): Harness {
  const { clock, requestedMs } = recordingClock(T0);
  const controller = new AbortController();
  const logger = overrides.logger ?? createSilentLogger();
  const tickAtMs: number[] = [];
  const { tick, ...rest } = overrides;
  let ended = false;
  const done = runLoop({
    name: 'test-loop',
    clock,
    logger,
    signal: controller.signal,
    tickOnce: async () => {
      tickAtMs.push(clock.now());
      await tick?.(tickAtMs.length, clock);
    },
    nextDelayMs: () => 1_000,
    ...rest,
  }).then(() => {
    ended = true;
  });
  return { clock, requestedMs, tickAtMs, controller, logger, done, ended: () => ended };
}

describe('runLoop', () => {
  const running: Harness[] = [];
  const track = (h: Harness): Harness => {
    running.push(h);
    return h;
  };

  afterEach(async () => {
    vi.restoreAllMocks();
    for (const h of running.splice(0)) {
      h.controller.abort();
      await h.done;
    }
  });

  it('ticks at once, then sleeps what nextDelayMs says before each next tick', async () => {
    const delays = [1_000, 5_000, 200];
    let calls = 0;
    const h = track(startLoop({ nextDelayMs: () => delays[calls++] ?? 60_000 }));

    await until('first sleep', () => h.clock.pendingSleeps() === 1);
    expect(h.tickAtMs).toEqual([T0]);
    expect(h.requestedMs).toEqual([1_000]);

    h.clock.advance(999);
    await flush();
    expect(h.clock.pendingSleeps()).toBe(1);
    expect(h.tickAtMs).toHaveLength(1);

    h.clock.advance(1);
    await until('second tick parked', () => h.requestedMs.length === 2 && h.clock.pendingSleeps() === 1);
    expect(h.tickAtMs).toEqual([T0, T0 + 1_000]);
    expect(h.requestedMs).toEqual([1_000, 5_000]);

    h.clock.advance(5_000);
    await until('third tick parked', () => h.requestedMs.length === 3 && h.clock.pendingSleeps() === 1);
    h.clock.advance(200);
    await until('fourth tick parked', () => h.requestedMs.length === 4 && h.clock.pendingSleeps() === 1);
    expect(h.tickAtMs).toEqual([T0, T0 + 1_000, T0 + 6_000, T0 + 6_200]);
    expect(h.requestedMs).toEqual([1_000, 5_000, 200, 60_000]);
  });

  it('accepts an async nextDelayMs and treats a negative delay as "tick again now"', async () => {
    const delays = [-50, 0, 2_000];
    let calls = 0;
    const h = track(startLoop({ nextDelayMs: async () => delays[calls++] ?? 60_000 }));
    await until('parked on the 2 s sleep', () => h.clock.pendingSleeps() === 1 && h.requestedMs.at(-1) === 2_000);
    expect(h.tickAtMs).toEqual([T0, T0, T0]);
    expect(h.requestedMs).toEqual([0, 0, 2_000]);
  });

  it('logs a failing tick under err and retries with a growing backoff capped at maxBackoffMs', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const failures = 7;
    const boom = new Error('database unreachable');
    const logger = createSilentLogger();
    const errorSpy = vi.spyOn(logger, 'error');
    const h = track(
      startLoop({
        logger,
        maxBackoffMs: 4_000,
        nextDelayMs: () => 10_000,
        tick: (n) => {
          if (n <= failures) throw boom;
        },
      }),
    );

    // Base doubles from 500 ms and is capped at 4 s; jitter (random 0.5) makes each sleep 3/4 of its base.
    const expectedBackoffMs = [375, 750, 1_500, 3_000, 3_000, 3_000, 3_000];
    for (const [i, backoffMs] of expectedBackoffMs.entries()) {
      await until(`backoff sleep ${i + 1}`, () => h.requestedMs.length === i + 1 && h.clock.pendingSleeps() === 1);
      expect(h.requestedMs[i]).toBe(backoffMs);
      h.clock.advance(backoffMs - 1);
      await flush();
      expect(h.clock.pendingSleeps()).toBe(1);
      expect(h.tickAtMs).toHaveLength(i + 1);
      h.clock.advance(1);
    }
    // The 8th tick succeeds: failures reset, back to nextDelayMs.
    await until('success sleep', () => h.requestedMs.length === 8 && h.clock.pendingSleeps() === 1);
    expect(h.requestedMs[7]).toBe(10_000);
    expect(h.tickAtMs).toHaveLength(8);
    expect(h.ended()).toBe(false);

    expect(errorSpy).toHaveBeenCalledTimes(failures);
    expect(errorSpy.mock.calls.map((call) => call[0])).toEqual(
      expectedBackoffMs.map((retryMs, i) => ({ err: boom, loop: 'test-loop', failures: i + 1, retry_in_ms: retryMs })),
    );
    expect(errorSpy.mock.calls[0]?.[1]).toBe('loop test-loop: tick failed');
  });

  it('starts the backoff over after a success', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const failOn = new Set([1, 2, 4]);
    const h = track(
      startLoop({
        nextDelayMs: () => 7_000,
        tick: (n) => {
          if (failOn.has(n)) throw new Error(`tick ${n} failed`);
        },
      }),
    );
    const expected = [250, 500, 7_000, 250];
    for (const [i, sleepMs] of expected.entries()) {
      await until(`sleep ${i + 1}`, () => h.requestedMs.length === i + 1 && h.clock.pendingSleeps() === 1);
      h.clock.advance(sleepMs);
    }
    expect(h.requestedMs.slice(0, 4)).toEqual(expected);
  });

  it('keeps real (jittered) backoff within [base/2, base] and never above the cap', async () => {
    const h = track(
      startLoop({
        maxBackoffMs: 5_000,
        tick: () => Promise.reject('not an Error, still survives'),
      }),
    );
    for (let i = 0; i < 12; i += 1) {
      await until(`backoff ${i + 1}`, () => h.requestedMs.length === i + 1 && h.clock.pendingSleeps() === 1);
      h.clock.advance(h.requestedMs[i] ?? 0);
    }
    const bases = h.requestedMs.slice(0, 12).map((_, i) => Math.min(5_000, 250 * 2 ** (i + 1)));
    for (const [i, sleepMs] of h.requestedMs.slice(0, 12).entries()) {
      expect(sleepMs).toBeGreaterThanOrEqual((bases[i] ?? 0) / 2);
      expect(sleepMs).toBeLessThanOrEqual(bases[i] ?? 0);
    }
    expect(Math.max(...h.requestedMs)).toBeLessThanOrEqual(5_000);
    expect(h.ended()).toBe(false);
  });

  it('treats a throwing nextDelayMs like a failed tick', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    let calls = 0;
    const logger = createSilentLogger();
    const errorSpy = vi.spyOn(logger, 'error');
    const h = track(
      startLoop({
        logger,
        nextDelayMs: () => {
          calls += 1;
          if (calls === 1) throw new Error('cannot read next release');
          return 9_000;
        },
      }),
    );
    await until('backoff sleep', () => h.requestedMs.length === 1 && h.clock.pendingSleeps() === 1);
    expect(h.requestedMs).toEqual([250]);
    h.clock.advance(250);
    await until('normal sleep', () => h.requestedMs.length === 2 && h.clock.pendingSleeps() === 1);
    expect(h.requestedMs).toEqual([250, 9_000]);
    expect(errorSpy).toHaveBeenCalledTimes(1);
  });

  it('onWake wakes a sleeping loop at once, and the next sleep is a fresh full one', async () => {
    let wake: () => void = () => undefined;
    const h = track(startLoop({ nextDelayMs: () => 60_000, onWake: (w) => (wake = w) }));
    await until('parked', () => h.clock.pendingSleeps() === 1);
    h.clock.advance(10_000);

    wake();
    await until('woken tick parked again', () => h.tickAtMs.length === 2 && h.clock.pendingSleeps() === 1);
    expect(h.tickAtMs).toEqual([T0, T0 + 10_000]);
    expect(h.requestedMs).toEqual([60_000, 60_000]);

    // The second sleep is not pre-aborted by the first wake: it waits its whole 60 s.
    h.clock.advance(59_999);
    await flush();
    expect(h.clock.pendingSleeps()).toBe(1);
    expect(h.tickAtMs).toHaveLength(2);
    h.clock.advance(1);
    await until('third tick', () => h.tickAtMs.length === 3 && h.clock.pendingSleeps() === 1);
    expect(h.tickAtMs[2]).toBe(T0 + 70_000);
  });

  it('a wake that arrives during a tick makes the next tick run without sleeping', async () => {
    let wake: () => void = () => undefined;
    const h = track(
      startLoop({
        nextDelayMs: () => 60_000,
        onWake: (w) => (wake = w),
        tick: (n) => {
          if (n === 1) wake();
        },
      }),
    );
    await until('parked after the second tick', () => h.tickAtMs.length === 2 && h.clock.pendingSleeps() === 1);
    expect(h.tickAtMs).toEqual([T0, T0]);
    expect(h.requestedMs).toEqual([60_000]);
  });

  it('abort while sleeping ends the loop and resolves its promise', async () => {
    const h = track(startLoop({ nextDelayMs: () => 24 * 3_600_000 }));
    await until('parked', () => h.clock.pendingSleeps() === 1);
    h.controller.abort();
    await h.done;
    expect(h.ended()).toBe(true);
    expect(h.clock.pendingSleeps()).toBe(0);
    expect(h.tickAtMs).toEqual([T0]);
  });

  it('abort during a tick lets the tick finish, then ends without sleeping', async () => {
    let release: () => void = () => undefined;
    const h = track(
      startLoop({
        tick: () =>
          new Promise<void>((resolve) => {
            release = resolve;
          }),
      }),
    );
    await until('tick running', () => h.tickAtMs.length === 1);
    h.controller.abort();
    expect(h.ended()).toBe(false);
    release();
    await h.done;
    expect(h.requestedMs).toEqual([]);
    expect(h.tickAtMs).toHaveLength(1);
  });

  it('abort during a failure backoff ends the loop', async () => {
    const h = track(startLoop({ tick: () => Promise.reject(new Error('always')) }));
    await until('backoff sleep', () => h.clock.pendingSleeps() === 1);
    h.controller.abort();
    await h.done;
    expect(h.clock.pendingSleeps()).toBe(0);
  });

  it('does not tick at all when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const tickOnce = vi.fn(async () => undefined);
    await runLoop({
      name: 'never',
      clock: createManualClock(T0),
      logger: createSilentLogger(),
      signal: controller.signal,
      tickOnce,
      nextDelayMs: () => 1_000,
    });
    expect(tickOnce).not.toHaveBeenCalled();
  });
});
