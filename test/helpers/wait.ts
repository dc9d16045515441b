import { systemClock } from '../../src/clock.js';

/**
 * Waits until `check` returns a value other than undefined/false, re-checking every `everyMs`
 * (a condition wait, not a fixed sleep). Throws with `what` after `timeoutMs`.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const everyMs = options.everyMs ?? 100;
  const deadline = systemClock.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (systemClock.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await systemClock.sleep(everyMs);
  }
}
