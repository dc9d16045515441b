import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../migrations/index.js';
import { createProgram, type AddOptions, type CommandHandlers, type DoctorOptions } from '../src/cli.js';
import { createManualClock, systemClock } from '../src/clock.js';
import { bounded, checkDataDir, doctorCommand, type DoctorDeps } from '../src/commands/doctor.js';
import type { Output } from '../src/commands/output.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { migrateAllDown, migrateToLatest } from '../src/db/migrate.js';
import { createTestDatabase, silentDbLogger, type TestDatabase } from './helpers/database.js';
import { LA_VILLA, startTestSandbox, type TestSandbox } from './helpers/sandbox.js';

/**
 * `reservd doctor` in-process on a real test database and the sandbox site (on the system clock, so its
 * `Date` headers agree with ours): every check passes; a venue whose site is down fails its check (exit 69);
 * an invalid config exits 78. Chromium is launched once, in the first test.
 */

let database: TestDatabase;
let sandbox: TestSandbox;
let captured: { out: string; err: string };

function capture(): Output {
  captured = { out: '', err: '' };
  return { write: (text) => void (captured.out += text), error: (text) => void (captured.err += text) };
}

/** A config on the test database whose venues' sites are the given base URLs. */
function configWith(sites: Record<string, string>): Config {
  const venues = Object.fromEntries(Object.entries(sites).map(([id, baseUrl]) => [id, { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl } }]));
  return parseConfig({ venues, database: { url: database.url } });
}

function deps(config: () => Config, over: Partial<DoctorDeps> = {}): DoctorDeps {
  return { configPath: 'config/test.json', load: config, logger: silentDbLogger, clock: systemClock, out: capture(), json: false, browser: false, timeoutMs: 10_000, ...over };
}

/** A port on 127.0.0.1 nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  database = await createTestDatabase();
  sandbox = await startTestSandbox({ clock: systemClock, switches: { limiter: { enabled: false } } });
});
afterAll(async () => {
  await sandbox?.stop();
  await database?.drop();
});

const KNOWN = Object.keys(migrations).length;
const redactedDbUrl = (): string => database.url.replace(/\/\/([^:@/]+):[^@]*@/, '//$1:***@');

describe('reservd doctor', () => {
  it('passes every check on a reachable, migrated database, Chromium and a running site (exit 0)', async () => {
    const d = deps(() => configWith({ 'la-villa': sandbox.url }), { browser: true, timeoutMs: 30_000 });
    expect(await doctorCommand(d)).toBe(0);
    const lines = captured.out.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe('✔ config: config/test.json (1 venue)');
    expect(lines[1]).toMatch(new RegExp(`^✔ database: ${escape(redactedDbUrl())} \\(database\\.url; PostgreSQL \\d+\\.\\d+\\)$`));
    expect(lines[2]).toBe(`✔ migrations: ${KNOWN} of ${KNOWN} applied`);
    expect(lines[3]).toMatch(/^✔ database clock: [+−]\d+ ms from the host's clock \(round trip \d+ ms\)$/);
    expect(lines[4]).toMatch(/^✔ chromium: \/\S+ \(\d+\.\d+\.\d+\.\d+\)$/);
    expect(lines[5]).toMatch(new RegExp(`^✔ site la-villa: ${escape(sandbox.url)} answers; clock [+−]\\d+ ms ± \\d+ ms \\(\\d+ requests, round trip \\d+ ms\\)$`));
    // Same clock on both ends: the offset is within its uncertainty of 0 (plus a loaded machine's slack).
    const [, sign, offset, uncertainty] = /clock ([+−])(\d+) ms ± (\d+) ms/.exec(lines[5]!)!;
    expect(Number(offset) * (sign === '−' ? -1 : 1)).toBeGreaterThanOrEqual(-Number(uncertainty) - 50);
    expect(Number(offset) * (sign === '−' ? -1 : 1)).toBeLessThanOrEqual(Number(uncertainty) + 50);
    expect(captured.err).toBe('');
  }, 60_000);

  it('fails the check of a venue whose site is down and exits 69; the other checks still run', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const d = deps(() => configWith({ 'la-villa': sandbox.url, down }));
    expect(await doctorCommand(d)).toBe(69);
    const lines = captured.out.trimEnd().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual(['✔ config', '✔ database', '✔ migrations', '✔ database clock', '✔ site la-villa', '✘ site down']);
    expect(lines[0]).toBe('✔ config: config/test.json (2 venues)');
    expect(lines[5]).toContain(down);
  }, 30_000);

  it('prints the checks as one JSON line with --json', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    expect(await doctorCommand(deps(() => configWith({ down }), { json: true }))).toBe(69);
    const report = JSON.parse(captured.out) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string }> };
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([['config', 'ok'], ['database', 'ok'], ['migrations', 'ok'], ['database clock', 'ok'], ['site down', 'fail']]);
    expect(report.checks[2]!.detail).toBe(`${KNOWN} of ${KNOWN} applied`);
  }, 30_000);

  it('fails the migrations check of a database missing migrations, naming them, and runs none', async () => {
    await migrateAllDown(database.db, silentDbLogger);
    try {
      expect(await doctorCommand(deps(() => configWith({})))).toBe(69);
      expect(captured.out.split('\n')[2]).toBe(`✘ migrations: 0 of ${KNOWN} applied; pending 0001_initial … ${Object.keys(migrations).at(-1)} (run "reservd migrate")`);
      expect(await doctorCommand(deps(() => configWith({})))).toBe(69); // still none applied
    } finally {
      await migrateToLatest(database.db, silentDbLogger);
    }
  }, 30_000);

  it('exits 78 with the config line failed when the config is invalid, checking nothing else', async () => {
    const load = (): Config => {
      throw new ConfigError('invalid configuration:\n  venues.x.timeZone: not a time zone');
    };
    expect(await doctorCommand(deps(load))).toBe(78);
    expect(captured.out).toBe('✘ config: config/test.json: invalid configuration: venues.x.timeZone: not a time zone\n');
  });

  it('fails the database check of an unreachable database within its bound', async () => {
    const port = await closedPort();
    const config = parseConfig({ venues: {}, database: { retryMs: 200 } }, { DATABASE_URL: `postgres://reservd:s3cret@127.0.0.1:${port}/reservd` });
    expect(await doctorCommand(deps(() => config, { timeoutMs: 5_000 }))).toBe(69);
    const lines = captured.out.trimEnd().split('\n');
    expect(lines[0]).toBe('✔ config: config/test.json (0 venues)');
    expect(lines[1]).toMatch(/^✘ database: /);
    expect(lines).toHaveLength(2);
    expect(captured.out).not.toContain('s3cret');
  }, 30_000);
});

describe('bounded', () => {
  it('fails a check still running at its bound and aborts its signal', async () => {
    const clock = createManualClock(0);
    let signal: AbortSignal | undefined;
    const result = bounded('site slow', clock, 10_000, (s) => {
      signal = s;
      return new Promise(() => undefined);
    });
    clock.advance(9_999);
    expect(signal?.aborted).toBe(false);
    clock.advance(1);
    expect(await result).toEqual({ name: 'site slow', status: 'fail', detail: 'no answer within 10000 ms' });
    expect(signal?.aborted).toBe(true);
  });

  it('returns a check that finishes first, and a thrown error as a failed line', async () => {
    const clock = createManualClock(0);
    expect(await bounded('x', clock, 10_000, async () => ({ name: 'x', status: 'ok', detail: 'fine' }))).toEqual({ name: 'x', status: 'ok', detail: 'fine' });
    expect(await bounded('y', clock, 10_000, async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9')))).toEqual({ name: 'y', status: 'fail', detail: 'connect ECONNREFUSED 127.0.0.1:9' });
  });
});

describe('checkDataDir', () => {
  it("reports the directory's owner and mode, and warns when group or others may read it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'reservd-doctor-'));
    try {
      const { uid, username } = userInfo();
      await chmod(dir, 0o700);
      expect(await checkDataDir(dir)).toEqual({ name: 'data directory', status: 'ok', detail: `${dir} owner ${username} (uid ${uid}), mode 0700` });
      await chmod(dir, 0o750);
      expect(await checkDataDir(dir)).toEqual({ name: 'data directory', status: 'warn', detail: `${dir} owner ${username} (uid ${uid}), mode 0750; readable by group or others: chmod 700 it` });
      expect(await checkDataDir(path.join(dir, 'pgdata'))).toEqual({
        name: 'data directory',
        status: 'warn',
        detail: `${path.join(dir, 'pgdata')} does not exist yet (created by the first "reservd migrate" or "reservd run")`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the command line', () => {
  it('doctor takes --config, --no-browser and --json; add takes --telegram-chat-id', async () => {
    const doctor: DoctorOptions[] = [];
    const add: AddOptions[] = [];
    const refuse = async (): Promise<number> => Promise.reject(new Error('not this one'));
    const handlers: CommandHandlers = {
      run: refuse, migrate: refuse, sandbox: refuse, bookNow: refuse, demo: refuse, list: refuse, show: refuse, cancel: refuse, dbUrl: refuse, psql: refuse,
      add: async (o) => (add.push(o), 0),
      doctor: async (o) => (doctor.push(o), 0),
    };
    const exits: number[] = [];
    const program = () => createProgram(handlers, (code) => exits.push(code), 'config/reservd.json');
    await program().parseAsync(['doctor'], { from: 'user' });
    await program().parseAsync(['doctor', '-c', 'x.json', '--no-browser', '--json'], { from: 'user' });
    expect(doctor).toEqual([{ config: 'config/reservd.json', browser: true }, { config: 'x.json', browser: false, json: true }]);
    const flags = ['--venue', 'la-villa', '--date', '2027-07-15', '--time', '07:00', '--courts', '2', '--first-name', 'Ana', '--last-name', 'López', '--email', 'a@example.test', '--phone', '1'];
    await program().parseAsync(['add', ...flags, '--telegram-chat-id', '123456789'], { from: 'user' });
    expect(add[0]?.telegramChatId).toBe('123456789');
    expect(exits).toEqual([0, 0, 0]);
  });
});

describe('spawned reservd doctor', () => {
  /** Runs `node --import tsx src/main.ts doctor <args>` to its end. */
  function runDoctor(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'doctor', ...args], {
      cwd: path.resolve(import.meta.dirname, '..'),
      env: { ...process.env, RESERVD_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  }

  it('exits 69 with a site down and 78 with an invalid config; the password never printed', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'reservd-doctor-'));
    try {
      const good = path.join(dir, 'good.json');
      const down = `http://127.0.0.1:${await closedPort()}`;
      await writeFile(good, JSON.stringify({ venues: { down: { ...LA_VILLA, site: { ...LA_VILLA.site, baseUrl: down } } } }));
      const withPassword = database.url.replace('//postgres@', '//postgres:s3cret@');
      const failed = await runDoctor(['--config', good, '--no-browser'], { DATABASE_URL: withPassword });
      expect(failed.code).toBe(69);
      const lines = failed.stdout.trimEnd().split('\n');
      expect(lines.map((l) => l.split(':')[0])).toEqual(['✔ config', '✔ database', '✔ migrations', '✔ database clock', '✘ site down']);
      expect(lines[0]).toBe(`✔ config: ${good} (1 venue)`);
      expect(lines[1]).toContain(`${redactedDbUrl().replace('//postgres@', '//postgres:***@')} (database.url; PostgreSQL `);
      expect(failed.stdout + failed.stderr).not.toContain('s3cret');

      const bad = path.join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ venues: { 'la-villa': { ...LA_VILLA, timeZone: 'Mars/Olympus' }, other: { ...LA_VILLA, slotLengthS: 'long' } } }));
      const invalid = await runDoctor(['--config', bad, '--json']);
      expect(invalid.code).toBe(78);
      const report = JSON.parse(invalid.stdout) as { ok: boolean; checks: Array<{ name: string; status: string; detail: string }> };
      expect(report.ok).toBe(false);
      expect(report.checks.map((c) => [c.name, c.status])).toEqual([['config', 'fail']]);
      expect(report.checks[0]!.detail).toBe(
        `${bad}: invalid configuration: venues.la-villa.timeZone: must be an IANA time zone such as "America/New_York"; venues.la-villa.site.baseUrl: required: a string; ` +
          'venues.other.site.baseUrl: required: a string; venues.other.slotLengthS: must be a whole number, got the string "long"',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
