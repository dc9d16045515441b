/** Benchmark settings from environment variables (documented in docs/benchmark.md). */

/** The benchmark's parts, in the order they run. */
export const PART_NAMES = ['fire_lag', 'contention', 'baseline', 'burst'] as const;
export type PartName = (typeof PART_NAMES)[number];

/**
 * An integer environment variable, or `fallback` when unset or empty.
 *
 * @throws Error naming the variable when the value is not an integer within [min, max].
 */
export function intEnv(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const min = range.min ?? Number.MIN_SAFE_INTEGER;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${JSON.stringify(raw)}: must be an integer between ${min} and ${max}`);
  }
  return value;
}

/**
 * The parts selected by `BENCH_PARTS` (comma list; default: all). Aliases: `fire-lag`, `fire_lag_ms`,
 * `baseline_fire_lag_ms`, `win_rate` (= contention).
 *
 * @throws Error naming an unknown part.
 */
export function selectedParts(raw = process.env.BENCH_PARTS): Set<PartName> {
  if (raw === undefined || raw.trim() === '' || raw.trim() === 'all') return new Set(PART_NAMES);
  const aliases: Record<string, PartName> = { fire_lag_ms: 'fire_lag', baseline_fire_lag_ms: 'baseline', win_rate: 'contention' };
  const parts = new Set<PartName>();
  for (const item of raw.split(',').map((s) => s.trim().replace(/-/g, '_')).filter(Boolean)) {
    const name = aliases[item] ?? item;
    if (!(PART_NAMES as readonly string[]).includes(name)) throw new Error(`BENCH_PARTS: unknown part "${item}" (parts: ${PART_NAMES.join(', ')})`);
    parts.add(name as PartName);
  }
  return parts;
}

/** Every setting of one run (read once, recorded in the result JSON). */
export interface BenchSettings {
  parts: Set<PartName>;
  /** `BENCH_ROUNDS` (default 30): sequential releases of the fire-lag part. */
  rounds: number;
  /** `BENCH_SKEW_MS` (default −1500): site clock − true clock for the on-time parts (fire lag, contention, burst). */
  skewMs: number;
  /** `BENCH_LEAD_MS` (default 2500): the clock is put this long before each release (on-time parts). */
  leadMs: number;
  /** `BENCH_PREPARE_LEAD_MS` (default 2000): daemon.prepareLeadMs of the on-time parts. */
  prepareLeadMs: number;
  /** `BENCH_FIRST_LEAD_MS` (default 12000): lead of the first release of a daemon (its site-clock estimate runs meanwhile). */
  firstLeadMs: number;
  /** `BENCH_BASELINE_ROUNDS` (default 30). */
  baselineRounds: number;
  /** `BENCH_BASELINE_SKEW_MS` (default 0): site skew of the baseline part. */
  baselineSkewMs: number;
  /** `BENCH_CONTENTION_ROUNDS` (default 20): releases of the contention part, 4 courts each. */
  contentionRounds: number;
  /** `BENCH_BURST_PAGES` (default 100): daemon.maxConcurrentBookings of the burst part. */
  burstPages: number;
  /** `BENCH_BURST_LEAD_MS` (default 40000): daemon.prepareLeadMs of the burst part. */
  burstLeadMs: number;
  /** `BENCH_BURST_DB_POOL` (default 20): database.poolMax of the burst part. */
  burstDbPool: number;
  /**
   * `BENCH_SITE_LIMITER` (1 or 0, default 1): the sandbox's per-address limiter (10 req/s, 20 concurrent,
   * as the real site's API) on or off in every part.
   */
  siteLimiter: boolean;
}

/** Reads {@link BenchSettings} from the environment. @throws Error naming a bad variable. */
export function readSettings(): BenchSettings {
  return {
    parts: selectedParts(),
    rounds: intEnv('BENCH_ROUNDS', 30, { min: 1, max: 160 }),
    skewMs: intEnv('BENCH_SKEW_MS', -1_500, { min: -86_400_000, max: 86_400_000 }),
    leadMs: intEnv('BENCH_LEAD_MS', 2_500, { min: 0 }),
    prepareLeadMs: intEnv('BENCH_PREPARE_LEAD_MS', 2_000, { min: 0 }),
    firstLeadMs: intEnv('BENCH_FIRST_LEAD_MS', 12_000, { min: 0 }),
    baselineRounds: intEnv('BENCH_BASELINE_ROUNDS', 30, { min: 1, max: 160 }),
    baselineSkewMs: intEnv('BENCH_BASELINE_SKEW_MS', 0, { min: -86_400_000, max: 86_400_000 }),
    contentionRounds: intEnv('BENCH_CONTENTION_ROUNDS', 20, { min: 1, max: 160 }),
    burstPages: intEnv('BENCH_BURST_PAGES', 100, { min: 1, max: 200 }),
    burstLeadMs: intEnv('BENCH_BURST_LEAD_MS', 40_000, { min: 1_000 }),
    burstDbPool: intEnv('BENCH_BURST_DB_POOL', 20, { min: 2, max: 100 }),
    siteLimiter: intEnv('BENCH_SITE_LIMITER', 1, { min: 0, max: 1 }) === 1,
  };
}
