import type { Kysely } from 'kysely';
import type { BrowserPoolState } from '../booking/browser.js';
import type { ExecutorObserver } from '../booking/executor.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/types.js';
import { countReservationsByStatus } from '../reservations/index.js';
import type { SiteClockCache } from '../scheduling/site-clock-cache.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { createHttpServer, type HttpServer } from './server.js';

/**
 * Wires metrics and the observability endpoint into the daemon (README "Observability") so that `src/app.ts`
 * only creates it, attaches its parts once they exist, and starts/stops it. Metrics are always recorded (they
 * cost nothing); the HTTP server runs only with `http.enabled`.
 */

/** The daemon's parts the endpoint reads, attached once started. */
export interface ObservedParts {
  db: Kysely<Database>;
  browser: () => BrowserPoolState;
  lastTickAt: () => number | null;
  siteClocks: SiteClockCache;
  daemonId: string;
}

/** Metrics and endpoint of one daemon. */
export interface Observability {
  readonly metrics: Metrics;
  /** What the executor reports fires and attempts to. */
  readonly executorObserver: ExecutorObserver;
  /** Hands over the started parts (the database is migrated by then). */
  attach(parts: ObservedParts): void;
  /** Starts the HTTP server when `http.enabled`; resolves to its bound address, or null when off. */
  start(): Promise<{ host: string; port: number } | null>;
  /** The bound address once started, else null (with `http.port: 0` the port is picked then). */
  address(): { host: string; port: number } | null;
  /** Stops the HTTP server (before the database closes). Safe twice. */
  stop(): Promise<void>;
}

/** Creates the daemon's observability; `outboxDepth` feeds `reservd_notification_outbox_depth` when given. */
export function createObservability(args: { config: Config; clock: Clock; logger: Logger; outboxDepth?: () => Promise<number> }): Observability {
  const { config, clock, logger } = args;
  const metrics = createMetrics();
  let parts: ObservedParts | null = null;
  let closed = false;
  let bound: { host: string; port: number } | null = null;
  if (args.outboxDepth) metrics.observe({ outboxDepth: args.outboxDepth });
  // A tick is at most a poll interval apart (a wake comes sooner); three missed ones is a stuck loop.
  const staleTickMs = Math.max(3 * config.daemon.pollIntervalMs, 60_000);
  const server: HttpServer | null = config.http.enabled
    ? createHttpServer({
        config: config.http,
        clock,
        logger,
        metrics,
        staleTickMs,
        daemon: {
          db: () => (closed ? null : (parts?.db ?? null)),
          browser: () => parts?.browser() ?? null,
          lastTickAt: () => parts?.lastTickAt() ?? null,
          migrated: () => parts !== null,
          info: () => ({ id: parts?.daemonId ?? 'starting', mode: config.daemon.mode, venues: Object.keys(config.venues) }),
        },
      })
    : null;
  return {
    metrics,
    executorObserver: {
      fired: (e) => metrics.recordFire({ reservationId: e.reservationId, venue: e.venue, firedAtMs: e.firedAtMs, lagMs: e.lagMs }),
      attemptFinished: (e) => metrics.recordAttempt(e.outcome),
    },
    attach(next) {
      parts = next;
      metrics.observe({
        reservationsByStatus: () => countReservationsByStatus(next.db),
        siteClocks: () => (next.siteClocks.entries?.() ?? []).map(({ site, estimate }) => ({ site, offsetMs: estimate.offsetMs, uncertaintyMs: estimate.uncertaintyMs })),
      });
    },
    async start() {
      bound = server ? await server.start() : null;
      return bound;
    },
    address: () => bound,
    async stop() {
      closed = true;
      await server?.stop();
    },
  };
}
