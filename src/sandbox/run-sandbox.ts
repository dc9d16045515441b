import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { SandboxLogger } from './sandbox-logger.js';
import { createSandboxSite, type SandboxSite } from './site.js';

/** Options of {@link runSandbox} (`reservd sandbox --port N --config FILE`). */
export interface RunSandboxOptions {
  config: Config;
  clock: Clock;
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Site clock minus true clock, ms. */
  clockSkewMs: number;
  logger: SandboxLogger;
}

/**
 * Starts the sandbox site (the Acuity look-alike) for every configured venue and logs its URL and each
 * court's calendar page (on the sandbox's own origin, whatever `site.baseUrl` says). Resolves once
 * listening; the caller stops it with `site.stop()`.
 *
 * @throws Error when the port is taken or two venues share an owner key.
 */
export async function runSandbox(options: RunSandboxOptions): Promise<SandboxSite> {
  const { config, logger } = options;
  const site = createSandboxSite({ config, clock: options.clock, clockSkewMs: options.clockSkewMs, logger });
  const { url } = await site.start(options.port);
  for (const [venueId, venue] of Object.entries(config.venues)) {
    const calendars = Object.values(venue.courts).map(
      (c) => `${url}/schedule/${venue.site.ownerKey}/appointment/${c.appointmentTypeId}/calendar/${c.calendarId}?appointmentTypeIds[]=${c.appointmentTypeId}`,
    );
    logger.info({ venue: venueId, timeZone: venue.timeZone, releaseRule: venue.releaseRule, calendars }, `sandbox: venue ${venueId} (${venue.name})`);
  }
  logger.info({ url, clockSkewMs: options.clockSkewMs, controls: `${url}/__sandbox/bookings` }, `sandbox site ready at ${url}`);
  return site;
}
