import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DatabaseConfig } from '../src/config/schema.js';
import { openDatabase } from '../src/db/create-database.js';
import { startEmbeddedServer } from '../src/db/embedded-server.js';
import { DatabaseStartError } from '../src/db/errors.js';
import type { DbLogger } from '../src/db/logger.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { getStatus, insertReservation, insertUser } from '../src/reservations/index.js';
import { silentDbLogger } from './helpers/database.js';

let dir: string;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'reservd-embedded-'));
  // As root, PostgreSQL runs as "postgres", which must be able to enter the (0700) mkdtemp directory.
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('starts embedded PostgreSQL, refuses a second server on its data dir or port, and restarts without initdb', { timeout: 60_000 }, async () => {
  const config: DatabaseConfig = { url: null, embeddedDataDir: path.join(dir, 'pgdata'), embeddedPort: await freePort(), poolMax: 2 };
  const first = await openDatabase(config, silentDbLogger);
  try {
    expect(first.embedded).toBe(true);
    expect(first.url).toContain(`@127.0.0.1:${config.embeddedPort}/reservd`);
    await migrateToLatest(first.db, silentDbLogger);
    const userId = await insertUser(first.db, { firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' });
    const id = await insertReservation(first.db, { userId, venue: 'la-villa', targetDate: '2027-07-15', targetTime: '07:00', courts: [1] });
    expect(await getStatus(first.db, id)).toBe('pending');
    const listenAddresses = await sql<{ setting: string }>`SELECT setting FROM pg_settings WHERE name = 'listen_addresses'`.execute(first.db);
    expect(listenAddresses.rows[0]?.setting).toBe('127.0.0.1');

    const second = openDatabase(config, silentDbLogger);
    await expect(second).rejects.toBeInstanceOf(DatabaseStartError);
    await expect(second).rejects.toMatchObject({ code: 'data_dir_in_use' });
    await expect(second).rejects.toThrow(`data directory ${config.embeddedDataDir} is already in use`);
    expect(await getStatus(first.db, id)).toBe('pending');

    const otherDir = { ...config, embeddedDataDir: path.join(dir, 'pgdata-2') };
    await expect(openDatabase(otherDir, silentDbLogger)).rejects.toMatchObject({ code: 'port_in_use', message: expect.stringContaining(`127.0.0.1:${config.embeddedPort}`) });
  } finally {
    await first.close();
    await first.close();
  }

  const again = await openDatabase(config, silentDbLogger);
  try {
    expect(await migrateToLatest(again.db, silentDbLogger)).toEqual([]);
    const count = await again.db.selectFrom('reservations').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(count.n).toBe('1');
  } finally {
    await again.close();
  }
});

it('logs init and start durations, and stop() returns when PostgreSQL has already died', { timeout: 60_000 }, async () => {
  const messages: string[] = [];
  const logger: DbLogger = { info: (_obj, msg) => messages.push(msg), warn: () => {}, error: () => {} };
  const dataDir = path.join(dir, 'pgdata-killed');
  const server = await startEmbeddedServer({ dataDir, port: await freePort(), logger });
  expect(messages).toContainEqual(expect.stringMatching(/^Initialised a new embedded PostgreSQL data directory in .* \(\d+ ms\)\.$/));
  expect(messages).toContainEqual(expect.stringMatching(/^Embedded PostgreSQL is running on 127\.0\.0\.1:\d+ .*started in \d+ ms\)\.$/));
  const postmasterPid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  process.kill(postmasterPid, 'SIGKILL');
  await server.stop();
  await server.stop();
});

it.runIf(process.getuid?.() === 0)('as root, refuses a data directory the postgres user cannot enter', async () => {
  const locked = path.join(dir, 'locked');
  await mkdir(locked, { mode: 0o700 });
  await expect(startEmbeddedServer({ dataDir: path.join(locked, 'pgdata'), port: await freePort(), logger: silentDbLogger })).rejects.toMatchObject({
    code: 'data_dir_unusable',
    message: expect.stringContaining(`"postgres" user, which cannot enter ${locked} (mode 700)`),
  });
});
