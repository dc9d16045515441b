import { describe, expect, it } from 'vitest';
import { createKeyedMutex } from '../src/booking/keyed-mutex.js';

describe('createKeyedMutex', () => {
  it('one holder per key, waiters in arrival order, other keys free', async () => {
    const mutex = createKeyedMutex();
    const order: string[] = [];
    const a1 = (await mutex.acquire('a'))!;
    const a2 = mutex.acquire('a').then((r) => { order.push('a2'); return r!; });
    const a3 = mutex.acquire('a').then((r) => { order.push('a3'); return r!; });
    const b1 = await mutex.acquire('b');
    expect(b1).not.toBeNull();
    expect(mutex.held()).toBe(2);
    await Promise.resolve();
    expect(order).toEqual([]);
    a1();
    a1(); // twice is harmless: it does not let a3 in
    const r2 = await a2;
    expect(order).toEqual(['a2']);
    r2();
    (await a3)();
    b1!();
    expect(order).toEqual(['a2', 'a3']);
    expect(mutex.held()).toBe(0);
  });

  it('an aborted wait takes nothing and leaves the queue', async () => {
    const mutex = createKeyedMutex();
    const first = (await mutex.acquire('k'))!;
    const stop = new AbortController();
    const waiting = mutex.acquire('k', stop.signal);
    stop.abort();
    expect(await waiting).toBeNull();
    expect(await mutex.acquire('k', stop.signal)).toBeNull();
    first();
    expect(mutex.held()).toBe(0);
    const again = await mutex.acquire('k');
    expect(again).not.toBeNull();
  });
});
