import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from './clock.js';
import { ConfigError } from './config/load.js';
import type { Config } from './config/schema.js';
import { findChromium, createBrowserPool } from './booking/browser.js';
import { createExecutor } from './booking/executor.js';
import type { BrowserPool, SlotFlow } from './booking/flow.js';
import type { BrowserPoolState } from './booking/browser.js';
import type { BookingExecutor, SiteLookup } from './booking/session-port.js';
import { createAcuityFlow } from './booking/flows/acuity.js';
import { createAcuitySiteLookup } from './booking/flows/acuity-spa-lookup.js';
import { openDatabase, type DatabaseHandle } from './db/create-database.js';
import { migrateToLatest } from './db/migrate.js';
import { createScheduler, type Scheduler } from './scheduling/daemon.js';
import { createDaemonRegistration, type DaemonRegistration } from './scheduling/daemon-registration.js';
import { createSiteClockCache } from './scheduling/site-clock-cache.js';
import { createObservability, type Observability } from './http/observability.js';
import { createNotifyDispatcher, NOTIFICATIONS_CHANNEL, outboxDepth, sinksFromConfig, syncSinks, type NotifyDispatcher } from './notify/index.js';
import { createStandingMaterialiser, type StandingMaterialiser } from './standing/materialiser.js';
import type { Logger } from './telemetry/logger.js';

/**
 * The composition root (docs/architecture.md "Modules"): creates and wires every part from a parsed,
 * frozen config. It does no I/O of its own; parts do theirs when started.
 */

/** NOTIFY channel the `reservations` insert trigger uses (migration 0001). */
const RESERVATIONS_CHANNEL = 'reservd_reservations';

/** A unique lease owner id for this process: `host:pid:random`. */
export function createDaemonId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * Whether lease owner `owner` (a {@link createDaemonId}) is a daemon of THIS host that no longer runs: its
 * pid is gone (`kill(pid, 0)` fails with ESRCH). Owners of other hosts, of this very process, or whose pid
 * runs (maybe reused by another program) are not judged dead: their leases run out normally.
 */
export function isDeadLocalDaemon(owner: string, deps: { host?: string; pid?: number; isRunning?: (pid: number) => boolean } = {}): boolean {
  const match = /^(.+):(\d+):[0-9a-f]+$/.exec(owner);
  if (!match || match[1] !== (deps.host ?? hostname())) return false;
  const pid = Number(match[2]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === (deps.pid ?? process.pid)) return false;
  const isRunning =
    deps.isRunning ??
    ((p: number): boolean => {
      try {
        process.kill(p, 0);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code !== 'ESRCH';
      }
    });
  return !isRunning(pid);
}

/** The booking flow of a site adapter. */
function flowFor(adapter: 'acuity', clock: Clock, logger: Logger): SlotFlow {
  switch (adapter) {
    case 'acuity':
      return createAcuityFlow({ clock, logger }) as SlotFlow;
  }
}

/**
 * The site look-up of crash reconciliation (docs/architecture.md "Reconciliation") for `config`'s venues:
 * each venue's base URL, owner key, zone, and each court's appointment type and calendar on the site.
 */
export function siteLookupFor(config: Config): SiteLookup {
  return createAcuitySiteLookup((venueId) => {
    const venue = Object.hasOwn(config.venues, venueId) ? config.venues[venueId] : undefined;
    if (!venue) return undefined;
    const courts = Object.fromEntries(Object.entries(venue.courts).map(([court, ids]) => [Number(court), { appointmentTypeId: ids.appointmentTypeId, calendarId: ids.calendarId }]));
    return { baseUrl: venue.site.baseUrl, ownerKey: venue.site.ownerKey, timeZone: venue.timeZone, courts };
  });
}

/** Open database, browser pool and executor: what `run`, `book-now` and the demo share. */
export interface Services {
  database: DatabaseHandle;
  pool: BrowserPool & { state(): BrowserPoolState };
  executor: BookingExecutor;
  daemonId: string;
  /** Releases everything in reverse order; every step attempted, failures aggregated. Safe twice. */
  close(): Promise<void>;
}

/**
 * Opens the database (embedded PostgreSQL when no URL), migrates it, resolves the browser and wires the
 * executor. Fails before touching any reservation when the browser is missing.
 *
 * `attach`: connect to the embedded server a running daemon holds instead of failing `data_dir_in_use`
 * (`book-now`; see `openDatabase`).
 *
 * @throws Error from the database or browser look-up (messages name the fix).
 */
export async function openServices(args: { config: Config; logger: Logger; clock: Clock; daemonId?: string; observability?: Observability; attach?: boolean }): Promise<Services> {
  const { config, logger, clock } = args;
  const daemonId = args.daemonId ?? createDaemonId();
  // No browser is a setup problem, not a crash: BrowserNotFoundError exits 78 with the fix in its message.
  const executablePath = findChromium(config.daemon.browserExecutable);
  const database = await openDatabase(config.database, logger, { attach: args.attach === true });
  const releasers: Array<{ name: string; release: () => Promise<void> }> = [{ name: 'database', release: () => database.close() }];
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const errors: unknown[] = [];
      for (const { name, release } of releasers.reverse()) {
        try {
          await release();
        } catch (err) {
          logger.error({ err }, `closing ${name} failed`);
          errors.push(err);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'some resources failed to close');
    })());
  try {
    await migrateToLatest(database.db, logger);
    const metrics = args.observability?.metrics;
    const pool = createBrowserPool({ executablePath, headless: config.daemon.headless, logger, browserPerLease: config.daemon.mode === 'polling-baseline', ...(metrics ? { onRestart: () => metrics.recordBrowserRestart() } : {}) });
    releasers.push({ name: 'browser pool', release: () => pool.close() });
    try {
      // Fail at start, not at the first release: a path that exists but does not launch (wrong file,
      // missing libraries) is a setup problem (exit 78).
      const probe = await pool.acquire();
      await probe.release();
    } catch (err) {
      throw new ConfigError(`the browser ${executablePath} could not be started: ${(err as Error).message.split('\n')[0]}. Set daemon.browserExecutable or RESERVD_BROWSER to a working Chromium, or install one: apt-get install -y chromium`, { cause: err });
    }
    const executor = createExecutor({
      clock,
      logger,
      pool,
      flow: flowFor('acuity', clock, logger),
      executorId: daemonId,
      attemptTimeoutMs: config.daemon.attemptTimeoutMs,
      notOpenRetryBudgetMs: config.daemon.notOpenRetryBudgetMs,
      notOpenRetryIntervalMs: config.daemon.notOpenRetryIntervalMs,
      ...(args.observability ? { observer: args.observability.executorObserver } : {}),
    });
    return { database, pool, executor, daemonId, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/** A running daemon: `start` and `stop` are safe to call twice; `done` settles after the stop. */
export interface App {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly done: Promise<void>;
  /** The scheduler once started (tests and the demo observe it). */
  scheduler(): Scheduler | null;
  services(): Services | null;
  /** Metrics and the HTTP endpoint (README "Observability"). */
  readonly observability: Observability;
}

/**
 * Creates the daemon (`reservd run`). `outboxDepth`, when given, feeds the notification outbox gauge of
 * `/metrics`.
 */
export function createApp(args: { config: Config; logger: Logger; clock: Clock; daemonId?: string; outboxDepth?: () => Promise<number> }): App {
  const { config, logger, clock } = args;
  let notifier: { dispatcher: NotifyDispatcher; db: Parameters<typeof outboxDepth>[0] } | null = null;
  // The notification outbox's depth, unless the caller brings its own; 0 until the database is open.
  const depth = args.outboxDepth ?? (config.notify.webhook || config.notify.telegram ? async () => (notifier ? outboxDepth(notifier.db) : 0) : undefined);
  const observability = createObservability({ config, clock, logger, ...(depth ? { outboxDepth: depth } : {}) });
  let unlistenNotify: (() => Promise<void>) | null = null;
  let services: Services | null = null;
  let scheduler: Scheduler | null = null;
  let registration: DaemonRegistration | null = null;
  let standing: StandingMaterialiser | null = null;
  let unlisten: (() => Promise<void>) | null = null;
  let starting: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  async function start(): Promise<void> {
    // First: /readyz answers 503 while the database opens and migrates.
    await observability.start();
    // A start that fails must not leave the port open (the process would not exit).
    services = await openServices({ ...args, observability }).catch(async (err: unknown) => {
      await observability.stop().catch(() => {});
      throw err;
    });
    const { database, executor, daemonId, pool } = services;
    let wake: (payload: string) => void = () => {};
    const siteClocks = createSiteClockCache({ clock, logger });
    registration = createDaemonRegistration({
      db: database.db,
      clock,
      logger,
      record: { id: daemonId, host: hostname(), pid: process.pid, venues: Object.keys(config.venues), leaseMs: config.daemon.leaseMs },
    });
    // Live before the first tick: other daemons on the database leave this daemon's venues to it from now on.
    await registration.start();
    scheduler = createScheduler({ db: database.db, config, clock, logger, executor, daemonId, siteClocks, siteLookup: siteLookupFor(config), subscribe: (w) => (wake = w), isDeadOwner: (owner) => isDeadLocalDaemon(owner) });
    const listener = await database.listen(RESERVATIONS_CHANNEL, (payload) => wake(payload));
    unlisten = () => listener.close();
    const running = scheduler;
    observability.attach({ db: database.db, browser: () => pool.state(), lastTickAt: () => running.lastTickAt(), siteClocks, daemonId });
    scheduler.start();
    (standing = createStandingMaterialiser({ db: database.db, config, clock, logger })).start();
    unlistenNotify = await startNotifications(database, (n) => (notifier = n));
    logger.info({ daemon_id: daemonId, venues: Object.keys(config.venues), embedded_db: database.embedded, mode: config.daemon.mode }, 'reservd started');
    if (config.daemon.mode === 'polling-baseline') logger.warn('daemon.mode is polling-baseline (the benchmark baseline): bookings fire seconds after their release; use on-time for real reservations');
  }

  /**
   * Syncs `notification_sinks` with the config (none when `notify` is off: nothing is queued) and starts the
   * dispatcher, woken by the outbox trigger's NOTIFY. Returns what closes its LISTEN.
   */
  async function startNotifications(database: Services['database'], set: (n: { dispatcher: NotifyDispatcher; db: Services['database']['db'] }) => void): Promise<() => Promise<void>> {
    const sinks = sinksFromConfig(config.notify);
    await syncSinks(database.db, sinks.map((s) => s.name));
    if (sinks.length === 0) return async () => {};
    const dispatcher = createNotifyDispatcher({ db: database.db, sinks, settings: config.notify, clock, logger });
    set({ dispatcher, db: database.db });
    const listener = await database.listen(NOTIFICATIONS_CHANNEL, () => dispatcher.wake());
    dispatcher.start();
    logger.info({ sinks: sinks.map((s) => s.name) }, 'notifications on');
    return () => listener.close();
  }

  async function stop(): Promise<void> {
    await starting?.catch(() => {});
    logger.info('stopping: no new claims; waiting for in-flight bookings');
    const errors: unknown[] = [];
    for (const step of [
      () => standing?.stop(),
      () => scheduler?.stop(config.daemon.stopGraceMs),
      // After the bookings: their final statuses' messages may still go out.
      () => unlistenNotify?.(),
      () => notifier?.dispatcher.stop(),
      // After the in-flight bookings: the daemon serves its venues until it has stopped booking.
      () => registration?.stop(),
      () => unlisten?.(),
      // Before the database closes: /healthz answers through the drain, then the port is free.
      () => observability.stop(),
      () => services?.close(),
    ]) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    resolveDone();
    if (errors.length > 0) throw new AggregateError(errors, 'reservd did not stop cleanly');
    logger.info('reservd stopped');
  }

  return {
    start: () => (starting ??= start()),
    stop: () => (stopping ??= stop()),
    done,
    scheduler: () => scheduler,
    services: () => services,
    observability,
  };
}
