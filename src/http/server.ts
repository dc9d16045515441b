import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { BrowserPoolState } from '../booking/browser.js';
import type { Clock } from '../clock.js';
import { ConfigError } from '../config/load.js';
import type { HttpConfig } from '../config/schema.js';
import type { Database } from '../db/types.js';
import { listRecentOutcomes, listUpcomingReleases, pingDatabase } from '../reservations/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { renderStatusPage } from './status-page.js';

/**
 * The observability endpoint (README "Observability"), served with fastify: `/healthz`, `/readyz`,
 * `/metrics` (Prometheus text, prom-client) and the status page at `/`. It reads the daemon through
 * {@link ObservedDaemon} and never changes anything.
 */

/** How long `/healthz` waits for the database's `SELECT 1`, ms. */
const DB_PING_TIMEOUT_MS = 2_000;
/** Rows of each status-page table. */
const STATUS_PAGE_ROWS = 20;

/** The parts of a running daemon the endpoint looks at; each getter is null/false while the part is not up. */
export interface ObservedDaemon {
  /** The open database, or null before it is opened / after it is closed. */
  db(): Kysely<Database> | null;
  /** The browser pool's state, or null before the pool exists. */
  browser(): BrowserPoolState | null;
  /** When the scheduler's last tick completed, epoch ms; null before the first. */
  lastTickAt(): number | null;
  /** Migrations have run (the database was opened and migrated). */
  migrated(): boolean;
  /** Summary for the status page. */
  info(): { id: string; mode: string; venues: string[] };
}

/** Options of {@link createHttpServer}. */
export interface HttpServerOptions {
  config: HttpConfig;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  daemon: ObservedDaemon;
  /** A scheduler tick older than this makes `/healthz` answer 503, ms. */
  staleTickMs: number;
}

/** A started or startable endpoint. */
export interface HttpServer {
  /**
   * Listens on `config.host:config.port`; resolves to the bound `{ host, port }`. Safe to call twice.
   *
   * @throws ConfigError naming `http.port` / `http.host` when the address is in use or not on this machine.
   */
  start(): Promise<{ host: string; port: number }>;
  /** Closes the server. Safe to call twice. */
  stop(): Promise<void>;
  /** The fastify instance (tests may `inject`). */
  readonly fastify: FastifyInstance;
}

/** The `/healthz` answer. */
export interface HealthReport {
  ok: boolean;
  database: { reachable: boolean; error?: string };
  browser: { state: 'not_started' | 'idle' | 'connected' | 'closed'; launches: number };
  eventLoop: { lagP99Ms: number; lagMaxMs: number };
  scheduler: { lastTickAgeMs: number | null; stale: boolean };
}

async function databaseHealth(db: Kysely<Database> | null, clock: Clock): Promise<HealthReport['database']> {
  if (!db) return { reachable: false, error: 'the database is not open' };
  const timeout = new AbortController();
  try {
    const answered = await Promise.race([pingDatabase(db).then(() => true), clock.sleep(DB_PING_TIMEOUT_MS, timeout.signal).then(() => false)]);
    return answered ? { reachable: true } : { reachable: false, error: `no answer within ${DB_PING_TIMEOUT_MS} ms` };
  } catch (err) {
    return { reachable: false, error: (err as Error).message.split('\n')[0] ?? 'unknown error' };
  } finally {
    timeout.abort();
  }
}

function browserHealth(state: BrowserPoolState | null): HealthReport['browser'] {
  if (!state) return { state: 'not_started', launches: 0 };
  // Idle: nothing launched yet or the browser went away; the next lease (re)launches it. Only closed is bad.
  return { state: state.closed ? 'closed' : state.connected ? 'connected' : 'idle', launches: state.launches };
}

/** Builds the health report; `ok` is false when the database is unreachable, the pool closed or the scheduler stale. */
async function healthReport(o: HttpServerOptions, loop: IntervalHistogram): Promise<HealthReport> {
  const database = await databaseHealth(o.daemon.db(), o.clock);
  const browser = browserHealth(o.daemon.browser());
  const tickAt = o.daemon.lastTickAt();
  const lastTickAgeMs = tickAt === null ? null : o.clock.now() - tickAt;
  const stale = lastTickAgeMs !== null && lastTickAgeMs > o.staleTickMs;
  // The histogram is in ns; each report covers the time since the previous one.
  const eventLoop = { lagP99Ms: Math.round(loop.percentile(99) / 1e4) / 100, lagMaxMs: Math.round(loop.max / 1e4) / 100 };
  loop.reset();
  return { ok: database.reachable && browser.state !== 'closed' && !stale, database, browser, eventLoop, scheduler: { lastTickAgeMs, stale } };
}

function addRoutes(app: FastifyInstance, o: HttpServerOptions, loop: IntervalHistogram): void {
  app.get('/healthz', async (_req, reply) => {
    const report = await healthReport(o, loop);
    return reply.code(report.ok ? 200 : 503).send(report);
  });
  app.get('/readyz', async (_req, reply) => {
    const ready = { migrated: o.daemon.migrated(), queueLoaded: o.daemon.lastTickAt() !== null };
    return reply.code(ready.migrated && ready.queueLoaded ? 200 : 503).send({ ok: ready.migrated && ready.queueLoaded, ...ready });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await o.metrics.registry.metrics();
    return reply.type(o.metrics.registry.contentType).send(body);
  });
  app.get('/', async (_req, reply) => {
    const db = o.daemon.db();
    let problem: string | null = db ? null : 'The database is not open yet.';
    const [upcoming, recent] = db
      ? await Promise.all([listUpcomingReleases(db, STATUS_PAGE_ROWS), listRecentOutcomes(db, STATUS_PAGE_ROWS)]).catch((err: unknown) => {
          // The page still shows the fire lags; the reservations need the database.
          problem = `The database did not answer: ${(err as Error).message.split('\n')[0]}`;
          return [[], []];
        })
      : [[], []];
    const html = renderStatusPage({ nowMs: o.clock.now(), upcoming, recent, fires: o.metrics.recentFires(), daemon: o.daemon.info(), problem });
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'").send(html);
  });
}

/** Creates the endpoint (no I/O until `start`). The host rule (loopback unless allowed) is the config schema's. */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const app = Fastify({ logger: false });
  const loop = monitorEventLoopDelay({ resolution: 20 });
  addRoutes(app, options, loop);
  let starting: Promise<{ host: string; port: number }> | null = null;
  let stopping: Promise<void> | null = null;
  return {
    fastify: app,
    start: () =>
      (starting ??= (async () => {
        loop.enable();
        const { host, port } = options.config;
        await app.listen({ host, port }).catch((err: NodeJS.ErrnoException) => {
          loop.disable();
          // A port in use or an address this machine lacks is the operator's to fix (exit 78, no restart loop).
          if (err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
            throw new ConfigError(`http: cannot listen on ${host}:${port} (${err.code}); choose another http.port or http.host, or stop the program that holds it`, { cause: err });
          }
          throw err;
        });
        const address = app.server.address();
        const bound = typeof address === 'object' && address ? { host: address.address, port: address.port } : { host: options.config.host, port: options.config.port };
        options.logger.info({ http_host: bound.host, http_port: bound.port }, `observability endpoint on http://${bound.host}:${bound.port}/`);
        return bound;
      })()),
    stop: () =>
      (stopping ??= (async () => {
        loop.disable();
        await starting?.catch(() => undefined);
        await app.close();
      })()),
  };
}
