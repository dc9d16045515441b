import { describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.js';
import { parseConfig } from '../src/config/load.js';
import type { SiteClockEstimate, SiteClockOptions } from '../src/scheduling/site-clock.js';
import { createSiteClockCache } from '../src/scheduling/site-clock-cache.js';
import { createSilentLogger } from '../src/telemetry/logger.js';
import { LA_VILLA } from './helpers/sandbox.js';

/**
 * The site-clock cache: one estimate per SITE (origin), shared by its venues and reused for `maxAgeMs`;
 * `known` answers synchronously with a settled, fresh estimate only.
 */

/** A venue on `baseUrl` with its own owner key (several venues, i.e. businesses, may share one site). */
const venueOn = (baseUrl: string, ownerKey: string) =>
  parseConfig({ venues: { v: { ...LA_VILLA, site: { ...LA_VILLA.site, ownerKey, baseUrl } } } }).venues.v!;

const estimateOf = (offsetMs: number, atMs: number): SiteClockEstimate => ({
  offsetMs,
  uncertaintyMs: 3,
  boundaries: 1,
  rttMs: 1,
  method: 'interval',
  samples: 10,
  requests: 10,
  durationMs: 1_000,
  measuredAtMs: atMs,
});

describe('site clock cache', () => {
  it('measures each site once for all its venues, answers known() once settled, and measures again when stale', async () => {
    const clock = createManualClock(Date.parse('2027-07-21T14:00:00Z'));
    const asked: string[] = [];
    let failNext = false;
    const estimate = async (o: SiteClockOptions): Promise<SiteClockEstimate> => {
      asked.push(o.url);
      if (failNext) throw new Error('site down');
      return estimateOf(o.url.includes(':8001') ? -1_500 : 800, clock.now());
    };
    const cache = createSiteClockCache({ clock, logger: createSilentLogger(), maxAgeMs: 60_000, estimate });
    const a = venueOn('http://127.0.0.1:8001', 'a3f09c1e');
    const b = venueOn('http://127.0.0.1:8001/', 'b4e1ad2f');
    const c = venueOn('http://127.0.0.1:8002', 'c5d2be30');
    expect(cache.known(a)).toBeNull();
    expect(cache.latest(a)).toBeNull();
    const [ea, eb, ec] = await Promise.all([cache.offsetFor('a', a), cache.offsetFor('b', b), cache.offsetFor('c', c)]);
    expect(asked).toEqual(['http://127.0.0.1:8001/', 'http://127.0.0.1:8002/']);
    expect([ea?.offsetMs, eb?.offsetMs, ec?.offsetMs]).toEqual([-1_500, -1_500, 800]);
    expect(cache.known(b)?.offsetMs).toBe(-1_500);
    expect(cache.known(c)?.offsetMs).toBe(800);

    clock.advance(59_999);
    expect((await cache.offsetFor('a', a))?.offsetMs).toBe(-1_500);
    expect(asked).toHaveLength(2);
    clock.advance(1);
    expect(cache.known(a)).toBeNull(); // too old to count as fresh ...
    expect(cache.latest(a)?.offsetMs).toBe(-1_500); // ... but still the best guess without time to measure
    failNext = true;
    expect(await cache.offsetFor('a', a)).toBeNull();
    expect(asked).toHaveLength(3);
    failNext = false;
    expect((await cache.offsetFor('b', b))?.offsetMs).toBe(-1_500); // a failure is not cached: measured again
    expect(asked).toHaveLength(4);
    expect(cache.known(a)?.offsetMs).toBe(-1_500);
  });
});
