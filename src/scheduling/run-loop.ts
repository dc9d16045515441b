import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';

/** Options of {@link runLoop}. */
export interface RunLoopOptions {
  /** Loop name for logs (`loop` field). */
  name: string;
  /** One tick of work. A thrown error is logged and retried with backoff; it never ends the loop. */
  tickOnce: () => Promise<void>;
  /** Delay before the next tick after a successful one, in ms (re-evaluated every tick). */
  nextDelayMs: () => Promise<number> | number;
  clock: Clock;
  logger: Logger;
  /** Aborting ends the loop after the current tick. */
  signal: AbortSignal;
  /** Wakes the loop early (e.g. on NOTIFY); called with a listener the loop registers once. */
  onWake?: (wake: () => void) => void;
  /** Longest backoff after repeated failures, ms (default 30 s). */
  maxBackoffMs?: number;
}

/**
 * The one loop primitive (STYLE.md): tick, catch per tick, capped exponential backoff with jitter on
 * repeated failure, abortable sleep that can be woken early. Resolves when `signal` aborts.
 * Sleeps go through the clock, which chunks long waits and re-reads the time after each wake.
 */
export async function runLoop(options: RunLoopOptions): Promise<void> {
  const { name, clock, logger, signal } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  let failures = 0;
  let wakeController = new AbortController();
  options.onWake?.(() => wakeController.abort());
  while (!signal.aborted) {
    let delayMs: number;
    try {
      await options.tickOnce();
      failures = 0;
      delayMs = await options.nextDelayMs();
    } catch (err) {
      failures += 1;
      const baseMs = Math.min(maxBackoffMs, 250 * 2 ** Math.min(failures, 10));
      delayMs = baseMs / 2 + Math.random() * (baseMs / 2);
      logger.error({ err, loop: name, failures, retry_in_ms: Math.round(delayMs) }, `loop ${name}: tick failed`);
    }
    if (signal.aborted) break;
    if (wakeController.signal.aborted) {
      wakeController = new AbortController();
      continue;
    }
    const both = AbortSignal.any([signal, wakeController.signal]);
    await clock.sleep(Math.max(0, delayMs), both);
    if (wakeController.signal.aborted) wakeController = new AbortController();
  }
}
