import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createDaemonId, isDeadLocalDaemon } from '../src/app.js';

/** Lease owners: which ones a restarted daemon may take over at once (take-over after kill -9). */
describe('isDeadLocalDaemon', () => {
  it('a daemon of this host whose process has exited is dead', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid!;
    await once(child, 'exit');
    expect(isDeadLocalDaemon(`${hostname()}:${pid}:a1b2c3`)).toBe(true);
  });

  it('a running process, this process, another host or a malformed id is never judged dead', () => {
    const parent = process.ppid;
    expect(isDeadLocalDaemon(`${hostname()}:${parent}:a1b2c3`)).toBe(false);
    expect(isDeadLocalDaemon(createDaemonId())).toBe(false); // this process (other apps may run in it)
    expect(isDeadLocalDaemon('other-host:12345:a1b2c3', { isRunning: () => false })).toBe(false);
    expect(isDeadLocalDaemon('clock-test', { isRunning: () => false })).toBe(false);
    expect(isDeadLocalDaemon(`${hostname()}:0:a1`, { isRunning: () => false })).toBe(false);
    expect(isDeadLocalDaemon('web-1:4242:ff', { host: 'web-1', pid: 1, isRunning: (pid) => pid !== 4242 })).toBe(true);
  });
});
