import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { createProgram, DEFAULT_CONFIG_PATH, type BookNowOptions, type CommandHandlers } from '../src/cli.js';

const ROOT = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'reservd-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx src/main.ts ...args` and resolves with its exit code and output (never rejects). */
function reservd(args: string[]): Promise<Exit> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.RESERVD_CONFIG;
  delete env.RESERVD_LOG_LEVEL;
  delete env.DATABASE_URL;
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
