import { createManualClock, type Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config, VenueConfig } from '../../src/config/schema.js';
import { createSandboxSite, type SandboxSite, type SandboxSwitchesPatch } from '../../src/sandbox/site.js';

/**
 * Starts the sandbox site for a test file and builds a Config whose venues point at it.
 * Default clock: a manual clock at {@link T0} (2027-07-21T15:00:00Z = 09:00 in America/Guatemala), so the
 * `la-villa` slots of 2027-07-23 07:00, 08:00 and 09:00 are released and 10:00 onwards are not.
 */

/** 2027-07-21T15:00:00Z: the release instant of la-villa's 2027-07-23 09:00 slot (hoursBefore 48). */
export const T0 = Date.parse('2027-07-21T15:00:00.000Z');

/** A venue as written in a config file, minus `site.baseUrl` (filled in with the sandbox's URL). */
export type TestVenueInput = Record<string, unknown> & { site: Record<string, unknown> };

/**
 * The `la-villa` test venue: America/Guatemala (−06:00, no DST), hoursBefore 48, courts 1–3, each its own
 * appointment type and calendar on the look-alike (owner key `a3f09c1e`).
 */
export const LA_VILLA: TestVenueInput = {
  name: 'La Villa Tennis',
  timeZone: 'America/Guatemala',
  releaseRule: { hoursBefore: 48 },
  site: { adapter: 'acuity', ownerKey: 'a3f09c1e', businessId: 31337001 },
  courts: {
    '1': { appointmentTypeId: 70000101, calendarId: 9000201, name: 'Cancha 1' },
    '2': { appointmentTypeId: 70000102, calendarId: 9000202, name: 'Cancha 2' },
    '3': { appointmentTypeId: 70000103, calendarId: 9000203, name: 'Cancha 3' },
  },
  slotLengthS: 3600,
  firstSlotTime: '07:00',
  lastSlotTime: '21:00',
};

/** A parsed, frozen Config with `venues` (default: only `la-villa`) on `baseUrl` and sandbox port 0. */
export function testConfig(baseUrl: string, venues: Record<string, TestVenueInput> = { 'la-villa': LA_VILLA }): Config {
  const withUrl = Object.fromEntries(Object.entries(venues).map(([id, v]) => [id, { ...v, site: { ...v.site, baseUrl } }]));
  return parseConfig({ venues: withUrl, sandbox: { port: 0, clockSkewMs: 0 } });
}

/** A started sandbox for tests. */
export interface TestSandbox {
  site: SandboxSite;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Config whose venues' `site.baseUrl` is {@link TestSandbox.url}. */
  config: Config;
  clock: Clock;
  /** The venue `id` of `config` (throws when absent). */
  venue(id?: string): VenueConfig;
  stop(): Promise<void>;
}

/**
 * Starts a sandbox on a free port; `clock` defaults to a manual clock at {@link T0}. `switches` are the
 * site's switches at start and after every reset (e.g. `{ limiter: { enabled: false } }` for a test that
 * is not about the 429 limiter but sends many requests from 127.0.0.1).
 */
export async function startTestSandbox(
  options: { venues?: Record<string, TestVenueInput>; clock?: Clock; clockSkewMs?: number; switches?: SandboxSwitchesPatch } = {},
): Promise<TestSandbox> {
  const clock = options.clock ?? createManualClock(T0);
  const site = createSandboxSite({
    config: testConfig('http://127.0.0.1:1', options.venues),
    clock,
    clockSkewMs: options.clockSkewMs ?? 0,
    ...(options.switches ? { switches: options.switches } : {}),
  });
  const { url } = await site.start(0);
  const config = testConfig(url, options.venues);
  return {
    site,
    url,
    config,
    clock,
    venue(id = 'la-villa') {
      const venue = config.venues[id];
      if (!venue) throw new Error(`test config has no venue ${id}`);
      return venue;
    },
    stop: () => site.stop(),
  };
}

/** POSTs JSON to `url`. */
export function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
