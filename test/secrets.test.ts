import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, secretValuesOf } from '../src/config/load.js';
import { openDatabase } from '../src/db/create-database.js';
import { redactUrl, scrubSecrets } from '../src/redact.js';
import { createLogger, loggableReason } from '../src/telemetry/logger.js';

const ROOT = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'reservd-secrets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PASSWORD = 'Tr0ub4dor-s3cret';
/** A database URL with a password and a host that never resolves (RFC 6761 `.invalid`). */
const BAD_HOST_URL = `postgres://reservd:${PASSWORD}@db.reservd.invalid:5432/reservd`;

/** A logger writing into `lines` (the real pino logger of `createLogger`). */
function capturingLogger(secrets: readonly string[] = []): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let raw = '';
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void (raw += line) }, secrets });
  return { logger, text: () => raw };
}

describe('scrubSecrets / redactUrl', () => {
  it('replaces URL passwords and known secret values, in every form', () => {
    expect(scrubSecrets(`connecting to ${BAD_HOST_URL} failed`)).toBe('connecting to postgres://reservd:***@db.reservd.invalid:5432/reservd failed');
    expect(scrubSecrets('token "ab\\"cd-1234" and ab%22cd-1234 and ab"cd-1234', ['ab"cd-1234'])).toBe('token "[redacted]" and [redacted] and [redacted]');
    expect(scrubSecrets('the word pw stays', ['pw'])).toBe('the word pw stays');
    expect(redactUrl(BAD_HOST_URL)).toBe('postgres://reservd:***@db.reservd.invalid:5432/reservd');
    expect(redactUrl('postgres://reservd@db/reservd')).toBe('postgres://reservd@db/reservd');
  });

  it('replaces a password given as a query parameter of the URL (pg and libpq take it there too)', () => {
    expect(redactUrl('postgres://reservd:pw1@db:5432/reservd?password=Query-Secret-1&sslmode=disable&sslpassword=Key-Secret-2')).toBe(
      'postgres://reservd:***@db:5432/reservd?password=***&sslmode=disable&sslpassword=***',
    );
    expect(scrubSecrets('the server at postgres://u:***@127.0.0.1:1/db?application_name=x&PASSWORD=Query-Secret-1 could not be reached')).toBe(
      'the server at postgres://u:***@127.0.0.1:1/db?application_name=x&PASSWORD=*** could not be reached',
    );
    expect(scrubSecrets('postgres://u@db/reservd?password=Query-Secret-1#x "next"')).toBe('postgres://u@db/reservd?password=***#x "next"');
  });
});

describe('secrets never reach the logs', () => {
  it('a URL password in a message, a bound field or an error is scrubbed from the line', () => {
    const { logger, text } = capturingLogger(['bot-token-0123456789']);
    const err = Object.assign(new Error(`could not parse ${BAD_HOST_URL}`), { input: BAD_HOST_URL });
    logger.error({ err, database_url: BAD_HOST_URL, connectionString: BAD_HOST_URL }, `opening ${BAD_HOST_URL} with token bot-token-0123456789`);
    logger.info({ password: PASSWORD, DATABASE_URL: BAD_HOST_URL }, 'fields');
    logger.flush();
    const out = text();
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain('bot-token-0123456789');
    const [first, second] = out.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first!.msg).toBe('opening postgres://reservd:***@db.reservd.invalid:5432/reservd with token [redacted]');
    expect(first!.database_url).toBe('postgres://reservd:***@db.reservd.invalid:5432/reservd');
    expect(first!.connectionString).toBe('[redacted]');
    expect((first!.err as { input: string }).input).toBe('postgres://reservd:***@db.reservd.invalid:5432/reservd');
    expect(second).toMatchObject({ password: '[redacted]', DATABASE_URL: '[redacted]', msg: 'fields' });
  });

  it('a DATABASE_URL with a password on a host that does not resolve: the error names the URL without the password; the logs hold neither', async () => {
    const config = parseConfig({ database: { retryMs: 0, connectionTimeoutMs: 2_000 }, venues: {} }, { DATABASE_URL: BAD_HOST_URL });
    const { logger, text } = capturingLogger(secretValuesOf(config));
    const err = await openDatabase(config.database, logger).then(
      async (handle) => {
        await handle.close();
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    // ENOTFOUND, or EAI_AGAIN on a host without a resolver.
    expect(err!.message).toMatch(/^getaddrinfo (ENOTFOUND|EAI_AGAIN) db\.reservd\.invalid \(connecting to postgres:\/\/reservd:\*\*\*@db\.reservd\.invalid:5432\/reservd\)$/);
    logger.error({ err }, `reservd crashed: ${err!.message}`);
    logger.flush();
    expect(text()).toContain('connecting to postgres://reservd:***@db.reservd.invalid:5432/reservd');
    expect(text()).not.toContain(PASSWORD);
  });

  it('the reservd process (migrate) on that URL: exit 78 (an operator error), neither stdout nor stderr holds the password', async () => {
    const configPath = join(tmp, 'reservd.json');
    writeFileSync(configPath, JSON.stringify({ database: { retryMs: 0 }, venues: {} }));
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: BAD_HOST_URL };
    delete env.RESERVD_CONFIG;
    delete env.RESERVD_LOG_LEVEL;
    const exit = await new Promise<{ code: number | null; out: string }>((done) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', 'migrate', '--config', configPath], { cwd: ROOT, env, timeout: 45_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null) : 0;
        done({ code, out: stdout + stderr });
      });
    });
    expect(exit.code).toBe(78);
    expect(exit.out).toMatch(/reservd: getaddrinfo (ENOTFOUND|EAI_AGAIN) db\.reservd\.invalid \(connecting to postgres:\/\/reservd:\*\*\*@db\.reservd\.invalid:5432\/reservd\)/);
    expect(exit.out).not.toContain(PASSWORD);
  });

  it('the process logs the mode warning of a secrets file, naming the file and chmod 600', async () => {
    const passwordFile = join(tmp, 'db-password');
    writeFileSync(passwordFile, `${PASSWORD}\n`);
    chmodSync(passwordFile, 0o644);
    const configPath = join(tmp, 'reservd-file.json');
    writeFileSync(configPath, JSON.stringify({ database: { url: 'postgres://reservd@db.reservd.invalid:5432/reservd', password: { fromFile: passwordFile }, retryMs: 0 }, venues: {} }));
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.DATABASE_URL;
    delete env.RESERVD_CONFIG;
    delete env.RESERVD_LOG_LEVEL;
    const out = await new Promise<string>((done) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', 'migrate', '--config', configPath], { cwd: ROOT, env, timeout: 45_000 }, (_error, stdout, stderr) => done(stdout + stderr));
    });
    const warning = out.split('\n').filter((line) => line.includes('"level":"warn"')).map((line) => JSON.parse(line) as { msg: string })[0];
    expect(warning?.msg).toBe(`configuration: database.password: secret file ${passwordFile} is readable by group or others (mode 644); run "chmod 600 ${passwordFile}" (and make reservd's user its owner)`);
    expect(out).toContain('connecting to postgres://reservd:***@db.reservd.invalid:5432/reservd');
    expect(out).not.toContain(PASSWORD);
  });
});

describe('a secrets file that is not one value', () => {
  it('a device that never ends (/dev/zero) or a file over 64 KiB is a configuration error naming the key, read no further', () => {
    const big = join(tmp, 'big-secret');
    writeFileSync(big, 'x'.repeat(65_537));
    const exact = join(tmp, 'exact-secret');
    writeFileSync(exact, `${'y'.repeat(65_535)}\n`);
    chmodSync(exact, 0o600);
    const config = (file: string) => ({ database: { url: 'postgres://reservd@db/reservd', password: { fromFile: file } }, venues: {} });
    const quiet = { onWarning: () => {} };
    for (const file of ['/dev/zero', big]) {
      expect(() => parseConfig(config(file), {}, quiet)).toThrow(
        `invalid configuration:\n  database.password: cannot read secret file ${file} ("fromFile"): it holds more than 65536 bytes; a secrets file holds one value`,
      );
    }
    expect(secretValuesOf(parseConfig(config(exact), {}, quiet))).toContain('y'.repeat(65_535));
  });
});

describe('contact details never reach the logs', () => {
  it('loggableReason withholds reasons about contact fields at any depth', () => {
    expect(loggableReason('booking_users.email', 'booking_users.email: "ana@" is not a valid email address')).toBe('booking_users.email: invalid value (details withheld from logs)');
    expect(loggableReason('user.phone', 'user.phone: "12" is not a phone number')).toBe('user.phone: invalid value (details withheld from logs)');
    expect(loggableReason('result.user.email', 'result.user.email: "ana@" is not a valid email address')).toBe('result.user.email: invalid value (details withheld from logs)');
    expect(loggableReason('legacy.email', 'legacy.email: "ana@"')).toBe('legacy.email: invalid value (details withheld from logs)');
    expect(loggableReason('courts', 'courts: court 9 is not a court')).toBe('courts: court 9 is not a court');
    expect(loggableReason('target_time', 'target_time: "7:00" is not HH:MM')).toBe('target_time: "7:00" is not HH:MM');
  });

  it('a user, e-mail or phone bound to a log line is redacted', () => {
    const { logger, text } = capturingLogger();
    logger.info({ user: { email: 'ana@example.com', phone: '+502 5555 0101' }, result: { user: { email: 'ana@example.com' } }, email: 'ana@example.com' }, 'line');
    logger.flush();
    expect(text()).not.toContain('ana@example.com');
    expect(text()).not.toContain('5555 0101');
  });
});
