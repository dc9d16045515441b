import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { systemClock } from '../../src/clock.js';
import { waitFor } from './wait.js';

/**
 * `reservd run` as a child process, as systemd runs it (`node --import tsx src/main.ts run`): for tests
 * that kill it, restart it or run several at once. Its JSON log lines are collected from stdout.
 */

const ROOT = resolve(import.meta.dirname, '..', '..');

/** How a spawned daemon ended. */
export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A spawned daemon. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /**
   * Real ms from the spawn to its "reservd started" line. Idle, about 4 s (tsx, Chromium, the pool); under
   * load (other test files on the same cores) many times that: scenarios that stand a fixed time before a
   * release can size their lead by the slowest start seen.
   */
  readonly startupMs: number;
  /** Parsed JSON log lines so far (stdout). */
  logs(): Array<Record<string, unknown>>;
  /** Everything written so far (stdout + stderr), for failure messages. */
  output(): string;
  /** Resolves with the first log line `match` accepts (rejects when the process exits first). */
  waitForLog(what: string, match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Settles when the process has exited. */
  readonly exited: Promise<DaemonExit>;
  /** Sends `signal` (if still running) and waits for the exit. */
  stop(signal: NodeJS.Signals): Promise<DaemonExit>;
}

/** Writes a config file into a fresh temporary directory and returns its path. */
export function writeDaemonConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'reservd-proc-'));
  const path = join(dir, 'reservd.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/**
 * Spawns `reservd run --config <configPath>` with `DATABASE_URL`, optional
 * `RESERVD_TEST_CLOCK_OFFSET_MS` and any extra `env` (e.g. a fake `NOTIFY_SOCKET`); resolves once it logged "reservd started".
 *
 * @throws Error with the daemon's output when it exits or does not start within `startTimeoutMs`.
 */
export async function spawnDaemon(args: { configPath: string; databaseUrl: string; clockOffsetMs?: number; startTimeoutMs?: number; env?: Record<string, string> }): Promise<DaemonProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: args.databaseUrl, RESERVD_LOG_LEVEL: 'debug', ...args.env };
  delete env.RESERVD_TEST_CLOCK_OFFSET_MS;
  if (args.clockOffsetMs !== undefined) env.RESERVD_TEST_CLOCK_OFFSET_MS = String(Math.round(args.clockOffsetMs));
  const spawnedAtMs = systemClock.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'run', '--config', args.configPath], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let startupMs = Number.NaN;
  let stdout = '';
  let stderr = '';
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stdout += text;
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let exit: DaemonExit | null = null;
  const exited = new Promise<DaemonExit>((done) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      done(exit);
    }),
  );
  const output = (): string => `${stderr}${stdout}`;
  const waitForLog: DaemonProcess['waitForLog'] = (what, match, timeoutMs = 60_000) => {
    const found = waitFor(what, () => lines.find(match), { timeoutMs, everyMs: 10 }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; daemon ${child.pid} output:\n${output().slice(-6_000)}`, { cause: err });
    });
    const died = exited.then((e) => {
      const line = lines.find(match);
      if (line) return line;
      throw new Error(`daemon ${child.pid} exited (${JSON.stringify(e)}) before ${what}:\n${output().slice(-4_000)}`);
    });
    // Whichever loses settles later: never an unhandled rejection.
    found.catch(() => undefined);
    died.catch(() => undefined);
    return Promise.race([found, died]);
  };
  const daemon: DaemonProcess = {
    child,
    pid: child.pid!,
    get startupMs() {
      return startupMs;
    },
    logs: () => lines,
    output,
    waitForLog,
    exited,
    async stop(signal) {
      if (!exit) child.kill(signal);
      return exited;
    },
  };
  try {
    await waitForLog('the daemon to start', (l) => l.msg === 'reservd started', args.startTimeoutMs ?? 60_000);
    startupMs = systemClock.now() - spawnedAtMs;
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw new Error(`${(err as Error).message}\n${output().slice(-4_000)}`, { cause: err });
  }
  return daemon;
}

/** How a `reservd book-now` process ended. */
export interface BookNowRun {
  code: number | null;
  /** The one JSON result line of stdout, or null when there was none. */
  summary: Record<string, unknown> | null;
  /** Parsed JSON log lines (stderr). */
  logs: Array<Record<string, unknown>>;
  output: string;
}

/**
 * Runs `reservd book-now --config <configPath> <args>` with `DATABASE_URL` (and optional
 * `RESERVD_TEST_CLOCK_OFFSET_MS`) to its end; its logs go to stderr, its result line to stdout.
 *
 * @throws Error with the output when it runs longer than `timeoutMs`.
 */
export async function runBookNow(args: { configPath: string; databaseUrl: string; args: string[]; clockOffsetMs?: number; timeoutMs?: number }): Promise<BookNowRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: args.databaseUrl, RESERVD_LOG_LEVEL: 'debug' };
  delete env.RESERVD_TEST_CLOCK_OFFSET_MS;
  if (args.clockOffsetMs !== undefined) env.RESERVD_TEST_CLOCK_OFFSET_MS = String(Math.round(args.clockOffsetMs));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'book-now', '--config', args.configPath, ...args.args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`book-now did not end within ${args.timeoutMs ?? 90_000} ms:\n${stderr.slice(-4_000)}${stdout}`));
    }, args.timeoutMs ?? 90_000);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      done(exitCode);
    });
  });
  const parse = (text: string): Array<Record<string, unknown>> =>
    text.split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return { code, summary: parse(stdout)[0] ?? null, logs: parse(stderr), output: `${stderr}${stdout}` };
}
