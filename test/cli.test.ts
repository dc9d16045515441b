import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOK_NOW_FLAGS, createProgram, DEFAULT_CONFIG_PATH, withBookNowFlag, type BookNowOptions, type CommandHandlers } from '../src/cli.js';
import { REQUEST_FIELDS } from '../src/contracts/index.js';
import { openDatabase } from '../src/db/create-database.js';
import { silentDbLogger } from './helpers/database.js';

const ROOT = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'reservd-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node --import tsx src/main.ts ...args` and resolves with its exit code and output (never rejects).
 * @param extraEnv - variables to set on top of this process's environment.
 */
function reservd(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Exit> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.RESERVD_CONFIG;
  delete env.RESERVD_LOG_LEVEL;
  delete env.DATABASE_URL;
  delete env.RESERVD_BROWSER;
  delete env.RESERVD_TEST_CLOCK_OFFSET_MS;
  Object.assign(env, extraEnv);
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env, timeout: 45_000 }, (err, stdout, stderr) => {
      const failure = err as (Error & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
      done({
        code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
        signal: failure?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

const BOOK_NOW_ARGS = ['--venue', 'la-villa', '--date', '2025-06-03', '--time', '07:00', '--first-name', 'Ana', '--last-name', 'López', '--email', 'ana@example.com', '--phone', '+50255550000'];

describe('reservd process exit codes', () => {
  it('a config file with a bad key → 78, stderr names the file and the key', async () => {
    const raw = JSON.parse(readFileSync(join(ROOT, 'config/reservd.json'), 'utf8')) as { venues: Record<string, { timeZone: string }> };
    raw.venues['la-villa']!.timeZone = 'Europe/Gotham';
    const path = join(tmp, 'bad-zone.json');
    writeFileSync(path, JSON.stringify(raw));

    const exit = await reservd(['run', '--config', path]);
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(78);
    expect(exit.stderr).toContain(`reservd: ${path}: invalid configuration:`);
    expect(exit.stderr).toContain('venues.la-villa.timeZone: must be an IANA time zone');
  });

  it('a missing config file → 78, stderr names the file', async () => {
    const path = join(tmp, 'missing.json');
    const exit = await reservd(['run', '--config', path]);
    expect(exit.code).toBe(78);
    expect(exit.stderr).toContain(`cannot read configuration file ${path}`);
  });

  it('--help → 0 and the usage on stdout', async () => {
    const exit = await reservd(['--help']);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('Usage: reservd');
    for (const command of ['run', 'migrate', 'sandbox', 'book-now', 'demo']) expect(exit.stdout).toContain(command);
  });

  it('an unknown command → 64', async () => {
    const exit = await reservd(['frobnicate']);
    expect(exit.code).toBe(64);
    expect(exit.stderr).toContain("unknown command 'frobnicate'");
  });

  it('book-now without a required option → 64, naming the option', async () => {
    const exit = await reservd(['book-now', ...BOOK_NOW_ARGS]);
    expect(exit.code).toBe(64);
    expect(exit.stderr).toContain("required option '--courts <list>' not specified");
  });
});

/** A TCP server on a free 127.0.0.1 port, holding it until closed. */
function holdPort(): Promise<{ server: Server; port: number }> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address && typeof address === 'object') done({ server, port: address.port });
      else reject(new Error('no port'));
    });
  });
}

/** Writes a config file that only sets `database` (no venues) and returns its path. */
function databaseConfig(name: string, database: Record<string, unknown>): string {
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify({ database, venues: {} }));
  return path;
}

/**
 * Asserts the operator-error shape: exit 78, exactly `reservd: <sentence>` on stderr, and the sentence not
 * repeated on stdout (whose log may hold earlier info/warn lines, but no error or fatal line), no stack.
 */
function expectOperatorError(exit: Exit, sentence: string, code = 78): void {
  expect(exit.signal).toBeNull();
  expect(exit.code).toBe(code);
  expect(exit.stderr).toBe(`reservd: ${sentence}\n`);
  expect(exit.stdout).not.toMatch(/"level":"(error|fatal)"/);
  expect(exit.stdout + exit.stderr).not.toContain('    at ');
}

describe('operator errors → 78 with one sentence on stderr and no stack trace', () => {
  it('a bad RESERVD_LOG_LEVEL', async () => {
    const exit = await reservd(['migrate'], { RESERVD_LOG_LEVEL: 'loud' });
    expectOperatorError(exit, 'config/reservd.json: RESERVD_LOG_LEVEL: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"');
  });

  it('a DATABASE_URL that is not a URL (printed once, the value withheld)', async () => {
    const exit = await reservd(['migrate'], { DATABASE_URL: 'not-a-url' });
    expectOperatorError(exit, 'config/reservd.json: invalid configuration:\n  database.url: is not a URL; expected "postgres://user@host:5432/database" (the value is withheld: it may hold a password)');
  });

  it('a database that refuses connections (retryMs 0): 75, so systemd tries again later', async () => {
    const { server, port } = await holdPort();
    await new Promise((done) => server.close(done));
    const path = databaseConfig('refused.json', { url: `postgres://reservd@127.0.0.1:${port}/reservd`, retryMs: 0 });
    const exit = await reservd(['migrate', '--config', path]);
    expectOperatorError(exit, `Database: the server at postgres://reservd@127.0.0.1:${port}/reservd could not be reached (connect ECONNREFUSED 127.0.0.1:${port}); retried for up to database.retryMs = 0 ms.`, 75);
  });

  it('an unknown role, with the password replaced in the message', async () => {
    const path = databaseConfig('role.json', { url: 'postgres://no_such_role_reservd:hunter2secret@127.0.0.1:5432/test', retryMs: 0 });
    const exit = await reservd(['migrate', '--config', path]);
    expectOperatorError(exit, 'role "no_such_role_reservd" does not exist (connecting to postgres://no_such_role_reservd:***@127.0.0.1:5432/test)');
    expect(exit.stdout + exit.stderr).not.toContain('hunter2secret');
  });

  it('an unknown database', async () => {
    const path = databaseConfig('nodb.json', { url: 'postgres://postgres@127.0.0.1:5432/no_such_db_reservd', retryMs: 0 });
    const exit = await reservd(['migrate', '--config', path]);
    expectOperatorError(exit, 'database "no_such_db_reservd" does not exist (connecting to postgres://postgres@127.0.0.1:5432/no_such_db_reservd)');
  });

  it('a host that does not resolve', async () => {
    const path = databaseConfig('host.json', { url: 'postgres://reservd@db.reservd.invalid:5432/reservd', retryMs: 0 });
    const exit = await reservd(['migrate', '--config', path]);
    // ENOTFOUND (78), or EAI_AGAIN (retried, then "could not be reached": 75) on a host without a resolver.
    expect([78, 75]).toContain(exit.code);
    expect(exit.stderr).toMatch(/^reservd: (getaddrinfo ENOTFOUND db\.reservd\.invalid \(connecting to postgres:\/\/reservd@db\.reservd\.invalid:5432\/reservd\)|Database: the server at .* could not be reached .*)\n$/);
    expect(exit.stdout + exit.stderr).not.toContain('    at ');
  });

  it('the sandbox port in use', async () => {
    const { server, port } = await holdPort();
    try {
      const exit = await reservd(['sandbox', '--port', String(port)]);
      expectOperatorError(exit, `sandbox: port ${port} on 127.0.0.1 is in use by another program; stop it or pass --port (0 picks a free one).`);
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  it('an embedded data directory another PostgreSQL runs on, and its port taken', { timeout: 90_000 }, async () => {
    // As root, PostgreSQL runs as "postgres", which must be able to enter the (0700) mkdtemp directory.
    chmodSync(tmp, 0o755);
    const { server, port: embeddedPort } = await holdPort();
    await new Promise((done) => server.close(done));
    const embeddedDataDir = join(tmp, 'pgdata');
    const first = await openDatabase({ url: null, embeddedDataDir, embeddedPort, poolMax: 2 }, silentDbLogger);
    try {
      const inUse = await reservd(['migrate', '--config', databaseConfig('embedded.json', { embeddedDataDir, embeddedPort })]);
      expectOperatorError(inUse, `Embedded PostgreSQL data directory ${embeddedDataDir} is already in use by another running PostgreSQL (probably another reservd; PostgreSQL refused ` +
        'to start because of its lock file postmaster.pid). Stop the other process, give this one its own database.embeddedDataDir, or set DATABASE_URL.');
      const portTaken = await reservd(['migrate', '--config', databaseConfig('embedded-2.json', { embeddedDataDir: join(tmp, 'pgdata-2'), embeddedPort })]);
      expectOperatorError(portTaken, `Embedded PostgreSQL cannot listen on 127.0.0.1:${embeddedPort}: the port is already in use. Choose another database.embeddedPort or stop the program using it.`);
    } finally {
      await first.close();
    }
  });

});

describe('reservd --version', () => {
  it('prints package.json\'s version and exits 0', async () => {
    const exit = await reservd(['--version']);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toBe(`${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });
});

describe('reservd book-now validates its input before it opens the database or starts Chromium', () => {
  /**
   * A config under which opening the services fails at once: the browser path does not exist (exit 78,
   * checked first by openServices) and the database is a closed port. A 65 with the input's sentence can
   * only come from validation that ran before either.
   */
  function unstartableConfig(): string {
    const raw = JSON.parse(readFileSync(join(ROOT, 'config/reservd.json'), 'utf8')) as { daemon: Record<string, unknown>; database: Record<string, unknown> };
    raw.daemon.browserExecutable = join(tmp, 'no-such-chromium');
    raw.database.url = 'postgres://reservd:unused@127.0.0.1:1/reservd';
    const path = join(tmp, 'unstartable.json');
    writeFileSync(path, JSON.stringify(raw));
    return path;
  }
  const ARGS = (over: Record<string, string>): string[] => {
    const o = { venue: 'la-villa', date: '2030-06-03', time: '07:00', courts: '2,1', 'first-name': 'Ana', 'last-name': 'López', email: 'ana@example.com', phone: '+50255550000', ...over };
    return Object.entries(o).flatMap(([k, v]) => [`--${k}`, v]);
  };
  /** The `reservd: ...` sentences on stderr (the rest are JSON log lines). */
  const sentences = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('reservd: '));

  it('control: valid input under that config does try to start the browser (exit 78)', async () => {
    const exit = await reservd(['book-now', '--config', unstartableConfig(), ...ARGS({})]);
    expect(exit.code).toBe(78);
    expect(sentences(exit.stderr)).toEqual([`reservd: browser executable ${join(tmp, 'no-such-chromium')} (daemon.browserExecutable or RESERVD_BROWSER) does not exist; fix the path, or unset it to auto-detect`]);
  });

  it('a name with an ESC sequence → 65 and one sentence naming the column and the flag; no browser', async () => {
    const exit = await reservd(['book-now', '--config', unstartableConfig(), ...ARGS({ 'first-name': 'Ana\u001b[31m' })]);
    expect(exit.code).toBe(65);
    expect(sentences(exit.stderr)).toEqual(['reservd: booking_users.first_name (--first-name): contains a control character U+001B (ESC) at position 4; names may not contain control or bidirectional-control characters']);
    expect(exit.stderr).not.toContain('no-such-chromium');
    expect(exit.stdout).toBe('');
  });

  it('a slot that started one minute ago → 65 with the queue\'s sentence (clock shifted to 13:01Z)', async () => {
    // 2030-06-03 07:00 in America/Guatemala is 13:00Z; the shifted clock stands about one minute after it.
    const offsetMs = Date.parse('2030-06-03T13:01:00.000Z') - Date.now();
    const exit = await reservd(['book-now', '--config', unstartableConfig(), ...ARGS({})], { RESERVD_TEST_CLOCK_OFFSET_MS: String(offsetMs) });
    expect(exit.code).toBe(65);
    expect(sentences(exit.stderr)).toEqual(['reservd: target_date/target_time (--date/--time): the slot 2030-06-03 07:00 (America/Guatemala) started at 2030-06-03T13:00:00.000Z, which is in the past']);
    expect(exit.stderr).not.toContain('no-such-chromium');
  });

  it('a bad time → 65, named target_time with its flag', async () => {
    const exit = await reservd(['book-now', '--config', unstartableConfig(), ...ARGS({ time: '7:00' })]);
    expect(exit.code).toBe(65);
    expect(sentences(exit.stderr)).toEqual(['reservd: target_time (--time): "7:00" is not a 24-hour HH:MM time']);
  });
});

describe('book-now flags beside column names', () => {
  it('every field a request error can name has its flag (queue_position is not a book-now input)', () => {
    const { user, queuePosition: _q, ...rest } = REQUEST_FIELDS;
    for (const field of [...Object.values(user), ...Object.values(rest)]) expect(BOOK_NOW_FLAGS, field).toHaveProperty([field]);
    expect(BOOK_NOW_FLAGS).toEqual({
      venue: '--venue',
      target_date: '--date',
      target_time: '--time',
      'target_date/target_time': '--date/--time',
      courts: '--courts',
      'booking_users.first_name': '--first-name',
      'booking_users.last_name': '--last-name',
      'booking_users.email': '--email',
      'booking_users.phone': '--phone',
    });
  });

  it('withBookNowFlag adds the flag after the column; other messages are unchanged', () => {
    expect(withBookNowFlag('booking_users.email', 'booking_users.email: "ana@" is not a valid email address')).toBe('booking_users.email (--email): "ana@" is not a valid email address');
    expect(withBookNowFlag('reservationId', 'reservationId: 0 is not a reservation id')).toBe('reservationId: 0 is not a reservation id');
    expect(withBookNowFlag(undefined, 'something else')).toBe('something else');
    expect(withBookNowFlag('courts', 'a message of another form')).toBe('a message of another form');
  });
});

describe('createProgram', () => {
  interface Calls {
    run: unknown[];
    bookNow: BookNowOptions[];
    sandbox: unknown[];
    exits: number[];
    out: string;
    err: string;
  }

  function program(defaultConfig?: string): { program: Command; calls: Calls } {
    const calls: Calls = { run: [], bookNow: [], sandbox: [], exits: [], out: '', err: '' };
    const handlers: CommandHandlers = {
      run: async (o) => (calls.run.push(o), 0),
      migrate: async () => 0,
      sandbox: async (o) => (calls.sandbox.push(o), 0),
      bookNow: async (o) => (calls.bookNow.push(o), 2),
      demo: async () => 0,
      add: async () => 0,
      list: async () => 0,
      show: async () => 0,
      cancel: async () => 0,
      dbUrl: async () => 0,
      psql: async () => 0,
    };
    const created = createProgram(handlers, (code) => calls.exits.push(code), defaultConfig);
    // Subcommands copy the output settings when they are created, so each one is configured.
    for (const command of [created, ...created.commands]) {
      command.configureOutput({ writeOut: (s) => void (calls.out += s), writeErr: (s) => void (calls.err += s) });
    }
    return { program: created, calls };
  }

  async function refusal(p: Command, args: string[]): Promise<CommanderError> {
    try {
      await p.parseAsync(args, { from: 'user' });
    } catch (err) {
      expect(err).toBeInstanceOf(CommanderError);
      return err as CommanderError;
    }
    throw new Error(`expected "${args.join(' ')}" to be refused`);
  }

  it('book-now --courts 2,1 parses to [2, 1] and hands every option to the handler', async () => {
    const { program: p, calls } = program();
    await p.parseAsync(['book-now', ...BOOK_NOW_ARGS, '--courts', '2,1'], { from: 'user' });
    expect(calls.bookNow).toEqual([
      {
        config: DEFAULT_CONFIG_PATH,
        venue: 'la-villa',
        date: '2025-06-03',
        time: '07:00',
        courts: [2, 1],
        firstName: 'Ana',
        lastName: 'López',
        email: 'ana@example.com',
        phone: '+50255550000',
      },
    ]);
    expect(calls.exits).toEqual([2]);
    expect(calls.err).toBe('');
  });

  it('trims spaces around court numbers', async () => {
    const { program: p, calls } = program();
    await p.parseAsync(['book-now', ...BOOK_NOW_ARGS, '--courts', ' 3 , 1 '], { from: 'user' });
    expect(calls.bookNow[0]?.courts).toEqual([3, 1]);
  });

  it.each(['2,x', '2,,1', '', '1.5', '-1'])('book-now --courts "%s" is refused with a message naming --courts', async (courts) => {
    const { program: p, calls } = program();
    const err = await refusal(p, ['book-now', ...BOOK_NOW_ARGS, '--courts', courts]);
    expect(err.code).toBe('commander.invalidArgument');
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('--courts must be a comma-separated list of court numbers');
    expect(calls.err).toContain(`option '--courts <list>' argument '${courts}' is invalid`);
    expect(calls.err).toContain('Usage: reservd book-now');
    expect(calls.bookNow).toEqual([]);
    expect(calls.exits).toEqual([]);
  });

  it('book-now without --courts is refused', async () => {
    const { program: p, calls } = program();
    const err = await refusal(p, ['book-now', ...BOOK_NOW_ARGS]);
    expect(err.code).toBe('commander.missingMandatoryOptionValue');
    expect(calls.err).toContain("required option '--courts <list>' not specified");
    expect(calls.bookNow).toEqual([]);
  });

  it('run uses the given default config path or --config', async () => {
    const { program: p, calls } = program('/etc/reservd/reservd.json');
    await p.parseAsync(['run'], { from: 'user' });
    await p.parseAsync(['run', '-c', 'other.json'], { from: 'user' });
    expect(calls.run).toEqual([{ config: '/etc/reservd/reservd.json' }, { config: 'other.json' }]);
    expect(calls.exits).toEqual([0, 0]);
  });

  it('sandbox parses --port and --clock-skew-ms as whole numbers and refuses other text', async () => {
    const { program: p, calls } = program();
    await p.parseAsync(['sandbox', '--port', '0', '--clock-skew-ms', '-1500'], { from: 'user' });
    expect(calls.sandbox).toEqual([{ config: DEFAULT_CONFIG_PATH, port: 0, clockSkewMs: -1500 }]);
    const err = await refusal(program().program, ['sandbox', '--port', '80a']);
    expect(err.message).toContain('--port must be a whole number (got "80a")');
  });

  it('--help and unknown commands surface as CommanderErrors (exitOverride is on)', async () => {
    const help = program();
    const helpErr = await refusal(help.program, ['--help']);
    expect(helpErr.exitCode).toBe(0);
    expect(helpErr.code).toBe('commander.helpDisplayed');
    expect(help.calls.out).toContain('Usage: reservd');

    const unknown = program();
    const unknownErr = await refusal(unknown.program, ['frobnicate']);
    expect(unknownErr.code).toBe('commander.unknownCommand');
    expect(unknownErr.exitCode).toBe(1);
    expect(unknown.calls.err).toContain("unknown command 'frobnicate'");
  });
});
