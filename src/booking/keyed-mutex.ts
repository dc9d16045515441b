/**
 * A keyed mutex: at most one holder per key, waiters served in arrival order. The executor keeps one per
 * daemon so that two bookings of one client account (venue + e-mail) never have a submit in flight at the
 * same time (docs/architecture.md "Booking").
 *
 * Written here rather than taken from a library: it is a few lines over promises, reservd has no such
 * dependency (and adds none), and it needs abortable waits, which the small libraries lack.
 */

/** Gives the key back; calling it more than once is harmless. */
export type Release = () => void;

/** See the file's comment. */
export interface KeyedMutex {
  /**
   * Waits until `key` is free and takes it. Resolves null (nothing taken) when `signal` aborts first or was
   * already aborted.
   */
  acquire(key: string, signal?: AbortSignal): Promise<Release | null>;
  /** Keys currently held (for tests and metrics). */
  held(): number;
}

/** Creates an empty {@link KeyedMutex}. */
export function createKeyedMutex(): KeyedMutex {
  /** Per held key, the waiters in arrival order (each resolves with its release). */
  const queues = new Map<string, Array<() => void>>();

  const releaseFor = (key: string): Release => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const waiters = queues.get(key)!;
      const next = waiters.shift();
      if (next) next();
      else queues.delete(key);
    };
  };

  return {
    acquire(key, signal) {
      if (signal?.aborted) return Promise.resolve(null);
      const waiters = queues.get(key);
      if (!waiters) {
        queues.set(key, []);
        return Promise.resolve(releaseFor(key));
      }
      return new Promise((resolve) => {
        const onAbort = (): void => {
          const at = waiters.indexOf(wake);
          if (at >= 0) waiters.splice(at, 1);
          resolve(null);
        };
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve(releaseFor(key));
        };
        waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    held: () => queues.size,
  };
}
