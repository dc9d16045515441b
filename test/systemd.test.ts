import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock, systemClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import { createSystemdNotifier, SYSTEMD_NOTIFY_BIN, watchdogIntervalMsFrom } from '../src/systemd/notify.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { spawnDaemon, writeDaemonConfig, type DaemonProcess } from './helpers/daemon-process.js';
import { LA_VILLA, startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { waitFor } from './helpers/wait.js';

/**
 * reservd under systemd: the unit file verifies, the notify protocol (READY=1 after start, WATCHDOG=1 pings,
 * STOPPING=1 on SIGTERM) reaches a fake NOTIFY_SOCKET (a python3 datagram receiver: Node cannot bind AF_UNIX
 * datagram sockets), and a frozen event loop stops the pings so a small fake supervisor restarts the daemon.
 */

const ROOT = resolve(import.meta.dirname, '..');
const UNIT = join(ROOT, 'systemd', 'reservd.service');
const ANALYZE = '/usr/bin/systemd-analyze';

/** Writes the unit with its /opt/reservd paths pointing at this checkout (verify checks ExecStart exists). */
function unitCopy(edit: (text: string) => string = (t) => t): string {
  const dir = mkdtempSync(join(tmpdir(), 'reservd-unit-'));
  const path = join(dir, 'reservd.service');
  writeFileSync(path, edit(readFileSync(UNIT, 'utf8').replaceAll('/opt/reservd', ROOT).replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`)));
  return path;
}

const unitValue = (key: string): string[] =>
  readFileSync(UNIT, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

describe('systemd/reservd.service', () => {
  it('sets the notify, watchdog, restart, stop and hardening settings', () => {
    expect(unitValue('Type')).toEqual(['notify']);
    expect(unitValue('NotifyAccess')).toEqual(['all']);
    expect(unitValue('WatchdogSec')).toEqual(['30']);
    expect(unitValue('RestartPreventExitStatus')).toEqual(['78']);
    expect(unitValue('DynamicUser')).toEqual(['yes']);
    expect(unitValue('StateDirectory')).toEqual(['reservd']);
    expect(unitValue('Environment')).toContain('HOME=/var/lib/reservd');
    for (const key of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges']) expect(unitValue(key), key).toEqual([key === 'ProtectSystem' ? 'strict' : 'yes']);
    // Chromium and V8 need W+X pages.
    expect(unitValue('MemoryDenyWriteExecute')).toEqual([]);
    // The default drain grace plus at least 20 s for Chromium and the database to close.
    const graceMs = parseConfig({ venues: {} }).daemon.stopGraceMs;
    expect(graceMs).toBe(30_000);
    expect(Number(unitValue('TimeoutStopSec')[0]) * 1_000).toBeGreaterThanOrEqual(graceMs + 20_000);
  });

  it.skipIf(!existsSync(ANALYZE))('passes systemd-analyze verify (and a broken copy does not)', () => {
    const good = spawnSync(ANALYZE, ['verify', unitCopy()], { encoding: 'utf8' });
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
    const bad = spawnSync(ANALYZE, ['verify', unitCopy((t) => t.replace('Type=notify', 'Type=notfy').replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'))], { encoding: 'utf8' });
    expect(bad.stderr).toContain('Failed to parse service type, ignoring: notfy');
    expect(bad.status).not.toBe(0);
  });

  it('ships an example environment file with DATABASE_URL', () => {
    const env = readFileSync(join(ROOT, 'systemd', 'reservd.env'), 'utf8');
    expect(env).toMatch(/^DATABASE_URL=postgres:\/\/\S+$/m);
    // Secrets in the example are placeholders only.
    expect(env).toContain('CHANGE-ME');
  });
});

describe('createSystemdNotifier', () => {
  it('pings at half of WATCHDOG_USEC, only for our pid', () => {
    expect(watchdogIntervalMsFrom({ WATCHDOG_USEC: '30000000' }, 7)).toBe(15_000);
    expect(watchdogIntervalMsFrom({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7)).toBe(15_000);
    expect(watchdogIntervalMsFrom({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7)).toBeNull();
    expect(watchdogIntervalMsFrom({}, 7)).toBeNull();
    expect(() => watchdogIntervalMsFrom({ WATCHDOG_USEC: '30s' }, 7)).toThrow('WATCHDOG_USEC must be a positive integer number of µs, got "30s"');
  });

  it('sends nothing without NOTIFY_SOCKET', async () => {
    const sent: string[][] = [];
    const notifier = createSystemdNotifier({ env: { WATCHDOG_USEC: '2000000' }, clock: createManualClock(0), logger: createSilentLogger(), send: async (a) => (sent.push([...a]), true) });
    await notifier.ready('running');
    notifier.startWatchdog();
    await notifier.stopping('stopping');
    expect(notifier.enabled).toBe(false);
    expect(notifier.watchdogIntervalMs).toBeNull();
    expect(sent).toEqual([]);
  });

  it('sends READY, STATUS, WATCHDOG per interval on the clock, and STOPPING', async () => {
    const clock = createManualClock(0);
    const sent: string[][] = [];
    const notifier = createSystemdNotifier({ env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000' }, clock, logger: createSilentLogger(), pid: 7, send: async (a) => (sent.push([...a]), true) });
    await notifier.ready('running:\n two venues');
    notifier.startWatchdog();
    notifier.startWatchdog();
    await waitFor('the first ping', () => sent.length === 2);
    clock.advance(999);
    clock.advance(1);
    await waitFor('the second ping', () => sent.length === 3);
    notifier.stopWatchdog();
    clock.advance(5_000);
    await notifier.stopping('stopping');
    expect(sent).toEqual([['READY=1', 'STATUS=running: two venues'], ['WATCHDOG=1'], ['WATCHDOG=1'], ['STOPPING=1', 'STATUS=stopping']]);
  });
});

/** One datagram the fake NOTIFY_SOCKET received, parsed into its assignments. */
interface Datagram {
  mainPid: number;
  fields: Record<string, string>;
  atMs: number;
}

/** A python3 datagram receiver bound at a fresh socket path. */
async function startReceiver(): Promise<{ socketPath: string; datagrams: Datagram[]; stop: () => void }> {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'reservd-notify-')), 'notify.sock');
  const child: ChildProcess = spawn('python3', [join(ROOT, 'test', 'fixtures', 'notify-receiver.py'), socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const datagrams: Datagram[] = [];
  let listening = false;
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      const parsed = JSON.parse(line) as { listening?: boolean; data?: string };
      if (parsed.listening) listening = true;
      if (parsed.data === undefined || parsed.data === 'BARRIER=1') continue;
      const fields = Object.fromEntries(parsed.data.split('\n').map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
      datagrams.push({ mainPid: Number(fields.MAINPID), fields, atMs: systemClock.now() });
    }
  });
  await waitFor('the notify receiver to listen', () => listening || (child.exitCode !== null && Promise.reject(new Error('notify receiver exited'))), { timeoutMs: 10_000 });
  return { socketPath, datagrams, stop: () => child.kill('SIGTERM') };
}

const WATCHDOG_USEC = 3_000_000;
const WATCHDOG_MS = WATCHDOG_USEC / 1_000;
const BUSY_AT_MS = 4_000;

/** The fake socket needs python3 and the sender systemd's own systemd-notify (both on the project's machines). */
const HAS_TOOLS = existsSync(SYSTEMD_NOTIFY_BIN) && spawnSync('python3', ['--version']).status === 0;

describe.skipIf(!HAS_TOOLS)('reservd run under a fake systemd', () => {
  let database: TestDatabase;
  let sandbox: TestSandbox;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sandbox = await startTestSandbox({ clock: systemClock, switches: { limiter: { enabled: false } } });
    receiver = await startReceiver();
  });

  afterAll(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    receiver?.stop();
    await sandbox?.stop();
    await database?.drop();
  });

  const of = (pid: number, key: string): Datagram[] => receiver.datagrams.filter((d) => d.mainPid === pid && d.fields[key] !== undefined);

  /** Spawns `reservd run` with the fake NOTIFY_SOCKET and a 3 s watchdog, as systemd would. */
  async function start(extraEnv: Record<string, string> = {}): Promise<DaemonProcess> {
    const configPath = writeDaemonConfig({ daemon: { pollIntervalMs: 2_000, stopGraceMs: 5_000 }, venues: { 'la-villa': { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: sandbox.url } } } });
    const daemon = await spawnDaemon({ configPath, databaseUrl: database.url, env: { NOTIFY_SOCKET: receiver.socketPath, WATCHDOG_USEC: String(WATCHDOG_USEC), ...extraEnv } });
    daemons.push(daemon);
    return daemon;
  }

  it('a frozen loop stops WATCHDOG=1; the supervisor restarts it; the new pid is READY, pings, and sends STOPPING=1 on SIGTERM', async () => {
    const first = await start({ RESERVD_TEST_BUSY_LOOP_AT_MS: String(BUSY_AT_MS) });
    const ready = await waitFor('READY=1 from the first daemon', () => of(first.pid, 'READY')[0], { timeoutMs: 30_000 });
    expect(ready.fields).toEqual({ MAINPID: String(first.pid), READY: '1', STATUS: 'running: venues la-villa' });
    // "reservd started" is logged at the end of start; READY=1 follows the first tick, never before.
    expect(first.logs().some((l) => l.msg === 'reservd started')).toBe(true);

    // The fake supervisor: like systemd's WatchdogSec, it kills a process whose last ping (or READY=1) is older
    // than WATCHDOG_USEC, then starts a new one.
    const killed = await waitFor('the watchdog to expire', () => {
      const last = [ready, ...of(first.pid, 'WATCHDOG')].at(-1)!;
      return systemClock.now() - last.atMs > WATCHDOG_MS ? { lastPingMs: last.atMs - ready.atMs } : undefined;
    }, { timeoutMs: 30_000, everyMs: 50 });
    const exit = await first.stop('SIGKILL');
    // It was alive and frozen (not crashed) when killed, after pinging until the busy loop began.
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    const pings = of(first.pid, 'WATCHDOG');
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(pings.every((p) => Object.keys(p.fields).join() === 'MAINPID,WATCHDOG' && p.fields.WATCHDOG === '1')).toBe(true);
    expect(killed.lastPingMs).toBeGreaterThanOrEqual(BUSY_AT_MS - WATCHDOG_MS);
    expect(of(first.pid, 'STOPPING')).toEqual([]);

    const second = await start();
    expect(second.pid).not.toBe(first.pid);
    const ready2 = await waitFor('READY=1 from the restarted daemon', () => of(second.pid, 'READY')[0], { timeoutMs: 30_000 });
    expect(ready2.fields.STATUS).toBe('running: venues la-villa');
    await waitFor('two pings from the restarted daemon', () => of(second.pid, 'WATCHDOG').length >= 2, { timeoutMs: 3 * WATCHDOG_MS + 10_000 });
    const gaps = of(second.pid, 'WATCHDOG').map((p, i, all) => (i === 0 ? 0 : p.atMs - all[i - 1]!.atMs)).slice(1);
    // Paced by the clock at WATCHDOG_USEC/2 (exactly so in the unit test above), not sent in a burst.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(WATCHDOG_MS / 4);

    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const stopping = of(second.pid, 'STOPPING');
    expect(stopping.map((d) => d.fields)).toEqual([{ MAINPID: String(second.pid), STOPPING: '1', STATUS: 'stopping: draining in-flight bookings (up to 5000 ms)' }]);
    expect(second.logs().some((l) => l.msg === 'reservd stopped')).toBe(true);
  }, 120_000);
});
