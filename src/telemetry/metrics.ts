import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The daemon's Prometheus metrics (README "Observability" lists every name). prom-client does the exposition
 * format and Node's default metrics (event-loop lag among them); this file only names reservd's own series.
 * Gauges that need a query or another part's state are read at scrape time through the providers passed to
 * {@link Metrics.observe}.
 */

/** Fire lags kept for the status page's chart (the newest last). */
const RECENT_FIRES_KEPT = 50;

/** Bucket bounds of `reservd_fire_lag_ms`, ms: a good fire is within a few ms of its planned instant. */
const FIRE_LAG_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000];

/** One fire: when it happened and how late it was. */
export interface FireSample {
  reservationId: number;
  venue: string;
  /** When the submit began, epoch ms. */
  firedAtMs: number;
  /** The submit's start minus the planned fire instant, ms (negative: early). */
  lagMs: number;
}

/** A site's clock estimate as the metrics read it. */
export interface SiteClockSample {
  /** The site's origin (`https://host:port`). */
  site: string;
  /** Site clock − local clock, ms. */
  offsetMs: number;
  /** ± bound of the offset, ms. */
  uncertaintyMs: number;
}

/** What the scrape-time gauges read; each is optional (a gauge without its provider stays empty). */
export interface MetricProviders {
  /** Reservations per status (a query). */
  reservationsByStatus?: () => Promise<Record<string, number>>;
  /** The latest estimate of every measured site. */
  siteClocks?: () => SiteClockSample[];
  /** Notifications waiting in the outbox; absent → `reservd_notification_outbox_depth` is not exported at all. */
  outboxDepth?: () => Promise<number>;
}

/** reservd's metrics: recorders for events, and the registry `/metrics` serves. */
export interface Metrics {
  readonly registry: Registry;
  /** Records one fire (the histogram and the status page's recent lags). */
  recordFire(sample: FireSample): void;
  /** Counts one finished attempt by its outcome (`booked`, `slot_taken`, ...). */
  recordAttempt(outcome: string): void;
  /** Counts one relaunch of the shared browser after a crash or disconnect. */
  recordBrowserRestart(): void;
  /** The last {@link RECENT_FIRES_KEPT} fires, oldest first. */
  recentFires(): FireSample[];
  /** Sets the scrape-time providers (the app wires them once its parts exist). */
  observe(providers: MetricProviders): void;
}

/**
 * Creates the metrics on a registry of their own (never prom-client's global one, so two apps in one test
 * process do not clash). `defaultMetrics` (default true) adds Node's process and event-loop metrics.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  let providers: MetricProviders = {};
  const fires: FireSample[] = [];
  const fireLag = new Histogram({ name: 'reservd_fire_lag_ms', help: 'Submit start minus the planned fire instant, ms.', labelNames: ['venue'], buckets: FIRE_LAG_BUCKETS_MS, registers: [registry] });
  const attempts = new Counter({ name: 'reservd_attempts_total', help: 'Finished booking attempts by outcome.', labelNames: ['outcome'], registers: [registry] });
  const restarts = new Counter({ name: 'reservd_browser_restarts_total', help: 'Relaunches of the shared browser after it crashed or disconnected.', registers: [registry] });
  new Gauge({
    name: 'reservd_reservations',
    help: 'Reservations by status (queried at scrape time).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      // A database that does not answer leaves this gauge without series; the rest of the scrape still answers
      // (/healthz says the database is down).
      const counts = await providers.reservationsByStatus?.().catch(() => undefined);
      for (const [status, count] of Object.entries(counts ?? {})) this.set({ status }, count);
    },
  });
  const siteGauge = (name: string, help: string, pick: (s: SiteClockSample) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['site'],
      registers: [registry],
      collect() {
        this.reset();
        for (const sample of providers.siteClocks?.() ?? []) this.set({ site: sample.site }, pick(sample));
      },
    });
  };
  siteGauge('reservd_site_clock_offset_ms', 'Site clock minus local clock, ms (latest estimate per site).', (s) => s.offsetMs);
  siteGauge('reservd_site_clock_uncertainty_ms', 'Uncertainty (±) of the site clock offset, ms.', (s) => s.uncertaintyMs);
  let outboxGauge: Gauge | null = null;
  // Registered with its provider only: an unlabelled gauge never set would still be exported as 0, a false depth.
  const registerOutbox = (): void => {
    outboxGauge ??= new Gauge({
      name: 'reservd_notification_outbox_depth',
      help: 'Notifications waiting in the outbox.',
      registers: [registry],
      async collect() {
        this.reset();
        const depth = await providers.outboxDepth?.().catch(() => undefined);
        if (depth !== undefined) this.set(depth);
      },
    });
  };
  return {
    registry,
    recordFire(sample) {
      fireLag.observe({ venue: sample.venue }, sample.lagMs);
      fires.push(sample);
      if (fires.length > RECENT_FIRES_KEPT) fires.shift();
    },
    recordAttempt: (outcome) => attempts.inc({ outcome }),
    recordBrowserRestart: () => restarts.inc(),
    recentFires: () => [...fires],
    observe(next) {
      providers = { ...providers, ...next };
      if (providers.outboxDepth) registerOutbox();
    },
  };
}
