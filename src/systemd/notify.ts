import { spawn } from 'node:child_process';
import type { Clock } from '../clock.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * systemd's notify protocol (`Type=notify`, sd_notify(3)): READY=1 once the daemon serves, WATCHDOG=1 from the
 * main event loop, STOPPING=1 when it drains, STATUS= lines for `systemctl status`. A no-op when
 * `NOTIFY_SOCKET` is unset (run by hand, in tests, under another supervisor).
 *
 * Mechanism: every message is sent by `/usr/bin/systemd-notify --pid=<our pid> VAR=VALUE...`, a child process.
 * Why not a library: the protocol is a datagram on an AF_UNIX socket and Node cannot send those; the npm
 * bindings (`sd-notify`, `systemd-daemon`, ...) are native addons that need libsystemd-dev and a C toolchain at
 * `npm ci` time, are rarely released and break on new Node ABIs, while `systemd-notify` ships with systemd
 * itself, so it exists wherever the unit runs. Costs and their answers:
 * - The sender is a child, not the main PID, so the unit needs `NotifyAccess=all` (systemd/reservd.service);
 *   `--pid=` adds MAINPID=<our pid> so systemd keeps tracking reservd, not the short-lived sender.
 * - systemd-notify waits (its default BARRIER=1, systemd ≥ 246) until the manager has read the message, which
 *   closes the race where it exits before systemd could attribute it to our cgroup. The wait happens in the
 *   child; the event loop only sees a spawn.
 * - A fork+exec per message. Measured here (Node 20, 2 cores, 50 WATCHDOG=1 sends to a fake socket): spawn()
 *   holds the event loop about 5 ms (libuv forks synchronously) and the sender's round trip is 15–20 ms,
 *   which runs in the child. Pings go every WATCHDOG_USEC/2 (15 s with the unit's WatchdogSec=30): 5 ms of
 *   loop per 15 s, and a booking that fires in that instant starts at most ~5 ms late. A ping is skipped, not
 *   queued, while the previous sender still runs. An addon would save the fork but not change the order of
 *   magnitude that matters (site round trips are 100s of ms).
 * The watchdog ping is armed on the {@link Clock}'s sleep, i.e. a timer of the main event loop: a loop frozen by
 * a busy task stops the pings, and systemd restarts the service after WatchdogSec (`Restart=on-failure`).
 */

/** The path of the sender; systemd installs it with the manager. */
export const SYSTEMD_NOTIFY_BIN = '/usr/bin/systemd-notify';

/** How long {@link SystemdNotifier.send} waits for a sender before giving up on it (ms). */
export const NOTIFY_SEND_TIMEOUT_MS = 5_000;

/** Sends one notify message (lines `VAR=VALUE`); resolves true when the sender exited 0. Injectable for tests. */
export type NotifySender = (assignments: readonly string[]) => Promise<boolean>;

/** The daemon's side of the notify protocol. Every method is a no-op when {@link enabled} is false. */
export interface SystemdNotifier {
  /** True when `NOTIFY_SOCKET` is set: reservd runs as a `Type=notify` service (or under a fake one in tests). */
  readonly enabled: boolean;
  /** Ping interval (ms): half of `WATCHDOG_USEC`, or null when systemd asked for no watchdog (or not of us). */
  readonly watchdogIntervalMs: number | null;
  /** READY=1 with a STATUS= line; call once the daemon serves (migrated, queue loaded). */
  ready(status: string): Promise<void>;
  /** A STATUS= line alone. */
  status(status: string): Promise<void>;
  /** STOPPING=1 with a STATUS= line; call when the drain begins. */
  stopping(status: string): Promise<void>;
  /** Starts the WATCHDOG=1 pings (no-op without a watchdog); safe to call twice. */
  startWatchdog(): void;
  /** Stops the pings; safe to call twice. */
  stopWatchdog(): void;
}

/**
 * Reads the watchdog interval from the environment systemd sets: `WATCHDOG_USEC` (µs) and, when present,
 * `WATCHDOG_PID` which must be our pid (sd_watchdog_enabled(3)). Pings go at half the period, as that page asks.
 *
 * @returns the ping interval in ms, or null when no watchdog applies.
 * @throws Error naming `WATCHDOG_USEC` when it is set but not a positive integer.
 */
export function watchdogIntervalMsFrom(env: Readonly<Record<string, string | undefined>>, pid: number): number | null {
  const raw = env.WATCHDOG_USEC;
  if (raw === undefined || raw === '') return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return null;
  const usec = Number(raw);
  if (!Number.isSafeInteger(usec) || usec <= 0) throw new Error(`WATCHDOG_USEC must be a positive integer number of µs, got "${raw}"`);
  return Math.max(1, Math.floor(usec / 2_000));
}

/** The default sender: `systemd-notify --pid=<pid> VAR=VALUE...`, killed after {@link NOTIFY_SEND_TIMEOUT_MS}. */
export function createSystemdNotifySender(args: { notifySocket: string; pid: number; bin?: string }): NotifySender {
  const bin = args.bin ?? SYSTEMD_NOTIFY_BIN;
  return (assignments) =>
    new Promise((resolve) => {
      const child = spawn(bin, [`--pid=${args.pid}`, ...assignments], {
        env: { NOTIFY_SOCKET: args.notifySocket, PATH: '/usr/bin:/bin' },
        stdio: 'ignore',
        timeout: NOTIFY_SEND_TIMEOUT_MS,
      });
      child.once('error', () => resolve(false));
      child.once('exit', (code) => resolve(code === 0));
    });
}

/**
 * Creates the notifier from the environment systemd gives the service (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
 * `WATCHDOG_PID`). Messages that fail are logged at warn, never thrown: a lost STATUS= must not stop bookings.
 *
 * @throws Error naming `WATCHDOG_USEC` when it is malformed.
 */
export function createSystemdNotifier(args: {
  env: Readonly<Record<string, string | undefined>>;
  clock: Clock;
  logger: Logger;
  pid?: number;
  send?: NotifySender;
}): SystemdNotifier {
  const { env, clock, logger } = args;
  const pid = args.pid ?? process.pid;
  const notifySocket = env.NOTIFY_SOCKET;
  const enabled = notifySocket !== undefined && notifySocket !== '';
  const watchdogIntervalMs = enabled ? watchdogIntervalMsFrom(env, pid) : null;
  const send = args.send ?? (enabled ? createSystemdNotifySender({ notifySocket, pid }) : async () => true);
  let watchdog: AbortController | null = null;

  async function notify(assignments: string[]): Promise<void> {
    if (!enabled) return;
    const ok = await send(assignments).catch(() => false);
    if (!ok) logger.warn({ notify: assignments.map((a) => a.split('=')[0]) }, 'systemd notify message was not delivered');
  }

  async function pingLoop(signal: AbortSignal, intervalMs: number): Promise<void> {
    let inFlight = false;
    while (!signal.aborted) {
      if (!inFlight) {
        inFlight = true;
        void notify(['WATCHDOG=1']).finally(() => (inFlight = false));
      }
      await clock.sleep(intervalMs, signal);
    }
  }

  const oneLine = (status: string): string => `STATUS=${status.replace(/\s+/g, ' ')}`;
  return {
    enabled,
    watchdogIntervalMs,
    ready: (status) => notify(['READY=1', oneLine(status)]),
    status: (status) => notify([oneLine(status)]),
    stopping: (status) => notify(['STOPPING=1', oneLine(status)]),
    startWatchdog() {
      if (watchdog || watchdogIntervalMs === null) return;
      watchdog = new AbortController();
      logger.info({ watchdog_interval_ms: watchdogIntervalMs }, 'systemd watchdog: pinging from the event loop');
      void pingLoop(watchdog.signal, watchdogIntervalMs);
    },
    stopWatchdog() {
      watchdog?.abort();
    },
  };
}
