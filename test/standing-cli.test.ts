import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createProgram, type CommandHandlers } from '../src/cli.js';
import { openStandingDatabase } from '../src/commands/standing.js';
import { loadConfig } from '../src/config/load.js';
import { ContractError } from '../src/contracts/index.js';
import { insertUser } from '../src/reservations/index.js';
import { materialiseStandingOnce } from '../src/standing/materialiser.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

const ROOT = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'reservd-standing-'));
const logger = createSilentLogger();
const NOW = new Date('2027-03-01T00:00:00Z');
let t: TestDatabase;
let configPath: string;

beforeAll(async () => {
  t = await createTestDatabase();
  configPath = join(tmp, 'reservd.json');
  const site = { baseUrl: 'http://127.0.0.1:9', ownerKey: 'a3f09c1e' };
  const courts = { '1': { appointmentTypeId: 1, calendarId: 11 }, '2': { appointmentTypeId: 2, calendarId: 12 }, '3': { appointmentTypeId: 3, calendarId: 13 } };
  writeFileSync(configPath, JSON.stringify({ database: { url: t.url }, log: { level: 'silent' }, venues: { ny: { name: 'New York', timeZone: 'America/New_York', releaseRule: { hoursBefore: 48 }, site, courts } } }));
});
afterAll(async () => {
  await t?.drop();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  await t.truncate();
  await insertUser(t.db, { firstName: 'Ana', lastName: 'López', email: 'ana@example.com', phone: '+50255550000' });
});

/** Runs `reservd standing ...args` in-process; resolves with the exit code and what it wrote. */
async function standing(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  let code = -1;
  const unused = () => Promise.reject(new Error('not under test'));
  const handlers: CommandHandlers = {
    run: unused,
    migrate: unused,
    sandbox: unused,
    bookNow: unused,
    demo: unused,
    add: unused,
    list: unused,
    show: unused,
    cancel: unused,
    dbUrl: unused,
    psql: unused,
    standing: { load: (path) => loadConfig(path), openDatabase: (config) => openStandingDatabase(config, logger), write: (text) => void (out += text), now: () => NOW },
  };
  await createProgram(handlers, (c) => void (code = c)).parseAsync(['node', 'reservd', 'standing', ...args, '--config', configPath]);
  return { code, out };
}

describe('reservd standing (in-process, real database)', () => {
  it('add, list --json, pause, resume, remove', async () => {
    expect(await standing('add', '--user', '1', '--venue', 'ny', '--cron', '0 19 * * 2', '--courts', '3,1', '--until', '2027-06-29')).toEqual({
      code: 0,
      out: 'standing reservation 1 added: venue ny, cron "0 19 * * 2" (America/New_York), courts 3,1, until 2027-06-29; next: 2027-03-09 19:00, 2027-03-16 19:00, 2027-03-23 19:00\n',
    });
    await materialiseStandingOnce({ db: t.db, config: loadConfig(configPath), now: NOW, logger });
    const listed = await standing('list', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toEqual([
      { id: 1, user_id: 1, venue: 'ny', courts: [3, 1], cron: '0 19 * * 2', status: 'active', until_date: '2027-06-29', created_at: '2027-03-01T00:00:00.000Z', created_rows: 1, next_occurrence: '2027-03-09 19:00' },
    ]);
    expect(await standing('pause', '1')).toEqual({ code: 0, out: 'standing reservation 1 paused\n' });
    expect(await standing('pause', '1')).toEqual({ code: 0, out: 'standing reservation 1 is already paused\n' });
    expect((await standing('list')).out).toBe('1\tpaused\tuser 1\tny\t"0 19 * * 2"\tcourts 3,1\tuntil 2027-06-29\trows 1\tnext -\n');
    expect(await standing('resume', '1')).toEqual({ code: 0, out: 'standing reservation 1 resumed\n' });
    expect(await standing('remove', '1', '--cancel-waiting')).toEqual({ code: 0, out: 'standing reservation 1 removed; reservations cancelled: 1\n' });
    expect(await standing('list')).toEqual({ code: 0, out: 'no standing reservations\n' });
    expect(JSON.parse((await standing('list', '--json', '--all')).out)[0].status).toBe('removed');
    await expect(standing('resume', '1')).rejects.toThrow('id: standing reservation 1 was removed; add a new one instead');
    const row = await t.db.selectFrom('reservations').select(['status', 'reason']).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'cancelled', reason: 'standing reservation 1 was removed' });
  });

  it('remove without --cancel-waiting keeps the created rows', async () => {
    await standing('add', '--user', '1', '--venue', 'ny', '--cron', '0 19 * * 2', '--courts', '2');
    await materialiseStandingOnce({ db: t.db, config: loadConfig(configPath), now: NOW, logger });
    expect((await standing('remove', '1')).out).toBe('standing reservation 1 removed; the reservations it already created are kept (cancel them one by one, or use --cancel-waiting)\n');
    expect(await t.db.selectFrom('reservations').select('status').execute()).toEqual([{ status: 'pending' }]);
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const refused = async (args: string[]): Promise<string> => {
      const err: unknown = await standing(...args).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ContractError);
      return `${(err as ContractError).field}: ${(err as Error).message}`;
    };
    const base = ['add', '--user', '1', '--venue', 'ny', '--courts', '1'];
    expect(await refused([...base, '--cron', '30 19 * * 2'])).toBe('cron: cron: "30 19 * * 2" asks for 19:30, which is not a slot start at venue "ny" (slots start every 60 min from 07:00 to 21:00)');
    expect(await refused(['add', '--user', '1', '--venue', 'ny', '--courts', '5', '--cron', '0 19 * * 2'])).toBe('courts: courts: court 5 is not a court of venue "ny" (its courts: 1, 2, 3)');
    expect(await refused(['add', '--user', '7', '--venue', 'ny', '--courts', '1', '--cron', '0 19 * * 2'])).toBe('user_id: user_id: no booking_users row has id 7');
    expect(await refused(['pause', '42'])).toBe('id: id: no standing reservation has id 42');
    expect(await refused(['remove', '42'])).toBe('id: id: no standing reservation has id 42');
    expect(await t.db.selectFrom('standing_reservations').select('id').execute()).toEqual([]);
  });
});

function reservd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['RESERVD_CONFIG', 'RESERVD_LOG_LEVEL', 'DATABASE_URL', 'RESERVD_BROWSER', 'RESERVD_TEST_CLOCK_OFFSET_MS']) delete env[name];
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env, timeout: 45_000 }, (err, stdout, stderr) => {
      const failure = err as (Error & { code?: number | string }) | null;
      done({ code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0, stdout, stderr });
    });
  });
}

describe('reservd standing (process)', () => {
  it('exit 65 with the field and its flag for an off-grid court; exit 0 and JSON for list', async () => {
    const bad = await reservd(['standing', 'add', '--config', configPath, '--user', '1', '--venue', 'ny', '--cron', '0 19 * * 2', '--courts', '3,4']);
    expect(bad.code).toBe(65);
    expect(bad.stderr).toContain('reservd: courts (--courts): court 4 is not a court of venue "ny" (its courts: 1, 2, 3)');
    const added = await reservd(['standing', 'add', '--config', configPath, '--user', '1', '--venue', 'ny', '--cron', '0 19 * * 2', '--courts', '3,1']);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^standing reservation 1 added: venue ny, cron "0 19 \* \* 2" \(America\/New_York\), courts 3,1; next: /);
    const listed = await reservd(['standing', 'list', '--json', '--config', configPath]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id: 1, user_id: 1, venue: 'ny', courts: [3, 1], cron: '0 19 * * 2', status: 'active', until_date: null, created_rows: 0 }]);
  });
});
