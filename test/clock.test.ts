import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clockDate, createManualClock, createOffsetClock, MAX_TIMER_MS, systemClock } from '../src/clock.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const DAY_MS = 86_400_000;

/** Lets every queued promise continuation run (one macrotask turn); not a timed sleep. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A sleep promise plus a flag that turns true once it resolved. */
function track(promise: Promise<void>): { done: () => boolean; promise: Promise<void> } {
  let resolved = false;
  const tracked = promise.then(() => {
    resolved = true;
  });
  return { done: () => resolved, promise: tracked };
}

/** Resolves to 'sleep' if `sleep` settles before the next macrotask turn, else 'later'. */
function settlesAtOnce(sleep: Promise<void>): Promise<'sleep' | 'later'> {
  return Promise.race([sleep.then(() => 'sleep' as const), flush().then(() => 'later' as const)]);
}

describe('createManualClock', () => {
  it('starts at the given instant and only moves when told to', () => {
    const clock = createManualClock(T0);
    expect(clock.now()).toBe(T0);
    expect(clockDate(clock).toISOString()).toBe('2025-06-01T12:00:00.000Z');
    clock.advance(1_500);
    expect(clock.now()).toBe(T0 + 1_500);
    clock.set(T0 - DAY_MS);
    expect(clock.now()).toBe(T0 - DAY_MS);
  });

  it('wakes a sleeper exactly when advance reaches its deadline', async () => {
    const clock = createManualClock(T0);
    const sleep = track(clock.sleep(1_000));
    expect(clock.pendingSleeps()).toBe(1);

    clock.advance(999);
    await flush();
    expect(sleep.done()).toBe(false);
    expect(clock.pendingSleeps()).toBe(1);

    clock.advance(1);
    await sleep.promise;
    expect(clock.pendingSleeps()).toBe(0);
    expect(clock.now()).toBe(T0 + 1_000);
  });

  it('wakes every sleeper whose deadline passed and keeps the later ones', async () => {
    const clock = createManualClock(T0);
    const short = track(clock.sleep(100));
    const middle = track(clock.sleep(200));
    const long = track(clock.sleep(10_000));
    expect(clock.pendingSleeps()).toBe(3);

    clock.advance(250);
    await flush();
    expect([short.done(), middle.done(), long.done()]).toEqual([true, true, false]);
    expect(clock.pendingSleeps()).toBe(1);

    clock.advance(9_750);
    await long.promise;
    expect(clock.pendingSleeps()).toBe(0);
  });

  it('set() forward wakes due sleepers; set() backwards wakes nobody and deadlines stay absolute', async () => {
    const clock = createManualClock(T0);
    const sleep = track(clock.sleep(60_000));

    clock.set(T0 - 3_600_000);
    await flush();
    expect(sleep.done()).toBe(false);
    expect(clock.pendingSleeps()).toBe(1);

    // The deadline is T0 + 60 s whatever the clock did in between.
    clock.set(T0 + 59_999);
    await flush();
    expect(sleep.done()).toBe(false);

    clock.set(T0 + 60_000);
    await sleep.promise;
    expect(clock.pendingSleeps()).toBe(0);
  });

  it('resolves zero and negative sleeps at once without registering them', async () => {
    const clock = createManualClock(T0);
    expect(await settlesAtOnce(clock.sleep(0))).toBe('sleep');
    expect(await settlesAtOnce(clock.sleep(-5_000))).toBe('sleep');
    expect(clock.pendingSleeps()).toBe(0);
  });

  it('resolves (never rejects) on abort, forgets the sleeper and removes its abort listener', async () => {
    const clock = createManualClock(T0);
    const controller = new AbortController();
    const sleep = track(clock.sleep(DAY_MS, controller.signal));
    expect(clock.pendingSleeps()).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);

    controller.abort();
    await sleep.promise;
    expect(clock.pendingSleeps()).toBe(0);
    expect(clock.now()).toBe(T0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('resolves at once when the signal is already aborted', async () => {
    const clock = createManualClock(T0);
    const sleep = clock.sleep(DAY_MS, AbortSignal.abort());
    expect(clock.pendingSleeps()).toBe(0);
    expect(await settlesAtOnce(sleep)).toBe('sleep');
  });

  it('removes the abort listener when a sleep ends by time', async () => {
    const clock = createManualClock(T0);
    const controller = new AbortController();
    const sleep = clock.sleep(500, controller.signal);
    clock.advance(500);
    await sleep;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // A later abort must not touch the finished sleep or the clock.
    controller.abort();
    expect(clock.pendingSleeps()).toBe(0);
  });
});

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('reads the real time', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('resolves at once when the signal is already aborted, arming no timer', async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    expect(await settlesAtOnce(systemClock.sleep(60_000, AbortSignal.abort()))).toBe('sleep');
    expect(setTimeoutSpy).not.toHaveBeenCalled();
  });

  it('resolves zero and negative sleeps at once', async () => {
    expect(await settlesAtOnce(systemClock.sleep(0))).toBe('sleep');
    expect(await settlesAtOnce(systemClock.sleep(-1_000))).toBe('sleep');
  });

  it('sleeps at least the requested time', async () => {
    const startMs = Date.now();
    await systemClock.sleep(25);
    expect(Date.now() - startMs).toBeGreaterThanOrEqual(25);
  });

  it('a 40-day sleep aborted after a tick resolves, arms only capped timers and raises no TimeoutOverflowWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const controller = new AbortController();
      const sleep = track(systemClock.sleep(40 * DAY_MS, controller.signal));
      await flush();
      expect(sleep.done()).toBe(false);

      controller.abort();
      await sleep.promise;
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

      const armedMs = setTimeoutSpy.mock.calls.map((call) => call[1]);
      expect(armedMs).toEqual([MAX_TIMER_MS]);
      // process 'warning' is emitted on a later tick than emitWarning; give it that turn.
      await flush();
      expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('chunks long waits into timers of at most MAX_TIMER_MS and ends exactly on time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const sleep = track(systemClock.sleep(65_000));

    await vi.advanceTimersByTimeAsync(64_999);
    expect(sleep.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(sleep.done()).toBe(true);
    expect(Date.now()).toBe(T0 + 65_000);
    expect(setTimeoutSpy.mock.calls.map((call) => call[1])).toEqual([30_000, 30_000, 5_000]);
  });

  it('re-reads the clock after every chunk: a forward jump of the wall clock ends the sleep at the next wake', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
    const sleep = track(systemClock.sleep(10 * 60_000));

    // The host clock jumps 10 minutes (suspend/resume, NTP step) while the first 30 s timer is armed.
    vi.setSystemTime(T0 + 10 * 60_000);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS - 1);
    expect(sleep.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(sleep.done()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('abort clears the armed timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
    const controller = new AbortController();
    const sleep = systemClock.sleep(5 * 60_000, controller.signal);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await sleep;
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('createOffsetClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads the real time shifted by the offset', () => {
    const offsetMs = 3 * DAY_MS + 1_234;
    const clock = createOffsetClock(offsetMs);
    const before = Date.now();
    const now = clock.now();
    const after = Date.now();
    expect(now).toBeGreaterThanOrEqual(before + offsetMs);
    expect(now).toBeLessThanOrEqual(after + offsetMs);
    expect(createOffsetClock(-DAY_MS).now()).toBeLessThanOrEqual(Date.now() - DAY_MS);
  });

  it('sleeps in real time (the offset does not shorten or lengthen a sleep)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
    const clock = createOffsetClock(-DAY_MS);
    expect(clock.now()).toBe(T0 - DAY_MS);
    const sleep = track(clock.sleep(2_000));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(sleep.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(sleep.done()).toBe(true);
    expect(clock.now()).toBe(T0 - DAY_MS + 2_000);
  });

  it('honours an aborted signal', async () => {
    const clock = createOffsetClock(60_000);
    expect(await settlesAtOnce(clock.sleep(DAY_MS, AbortSignal.abort()))).toBe('sleep');
  });
});
