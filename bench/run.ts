/**
 * `npm run bench`: fire lag, a polling baseline, contention and a burst, of the real daemon against the
 * in-process sandbox site and a throw-away database on the real Postgres (everything on 127.0.0.1).
 * Settings come from `BENCH_*` environment variables (`bench/env.ts`, docs/benchmark.md). Progress goes to
 * stderr; the last stdout line is one JSON object, also written to `bench/results/<time>.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { systemClock } from '../src/clock.js';
import { runBaseline } from './baseline.js';
import { progress } from './bookings.js';
import { stopAllHarnesses } from './harness.js';
import { runBurst, type BurstResult } from './burst.js';
import { PART_NAMES, readSettings, type BenchSettings, type PartName } from './env.js';
import type { SequentialLagResult } from './fire-lag.js';
import { runOnTimeParts, type OnTimeResults } from './on-time.js';
import { ratio } from './stats.js';

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** A part that threw: recorded in the JSON, the other parts still run. */
interface PartFailure {
  part: string;
  error: string;
}

/** Runs `work`; on error logs it, records it in `failures` and returns null. */
async function guarded<T>(part: string, failures: PartFailure[], work: () => Promise<T>): Promise<T | null> {
  const startedMs = systemClock.now();
  try {
    const result = await work();
    progress(part, `done in ${Math.round((systemClock.now() - startedMs) / 100) / 10} s`);
    return result;
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    progress(part, `FAILED: ${err instanceof Error ? (err.stack ?? error) : error}`);
    failures.push({ part, error });
    return null;
  }
}

/** The result object (its key order is the order of the JSON line). */
function buildResult(args: {
  settings: BenchSettings;
  onTime: OnTimeResults | null;
  baseline: SequentialLagResult | null;
  burst: BurstResult | null;
  failures: PartFailure[];
  durationS: number;
  /** 1-minute load average when the run started (other work on the machine skews every number). */
  loadAtStart: number;
}): Record<string, unknown> {
  const { settings, onTime, baseline, burst } = args;
  const fireLag = onTime?.fireLag ?? null;
  const contention = onTime?.contention ?? null;
  return {
    fire_lag_ms: fireLag?.lagMs ?? null,
    baseline_fire_lag_ms: baseline?.lagMs ?? null,
    baseline_p99_ratio: fireLag && baseline ? ratio(baseline.lagMs.p99, fireLag.lagMs.p99) : null,
    site_skew_ms: settings.skewMs,
    baseline_site_skew_ms: settings.baselineSkewMs,
    win_rate: contention?.winRate ?? null,
    burst: burst,
    contention: contention ? { n: contention.n, wins: contention.wins, lag_ms: contention.lagMs, breakdown_ms: contention.breakdownMs } : null,
    fire_lag_breakdown_ms: fireLag?.breakdownMs ?? null,
    baseline_breakdown_ms: baseline?.breakdownMs ?? null,
    fired_before_site_release: { fire_lag: fireLag?.firedEarly ?? null, baseline: baseline?.firedEarly ?? null },
    site_clock: onTime ? { estimates: onTime.estimates, offsets_used_ms: fireLag?.offsetsUsedMs ?? [] } : null,
    outcomes: {
      fire_lag: fireLag?.outcomes ?? null,
      baseline: baseline?.outcomes ?? null,
      contention: contention?.outcomes ?? null,
      burst: burst?.outcomes ?? null,
    },
    rate_limited_posts: {
      fire_lag: fireLag?.rateLimitedPosts ?? null,
      baseline: baseline?.rateLimitedPosts ?? null,
      contention: contention?.rateLimitedPosts ?? null,
      burst: burst?.rate_limited_posts ?? null,
    },
    failures: args.failures,
    settings: {
      parts: PART_NAMES.filter((p) => settings.parts.has(p)),
      rounds: settings.rounds,
      baseline_rounds: settings.baselineRounds,
      contention_rounds: settings.contentionRounds,
      lead_ms: settings.leadMs,
      first_lead_ms: settings.firstLeadMs,
      prepare_lead_ms: settings.prepareLeadMs,
      burst_pages: settings.burstPages,
      burst_lead_ms: settings.burstLeadMs,
      burst_db_pool: settings.burstDbPool,
      site_limiter: settings.siteLimiter,
    },
    duration_s: args.durationS,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}`, load_1m: { start: args.loadAtStart, end: round2(loadavg()[0]!) } },
    note:
      'sandbox site (the Acuity look-alike) and daemon in one Node process on 127.0.0.1, real Postgres, headless Chromium booking through the page. ' +
      'Lag = site arrival of the booking POST − the site\'s release instant, both on the site clock; the POST follows the calendar reload, the click on the time and the form fill. ' +
      'fire_lag: one reservation per release, on-time mode, site skewed by site_skew_ms; contention: 4 courts per release vs sandbox competitors at +50/100/250/500 ms, win_rate = share of releases won (0–1); ' +
      'baseline: polling-baseline mode (2 s poll, fresh browser per booking), site skewed by baseline_site_skew_ms; burst: 100 slots releasing together, last_submit_ms = last submit arrival − release. ' +
      '*_breakdown_ms: fire_at_site = fire instant on the site clock − release, then the flow phases from booking_attempts.metadata.timings_ms (prepare, open, fill, before_submit, submit_to_result, total).',
  };
}

async function main(): Promise<void> {
  const settings = readSettings();
  const startedMs = systemClock.now();
  const loadAtStart = round2(loadavg()[0]!);
  const failures: PartFailure[] = [];
  const want = (part: PartName): boolean => settings.parts.has(part);
  progress('bench', `parts: ${PART_NAMES.filter(want).join(', ')}; load average ${loadAtStart} on ${cpus().length} cpus`);
  const onTime = want('fire_lag') || want('contention') ? await guarded('on-time', failures, () => runOnTimeParts(settings)) : null;
  const baseline = want('baseline') ? await guarded('baseline', failures, () => runBaseline(settings)) : null;
  const burst = want('burst') ? await guarded('burst', failures, () => runBurst(settings)) : null;
  const durationS = Math.round((systemClock.now() - startedMs) / 100) / 10;
  const result = buildResult({ settings, onTime, baseline, burst, failures, durationS, loadAtStart });
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${new Date(systemClock.now()).toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  progress('bench', `done in ${durationS} s; written to ${file}${failures.length ? `; ${failures.length} part(s) failed` : ''}`);
  // Exit explicitly (once the line is flushed): a daemon that could not be stopped in time must not keep the
  // process, or a browser, alive.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(failures.length > 0 ? 1 : 0));
}

// On a signal: stop every harness (bounded), then exit; Playwright's exit handler kills any browser left.
// A second signal exits at once.
let signalled = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (signalled) process.exit(code);
    signalled = true;
    progress('bench', `${signal}: stopping daemons, sandboxes and databases (again to exit at once)`);
    setTimeout(() => process.exit(code), 15_000).unref();
    void stopAllHarnesses().finally(() => process.exit(code));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
