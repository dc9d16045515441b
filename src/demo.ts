import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { createApp } from './app.js';
import { systemClock, type Clock } from './clock.js';
import { loadConfig, parseConfig, secretValuesOf, type ConfigEnv } from './config/load.js';
import type { Config } from './config/schema.js';
import type { Database } from './db/types.js';
import { listLiveDaemons, listReservationOutcomes, insertReservation, insertUser } from './reservations/index.js';
import { createSandboxSite, type SandboxBooking } from './sandbox/site.js';
import { addDays, localDateTime } from './scheduling/release-time.js';
import { createLogger } from './telemetry/logger.js';

/**
 * `npm run demo`: the main job end to end on one machine. Starts the sandbox site (the Acuity look-alike),
 * the database (embedded PostgreSQL unless `DATABASE_URL` is set) and the daemon; inserts three
 * reservations whose slots are released within about a minute (two want the same slot, so one falls back to
 * its second court); prints a countdown and each outcome as it lands (✔ only for a booking, ✘ for anything
 * else); then what the site recorded. Exits 0 once all three are final and booked, 1 otherwise.
 *
 * The demo venue's rule is `daysBefore: 2, at: <the next whole minute at least 25 s away>`, so every
 * slot two days ahead opens at that instant on the sandbox too.
 */

/**
 * The demo venue's id: unique per run, so a demo on a database shared with other daemons (another demo
 * included, whose sandbox is another site) never has its rows taken by them, nor takes theirs.
 */
const DEMO_VENUE_ID = `demo-club-${randomBytes(3).toString('hex')}`;
const DEMO_ZONE = 'America/Guatemala';
const FINAL = new Set(['succeeded', 'failed', 'rejected', 'expired', 'cancelled', 'needs_attention']);

/** The demo configuration: one venue released at `at`, a short prepare lead, the database from env. */
function demoConfig(args: { at: string; baseUrl: string; base?: Config | undefined; env: ConfigEnv; embedded?: { dataDir: string; port: number } }): Config {
  const base = args.base;
  return parseConfig(
    {
      daemon: { ...(base?.daemon ?? {}), prepareLeadMs: 15_000, pollIntervalMs: 5_000 },
      database: {
        // The base's password is already in its url (parseConfig put it there).
        ...(base?.database ?? {}),
        password: null,
        ...(args.embedded ? { embeddedDataDir: args.embedded.dataDir, embeddedPort: args.embedded.port } : {}),
      },
      log: { level: 'info' },
      venues: {
        [DEMO_VENUE_ID]: {
          name: 'Demo Tennis Club',
          timeZone: DEMO_ZONE,
          releaseRule: { daysBefore: 2, at: args.at },
          site: { adapter: 'acuity', baseUrl: args.baseUrl, ownerKey: 'd3a0c1b2', businessId: 31337002 },
          courts: {
            '1': { appointmentTypeId: 70000201, calendarId: 9000301, name: 'Cancha 1' },
            '2': { appointmentTypeId: 70000202, calendarId: 9000302, name: 'Cancha 2' },
            '3': { appointmentTypeId: 70000203, calendarId: 9000303, name: 'Cancha 3' },
          },
          firstSlotTime: '07:00',
          lastSlotTime: '21:00',
        },
      },
    },
    args.env,
    // The base file's warnings were given when it was loaded; its secrets come back here as plain values.
    { onWarning: () => undefined },
  );
}

/** The next whole venue-local minute at least `leadMs` away: the demo's release time. */
function demoReleaseMinute(clock: Clock, leadMs: number): { date: string; time: string; atMs: number } {
  const atMs = Math.ceil((clock.now() + leadMs) / 60_000) * 60_000;
  return { ...localDateTime(atMs, DEMO_ZONE), atMs };
}

/** A fresh 0755 directory under the system temp dir and a free 127.0.0.1 port for the demo's database. */
async function createThrowawayDataDir(): Promise<{ root: string; dataDir: string; port: number }> {
  const parent = await mkdtemp(join(tmpdir(), 'reservd-demo-'));
  await chmod(parent, 0o755);
  const port = await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  return { root: parent, dataDir: join(parent, 'pgdata'), port };
}

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Runs the demo; resolves to the exit code (0 when all three reservations are final and booked). */
export async function runDemo(args: { configPath?: string | undefined; env: ConfigEnv; onStopSignal: () => Promise<string> }): Promise<number> {
  const clock = systemClock;
  const startedMs = clock.now();
  const base = args.configPath ? loadConfig(args.configPath, args.env) : undefined;
  const release = demoReleaseMinute(clock, 25_000);
  const slotDate = addDays(release.date, 2);

  const site = createSandboxSite({ config: demoConfig({ at: release.time, baseUrl: 'http://127.0.0.1:1', env: args.env, base }), clock });
  const { url } = await site.start(0);
  // Without DATABASE_URL (or a base config naming a data dir) the demo gets a throw-away embedded database
  // in a fresh directory PostgreSQL's user can reach even when the project sits under /root (0700), on a
  // free port, so it never collides with a running `reservd run`.
  const throwaway = !args.env.DATABASE_URL && !base ? await createThrowawayDataDir() : null;
  const config = demoConfig({ at: release.time, baseUrl: url, env: args.env, base, ...(throwaway ? { embedded: { dataDir: throwaway.dataDir, port: throwaway.port } } : {}) });
  mkdirSync('.reservd', { recursive: true });
  const logFile = `.reservd/demo-${new Date(startedMs).toISOString().replace(/[:.]/g, '-')}.log`;
  const logger = createLogger({ level: 'info', destination: pino.destination({ dest: logFile, sync: false, mkdir: true }), secrets: secretValuesOf(config) });
  print(`reservd demo — sandbox site ${url}, database ${config.database.url ? 'from DATABASE_URL' : `embedded (${config.database.embeddedDataDir})`}`);
  print(`daemon logs (JSON): ${logFile}`);

  const app = createApp({ config, logger, clock });
  let stopped = false;
  void args.onStopSignal().then(() => (stopped = true));
  try {
    await app.start();
    const db = app.services()!.database.db;
    await printOtherDaemons(db, app.services()!.daemonId, clock);
    const ana = await insertUser(db, { firstName: 'Ana', lastName: 'Alvarez', email: 'ana@example.com', phone: '+502 5555 0101' });
    const ben = await insertUser(db, { firstName: 'Ben', lastName: 'Barrios', email: 'ben@example.com', phone: '+502 5555 0102' });
    const cleo = await insertUser(db, { firstName: 'Cleo', lastName: 'Castillo', email: 'cleo@example.com', phone: '+502 5555 0103' });
    const wishes = [
      { who: 'Ana', userId: ana, time: '07:00', courts: [1, 2] },
      { who: 'Ben', userId: ben, time: '07:00', courts: [1, 2] },
      { who: 'Cleo', userId: cleo, time: '08:00', courts: [3, 1] },
    ];
    const ids: number[] = [];
    for (const w of wishes) {
      ids.push(await insertReservation(db, { userId: w.userId, venue: DEMO_VENUE_ID, targetDate: slotDate, targetTime: w.time, courts: w.courts }));
      print(`queued reservation for ${w.who}: ${slotDate} ${w.time} (${DEMO_ZONE}), courts ${w.courts.join(' then ')}`);
    }
    print(`slots for ${slotDate} are released at ${release.date} ${release.time} ${DEMO_ZONE} (${new Date(release.atMs).toISOString()})`);
    const deadlineMs = release.atMs + 120_000;
    const reported = new Set<number>();
    let booked = 0;
    let lastCountdownMs = 0;
    while (reported.size < ids.length && !stopped && clock.now() < deadlineMs) {
      const rows = await listReservationOutcomes(db, ids);
      for (const row of rows) {
        if (!FINAL.has(row.status) || reported.has(row.id)) continue;
        reported.add(row.id);
        const who = wishes[ids.indexOf(row.id)]?.who ?? `#${row.id}`;
        const wish = wishes[ids.indexOf(row.id)];
        if (row.status === 'succeeded') {
          booked += 1;
          const fellBack = wish && row.booked_court !== wish.courts[0] ? ` (court ${wish.courts[0]} was not to be had: fell back)` : '';
          print(`✔ reservation ${row.id} (${who}): booked court ${row.booked_court}${fellBack}, confirmation ${row.confirmation_code}`);
        } else {
          print(`✘ reservation ${row.id} (${who}): ${row.status} — ${row.reason ?? 'no reason recorded'}`);
        }
      }
      const leftMs = release.atMs - clock.now();
      if (leftMs > 0 && clock.now() - lastCountdownMs >= 5_000) {
        lastCountdownMs = clock.now();
        print(`  release in ${Math.ceil(leftMs / 1000)} s …`);
      }
      await clock.sleep(250);
    }
    if (reported.size < ids.length) print(`✘ ${ids.length - reported.size} reservation(s) not final ${stopped ? 'when stopped' : 'two minutes after the release'}`);
    printSiteSummary(site.bookings(), release.atMs);
    print(`demo finished in ${((clock.now() - startedMs) / 1000).toFixed(1)} s: ${booked} of ${ids.length} booked`);
    return booked === ids.length ? 0 : 1;
  } finally {
    await app.stop().catch((err: unknown) => print(`stopping the daemon failed: ${String(err)}`));
    await site.stop();
    if (throwaway) await rm(throwaway.root, { recursive: true, force: true });
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
  }
}

/**
 * Names the other live daemons on the database (a shared `DATABASE_URL`) and the venues they serve: the demo
 * books only its own venue's rows and leaves theirs to them.
 */
async function printOtherDaemons(db: Kysely<Database>, daemonId: string, clock: Clock): Promise<void> {
  const others = (await listLiveDaemons(db, { now: new Date(clock.now()) })).filter((d) => d.id !== daemonId);
  if (others.length === 0) return;
  print(`${others.length} other daemon(s) run on this database; the demo books only its own venue ${DEMO_VENUE_ID} and leaves their rows to them:`);
  for (const d of others) print(`  ${d.id} serves ${d.venues.join(', ')}`);
}

/** What the site holds, with each booking's arrival after its release (both on the site clock). */
function printSiteSummary(bookings: SandboxBooking[], releaseAtMs: number): void {
  print('the sandbox site recorded:');
  for (const b of bookings) {
    const lagMs = b.arrivedAtMs - Date.parse(b.releaseAt);
    print(`  court ${b.court} ${b.date} ${b.time} for ${b.firstName} ${b.lastName}: hash ${b.hash}, booking request arrived ${lagMs} ms after the release`);
  }
  if (bookings.length === 0) print(`  no bookings (release was ${new Date(releaseAtMs).toISOString()})`);
}
