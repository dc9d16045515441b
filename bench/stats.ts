/**
 * Latency statistics for the benchmark (nearest-rank percentiles: every reported value is one that was
 * measured, never an interpolation).
 */

/** Percentiles of a sample, ms; NaN (serialised as null) for an empty sample. */
export interface LatencyStats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
}

/**
 * Nearest-rank percentile `p` (0–100] of an ascending-sorted array: the smallest value with at least p % of
 * the sample at or below it. NaN for an empty array.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

/** p50/p95/p99/max/n of `values` (any order), rounded to 0.1 ms. */
export function latencyStats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: round1(percentile(sorted, 50)),
    p95: round1(percentile(sorted, 95)),
    p99: round1(percentile(sorted, 99)),
    max: round1(sorted[sorted.length - 1] ?? Number.NaN),
    n: sorted.length,
  };
}

/** p50 and p99 of each named series (e.g. the flow's `timings_ms` phases), keys sorted. */
export function seriesStats(series: ReadonlyMap<string, readonly number[]>): Record<string, { p50: number; p99: number; n: number }> {
  const out: Record<string, { p50: number; p99: number; n: number }> = {};
  for (const key of [...series.keys()].sort()) {
    const { p50, p99, n } = latencyStats(series.get(key)!);
    out[key] = { p50, p99, n };
  }
  return out;
}

/** `a / b` rounded to 0.1, or null when either is not a positive finite number. */
export function ratio(a: number, b: number): number | null {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? round1(a / b) : null;
}

/** Rounds to one decimal (NaN stays NaN). */
export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
