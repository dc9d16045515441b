import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig, secretValuesOf, type ConfigEnv } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';

const CONFIG_PATH = 'config/reservd.json';
const tmp = mkdtempSync(join(tmpdir(), 'reservd-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A minimal valid venue as written in a file; tests copy and break one field at a time. */
function venue(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Test Club',
    timeZone: 'America/Guatemala',
    releaseRule: { hoursBefore: 48 },
    site: { baseUrl: 'https://example.as.me', ownerKey: '0b1c2d3e' },
    courts: { '1': { appointmentTypeId: 1001, calendarId: 5001 }, '2': { appointmentTypeId: 1002, calendarId: 5002 } },
    ...overrides,
  };
}

/** The ConfigError `parseConfig(raw, env)` throws (fails the test if it does not throw one). */
function configError(raw: unknown, env: ConfigEnv = {}): ConfigError {
  try {
    parseConfig(raw, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected parseConfig to throw a ConfigError');
}

function expectFrozenDeep(value: unknown, path = 'config'): void {
  if (value === null || typeof value !== 'object') return;
  expect(Object.isFrozen(value), `${path} is frozen`).toBe(true);
  for (const [key, child] of Object.entries(value)) expectFrozenDeep(child, `${path}.${key}`);
}

describe('loadConfig(config/reservd.json)', () => {
  it('parses the shipped file', () => {
    const config = loadConfig(CONFIG_PATH);
    expect(Object.keys(config.venues)).toEqual(['la-villa']);
    expect(config.venues['la-villa']).toEqual({
      name: 'La Villa Tennis Club (sandbox)',
      timeZone: 'America/Guatemala',
      releaseRule: { hoursBefore: 48 },
      site: { adapter: 'acuity', baseUrl: 'http://127.0.0.1:8080', ownerKey: 'a3f09c1e', businessId: 31337001, allowedHosts: ['www.google.com', 'www.gstatic.com'], allowedPostHosts: ['www.google.com'], requestBudget: { requests: 300, perS: 60 } },
      courts: {
        '1': { appointmentTypeId: 70000101, calendarId: 9000201, name: 'Cancha 1' },
        '2': { appointmentTypeId: 70000102, calendarId: 9000202, name: 'Cancha 2' },
        '3': { appointmentTypeId: 70000103, calendarId: 9000203, name: 'Cancha 3' },
      },
      slotLengthS: 3600,
      firstSlotTime: '07:00',
      lastSlotTime: '21:00',
    });
    expect(config.daemon.pollIntervalMs).toBe(30_000);
    expect(config.database).toEqual({ url: null, password: null, embeddedDataDir: '.reservd/pgdata', embeddedPort: 54329, poolMax: 10, connectionTimeoutMs: 10_000, retryMs: 15_000 });
    expect(config.log.level).toBe('info');
    expect(config.sandbox).toEqual({ port: 8080, clockSkewMs: 0 });
  });

  it('returns a deep-frozen object', () => {
    const config = loadConfig(CONFIG_PATH);
    expectFrozenDeep(config);
    const venues = config.venues as Record<string, Config['venues'][string]>;
    expect(() => {
      (config.daemon as { pollIntervalMs: number }).pollIntervalMs = 1;
    }).toThrow(TypeError);
    expect(() => {
      (venues['la-villa']!.courts as Record<string, unknown>)['9'] = { appointmentTypeId: 9, calendarId: 9 };
    }).toThrow(TypeError);
    expect(() => {
      (venues['la-villa']!.courts['1'] as { calendarId: number }).calendarId = 1;
    }).toThrow(TypeError);
    expect(() => {
      (venues['la-villa']!.site as { ownerKey: string }).ownerKey = '00000000';
    }).toThrow(TypeError);
    expect(() => {
      (venues['la-villa']!.releaseRule as { hoursBefore: number }).hoursBefore = 1;
    }).toThrow(TypeError);
    expect(config.daemon.pollIntervalMs).toBe(30_000);
  });
});

describe('parseConfig defaults', () => {
  it('fills every daemon, database, log, sandbox and http default from an almost empty file', () => {
    const config = parseConfig({ venues: {} });
    expect(config).toEqual({
      daemon: {
        pollIntervalMs: 30_000,
        prepareLeadMs: 60_000,
        attemptTimeoutMs: 20_000,
        leaseMs: 30_000,
        notOpenRetryBudgetMs: 10_000,
        notOpenRetryIntervalMs: 250,
        maxConcurrentBookings: 8,
        siteBlockedCoolOffMs: 21_600_000,
        stopGraceMs: 30_000,
        browserExecutable: null,
        headless: true,
        mode: 'on-time',
      },
      database: { url: null, password: null, embeddedDataDir: '.reservd/pgdata', embeddedPort: 54329, poolMax: 10, connectionTimeoutMs: 10_000, retryMs: 15_000 },
      log: { level: 'info' },
      sandbox: { port: 8080, clockSkewMs: 0 },
      http: { enabled: false, host: '127.0.0.1', port: 9464, allowRemote: false },
      standing: { enabled: true, lookaheadMs: 604_800_000, tickIntervalMs: 60_000 },
      notify: { maxAttempts: 8, retryFirstMs: 5_000, retryMaxMs: 900_000, pollIntervalMs: 30_000, requestTimeoutMs: 10_000 },
      venues: {},
    });
    expectFrozenDeep(config);
  });

  it('defaults a partly given section field by field', () => {
    const config = parseConfig({ daemon: { pollIntervalMs: 5_000 }, venues: {} });
    expect(config.daemon.pollIntervalMs).toBe(5_000);
    expect(config.daemon.prepareLeadMs).toBe(60_000);
    expect(config.daemon.leaseMs).toBe(30_000);
  });

  it('fills venue defaults (adapter, slot grid), strips trailing slashes from baseUrl, keeps optional fields out', () => {
    const config = parseConfig({ venues: { club: venue({ site: { baseUrl: 'http://127.0.0.1:8080//', ownerKey: 'ff00aa11' } }) } });
    expect(config.venues.club).toEqual({
      name: 'Test Club',
      timeZone: 'America/Guatemala',
      releaseRule: { hoursBefore: 48 },
      site: { adapter: 'acuity', baseUrl: 'http://127.0.0.1:8080', ownerKey: 'ff00aa11', allowedHosts: ['www.google.com', 'www.gstatic.com'], allowedPostHosts: ['www.google.com'], requestBudget: { requests: 300, perS: 60 } },
      courts: { '1': { appointmentTypeId: 1001, calendarId: 5001 }, '2': { appointmentTypeId: 1002, calendarId: 5002 } },
      slotLengthS: 3600,
      firstSlotTime: '07:00',
      lastSlotTime: '21:00',
    });
  });

  it('accepts the calendar-day release rule', () => {
    const config = parseConfig({ venues: { club: venue({ releaseRule: { daysBefore: 7, at: '07:00' } }) } });
    expect(config.venues.club?.releaseRule).toEqual({ daysBefore: 7, at: '07:00' });
  });

  it('never freezes or shares the caller’s object or the defaults between parses', () => {
    const raw = { venues: { club: venue() } };
    const first = parseConfig(raw);
    const second = parseConfig(raw);
    expect(Object.isFrozen(raw)).toBe(false);
    expect(Object.isFrozen(raw.venues.club)).toBe(false);
    expect(first.daemon).not.toBe(second.daemon);
    expect(first.log).not.toBe(second.log);
    expect(first).toEqual(second);
  });
});

describe('parseConfig errors name the key path', () => {
  const cases: Array<{ what: string; raw: unknown; path: string; says: string }> = [
    { what: 'unknown time zone', raw: { venues: { x: venue({ timeZone: 'Mars/Olympus' }) } }, path: 'venues.x.timeZone', says: 'IANA time zone' },
    {
      what: 'both release-rule kinds mixed',
      raw: { venues: { x: venue({ releaseRule: { hoursBefore: 48, daysBefore: 2, at: '07:00' } }) } },
      path: 'venues.x.releaseRule',
      says: 'hoursBefore',
    },
    {
      what: 'release time without a leading zero',
      raw: { venues: { x: venue({ releaseRule: { daysBefore: 2, at: '7:00' } }) } },
      path: 'venues.x.releaseRule.at',
      says: 'HH:MM',
    },
    {
      what: 'release time with seconds',
      raw: { venues: { x: venue({ releaseRule: { daysBefore: 2, at: '07:00:00' } }) } },
      path: 'venues.x.releaseRule.at',
      says: 'HH:MM',
    },
    { what: 'fractional hoursBefore', raw: { venues: { x: venue({ releaseRule: { hoursBefore: 1.5 } }) } }, path: 'venues.x.releaseRule.hoursBefore', says: 'must be a whole number, got 1.5' },
    { what: 'non-integer court key', raw: { venues: { x: venue({ courts: { one: { appointmentTypeId: 1001, calendarId: 5001 } } }) } }, path: 'venues.x.courts.one', says: 'court numbers are positive integers' },
    { what: 'court 0', raw: { venues: { x: venue({ courts: { '0': { appointmentTypeId: 1001, calendarId: 5001 } } }) } }, path: 'venues.x.courts.0', says: 'court numbers are positive integers' },
    { what: 'empty courts', raw: { venues: { x: venue({ courts: {} }) } }, path: 'venues.x.courts', says: 'at least one court' },
    { what: 'unknown venue key', raw: { venues: { x: venue({ surface: 'clay' }) } }, path: 'venues.x', says: '"surface"' },
    { what: 'unknown daemon key', raw: { daemon: { pollIntervalMS: 1_000 }, venues: {} }, path: 'daemon', says: '"pollIntervalMS"' },
    { what: 'unknown top-level key', raw: { venues: {}, extra: true }, path: '(root)', says: '"extra"' },
    { what: 'baseUrl that is not a URL', raw: { venues: { x: venue({ site: { baseUrl: 'example.as.me', ownerKey: '0b1c2d3e' } }) } }, path: 'venues.x.site.baseUrl', says: 'http(s) URL' },
    { what: 'baseUrl that is not http(s)', raw: { venues: { x: venue({ site: { baseUrl: 'file:///etc/passwd', ownerKey: '0b1c2d3e' } }) } }, path: 'venues.x.site.baseUrl', says: 'http(s) URL' },
    { what: 'venue id that is not a slug', raw: { venues: { 'La Villa': venue() } }, path: 'venues.La Villa', says: 'lower-case slugs' },
    { what: 'pollIntervalMs below its minimum', raw: { daemon: { pollIntervalMs: 10 }, venues: {} }, path: 'daemon.pollIntervalMs', says: '50' },
    { what: 'missing venues', raw: {}, path: 'venues', says: 'required: an object mapping each key to an object with keys "name"' },
    { what: 'bad log level in the file', raw: { log: { level: 'loud' }, venues: {} }, path: 'log.level', says: 'info' },
  ];

  it.each(cases)('$what → ConfigError naming $path', ({ raw, path, says }) => {
    const err = configError(raw);
    expect(err.name).toBe('ConfigError');
    expect(err.code).toBe('config_invalid');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`\n  ${path}: `);
    expect(err.message).toContain(says);
  });

  it('lists every bad key at once', () => {
    const err = configError({ daemon: { leaseMs: 1 }, venues: { x: venue({ timeZone: 'Nowhere/Town', courts: {} }) } });
    const lines = err.message.split('\n').slice(1).map((line) => line.trim().split(':')[0]);
    expect(lines.sort()).toEqual(['daemon.leaseMs', 'venues.x.courts', 'venues.x.timeZone']);
  });
  it('refuses a site-block cool-off under a minute (reservd always stops after a flag)', () => {
    expect(configError({ daemon: { siteBlockedCoolOffMs: 0 }, venues: { x: venue() } }).message).toContain('daemon.siteBlockedCoolOffMs: must be at least 60000, got 0');
    expect(parseConfig({ daemon: { siteBlockedCoolOffMs: 60_000 }, venues: { x: venue() } }).daemon.siteBlockedCoolOffMs).toBe(60_000);
  });
});

describe('environment overrides', () => {
  it('DATABASE_URL, RESERVD_BROWSER and RESERVD_LOG_LEVEL replace the file values', () => {
    const config = loadConfig(CONFIG_PATH, {
      DATABASE_URL: 'postgres://reservd:secret@db.internal:5432/reservd',
      RESERVD_BROWSER: '/usr/bin/chromium',
      RESERVD_LOG_LEVEL: 'debug',
    });
    expect(config.database.url).toBe('postgres://reservd:secret@db.internal:5432/reservd');
    expect(config.daemon.browserExecutable).toBe('/usr/bin/chromium');
    expect(config.log.level).toBe('debug');
    expect(config.database.poolMax).toBe(10);
    expectFrozenDeep(config);
  });

  it('leaves file values alone when the variables are unset or empty', () => {
    const raw = { database: { url: 'postgres://file/db' }, daemon: { browserExecutable: '/opt/chrome' }, log: { level: 'warn' }, venues: {} };
    for (const env of [{}, { DATABASE_URL: '', RESERVD_BROWSER: '', RESERVD_LOG_LEVEL: '' }]) {
      const config = parseConfig(raw, env);
      expect(config.database.url).toBe('postgres://file/db');
      expect(config.daemon.browserExecutable).toBe('/opt/chrome');
      expect(config.log.level).toBe('warn');
    }
  });

  it('refuses a bad RESERVD_LOG_LEVEL with a ConfigError naming the variable', () => {
    const err = configError({ venues: {} }, { RESERVD_LOG_LEVEL: 'verbose' });
    expect(err.message).toBe('RESERVD_LOG_LEVEL: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "verbose"');
  });

  it('loadConfig names the file in front of an env error', () => {
    expect(() => loadConfig(CONFIG_PATH, { RESERVD_LOG_LEVEL: 'LOUD' })).toThrow(new RegExp(`^${CONFIG_PATH}: RESERVD_LOG_LEVEL: `));
  });
});

describe('loadConfig file errors name the file', () => {
  it('missing file', () => {
    const path = join(tmp, 'does-not-exist.json');
    expect(() => loadConfig(path)).toThrow(ConfigError);
    expect(() => loadConfig(path)).toThrow(`cannot read configuration file ${path}`);
  });

  it('invalid JSON', () => {
    const path = join(tmp, 'broken.json');
    writeFileSync(path, '{ "venues": { ');
    expect(() => loadConfig(path)).toThrow(ConfigError);
    expect(() => loadConfig(path)).toThrow(`configuration file ${path} is not valid JSON`);
  });

  it('an invalid key, with the file in front and the cause kept', () => {
    const path = join(tmp, 'bad-zone.json');
    const raw = JSON.parse(readFileSync(CONFIG_PATH, 'utf8')) as { venues: Record<string, { timeZone: string }> };
    raw.venues['la-villa']!.timeZone = 'America/Atlantis';
    writeFileSync(path, JSON.stringify(raw));
    let caught: unknown;
    try {
      loadConfig(path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.message.startsWith(`${path}: invalid configuration:`)).toBe(true);
    expect(err.message).toContain('venues.la-villa.timeZone: must be an IANA time zone');
    expect(err.cause).toBeDefined();
  });
});

describe('venue checks added after the adversarial review', () => {
  const config = (over: Record<string, unknown>) => ({ venues: { v: venue(over) } });
  const messageOf = (raw: unknown): string => {
    try {
      parseConfig(raw);
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };

  it('refuses a time zone spelled in the wrong letter case, naming the real spelling', () => {
    expect(messageOf(config({ timeZone: 'america/guatemala' }))).toContain('venues.v.timeZone: must be spelled exactly as the IANA name "America/Guatemala"');
  });

  it('accepts IANA links such as Asia/Kolkata', () => {
    expect(messageOf(config({ timeZone: 'Asia/Kolkata' }))).toBe('no error');
  });

  it('refuses a slot grid that ends before it starts', () => {
    expect(messageOf(config({ firstSlotTime: '21:00', lastSlotTime: '07:00' }))).toContain('venues.v.lastSlotTime: firstSlotTime must not be later than lastSlotTime');
  });
});

describe('the Acuity site and its courts', () => {
  const site = (over: Record<string, unknown>) => ({ venues: { v: venue({ site: { baseUrl: 'https://example.as.me', ownerKey: '0b1c2d3e', ...over } }) } });
  const courts = (courtMap: Record<string, unknown>) => ({ venues: { v: venue({ courts: courtMap }) } });
  const OWNER_KEY_MESSAGE = 'invalid configuration:\n  venues.v.site.ownerKey: must be the 8 lower-case hex characters of the scheduler URL, e.g. "a3f09c1e"';

  it('keeps businessId and court names when given', () => {
    const config = parseConfig({
      venues: {
        v: venue({
          site: { adapter: 'acuity', baseUrl: 'https://example.as.me', ownerKey: '0b1c2d3e', businessId: 31337001 },
          courts: { '1': { appointmentTypeId: 1001, calendarId: 5001, name: 'Cancha 1' } },
        }),
      },
    });
    expect(config.venues.v!.site).toEqual({ adapter: 'acuity', baseUrl: 'https://example.as.me', ownerKey: '0b1c2d3e', businessId: 31337001, allowedHosts: ['www.google.com', 'www.gstatic.com'], allowedPostHosts: ['www.google.com'], requestBudget: { requests: 300, perS: 60 } });
    expect(config.venues.v!.courts).toEqual({ '1': { appointmentTypeId: 1001, calendarId: 5001, name: 'Cancha 1' } });
  });

  it.each(['A3F09C1E', 'a3f09c1', 'a3f09c1e0', 'la-villa', ''])('refuses ownerKey "%s" (not 8 lower-case hex), naming venues.<id>.site.ownerKey', (ownerKey) => {
    expect(configError(site({ ownerKey })).message).toBe(OWNER_KEY_MESSAGE);
  });

  it('refuses a missing or numeric ownerKey', () => {
    expect(configError({ venues: { v: venue({ site: { baseUrl: 'https://example.as.me' } }) } }).message).toBe(
      'invalid configuration:\n  venues.v.site.ownerKey: required: a string',
    );
    expect(configError(site({ ownerKey: 12345678 })).message).toBe('invalid configuration:\n  venues.v.site.ownerKey: must be a string, got 12345678');
  });

  it('refuses the old site shape (slug + one appointment type) and the old court shape (a calendar id string)', () => {
    expect(configError({ venues: { v: venue({ site: { baseUrl: 'https://example.as.me', slug: 'test-club', appointmentTypeId: '1001' } }) } }).message).toBe(
      'invalid configuration:\n  venues.v.site.ownerKey: required: a string\n' +
        '  venues.v.site: unknown key "slug" (known keys: "adapter", "baseUrl", "ownerKey", "businessId", "allowedHosts", "allowedPostHosts", "requestBudget")\n' +
        '  venues.v.site: unknown key "appointmentTypeId" (known keys: "adapter", "baseUrl", "ownerKey", "businessId", "allowedHosts", "allowedPostHosts", "requestBudget")',
    );
    expect(configError(courts({ '1': '5001' })).message).toBe(
      'invalid configuration:\n  venues.v.courts.1: must be an object with keys "appointmentTypeId", "calendarId" (optional "name"), got the string "5001"',
    );
  });

  it('refuses another adapter and a businessId that is not a positive integer', () => {
    expect(configError(site({ adapter: 'mindbody' })).message).toBe('invalid configuration:\n  venues.v.site.adapter: must be "acuity", got the string "mindbody"');
    expect(configError(site({ businessId: 0 })).message).toBe('invalid configuration:\n  venues.v.site.businessId: must be more than 0, got 0');
    expect(configError(site({ businessId: '31337001' })).message).toBe('invalid configuration:\n  venues.v.site.businessId: must be a whole number, got the string "31337001"');
  });

  it('refuses a court without calendarId, naming venues.<id>.courts.<n>.calendarId', () => {
    expect(configError(courts({ '1': { appointmentTypeId: 1001 } })).message).toBe(
      'invalid configuration:\n  venues.v.courts.1.calendarId: required: a whole number',
    );
  });

  it('refuses court ids that are not positive integers, an empty court name and an unknown court key', () => {
    expect(configError(courts({ '1': { appointmentTypeId: '1001', calendarId: 5001 } })).message).toBe(
      'invalid configuration:\n  venues.v.courts.1.appointmentTypeId: must be a whole number, got the string "1001"',
    );
    expect(configError(courts({ '1': { appointmentTypeId: 1001, calendarId: 0 } })).message).toBe('invalid configuration:\n  venues.v.courts.1.calendarId: must be more than 0, got 0');
    expect(configError(courts({ '1': { appointmentTypeId: 1001, calendarId: 5001, name: '' } })).message).toBe(
      'invalid configuration:\n  venues.v.courts.1.name: must not be empty',
    );
    expect(configError(courts({ '1': { appointmentTypeId: 1001, calendarId: 5001, surface: 'clay' } })).message).toBe('invalid configuration:\n  venues.v.courts.1: unknown key "surface" (known keys: "appointmentTypeId", "calendarId", "name")');
  });

  it('refuses two courts sharing an appointmentTypeId, or a calendarId, or both', () => {
    expect(configError(courts({ '1': { appointmentTypeId: 1001, calendarId: 5001 }, '2': { appointmentTypeId: 1001, calendarId: 5002 } })).message).toBe(
      'invalid configuration:\n  venues.v.courts: two courts share an appointmentTypeId',
    );
    expect(configError(courts({ '1': { appointmentTypeId: 1001, calendarId: 5001 }, '2': { appointmentTypeId: 1002, calendarId: 5001 } })).message).toBe(
      'invalid configuration:\n  venues.v.courts: two courts share a calendarId',
    );
    expect(configError(courts({ '1': { appointmentTypeId: 1001, calendarId: 5001 }, '2': { appointmentTypeId: 1001, calendarId: 5001 } })).message).toBe(
      'invalid configuration:\n  venues.v.courts: two courts share an appointmentTypeId\n  venues.v.courts: two courts share a calendarId',
    );
  });
});

describe('config error messages say what is wrong and what is expected', () => {
  const RULES = 'one of { "hoursBefore": N }, { "daysBefore": N, "at": "HH:MM" } or { "cron": "0 7 * * *", "horizonDays": N }';
  const messageOf = (raw: unknown): string => configError(raw).message;

  it('a release rule with two kinds names the keys of both and says choose one', () => {
    expect(messageOf({ venues: { 'la-villa': venue({ releaseRule: { hoursBefore: 48, daysBefore: 2, at: '07:00' } }) } })).toBe(
      `invalid configuration:\n  venues.la-villa.releaseRule: mixes 2 kinds ("hoursBefore" and "daysBefore", "at"); choose one: expected ${RULES}`,
    );
  });

  it('a release rule with a misspelled key names it and the key it resembles', () => {
    expect(messageOf({ venues: { 'la-villa': venue({ releaseRule: { hourBefore: 48 } }) } })).toBe(
      `invalid configuration:\n  venues.la-villa.releaseRule: unknown key "hourBefore" (did you mean "hoursBefore"?); expected ${RULES}`,
    );
    expect(messageOf({ venues: { 'la-villa': venue({ releaseRule: { daysBefore: 2, att: '07:00' } }) } })).toBe(
      'invalid configuration:\n' +
        `  venues.la-villa.releaseRule.at: required: a string (expected ${RULES})\n` +
        '  venues.la-villa.releaseRule: unknown key "att" (did you mean "at"?)',
    );
  });

  it('a release rule that is empty, a number, or missing a key of its kind', () => {
    expect(messageOf({ venues: { v: venue({ releaseRule: {} }) } })).toBe(`invalid configuration:\n  venues.v.releaseRule: is empty; expected ${RULES}`);
    expect(messageOf({ venues: { v: venue({ releaseRule: 48 }) } })).toBe(`invalid configuration:\n  venues.v.releaseRule: must be ${RULES}, got 48`);
    expect(messageOf({ venues: { v: venue({ releaseRule: { cron: '0 7 * * *' } }) } })).toBe(
      `invalid configuration:\n  venues.v.releaseRule.horizonDays: required: a whole number (expected ${RULES})`,
    );
  });

  it('a missing object says it is required and its shape', () => {
    const { courts: _courts, site: _site, releaseRule: _rule, ...bare } = venue();
    expect(messageOf({ venues: { 'la-villa': bare } })).toBe(
      'invalid configuration:\n' +
        `  venues.la-villa.releaseRule: required: ${RULES}\n` +
        '  venues.la-villa.site: required: an object with keys "baseUrl", "ownerKey" (optional "adapter", "businessId", "allowedHosts", "allowedPostHosts", "requestBudget")\n' +
        '  venues.la-villa.courts: required: an object mapping each key to an object with keys "appointmentTypeId", "calendarId" (optional "name")',
    );
  });

  it('wrong types say the expected type in words and what was given', () => {
    expect(messageOf({ daemon: { headless: 'yes', pollIntervalMs: 1.5, mode: 'fast' }, venues: {} })).toBe(
      'invalid configuration:\n' +
        '  daemon.pollIntervalMs: must be a whole number, got 1.5\n' +
        '  daemon.headless: must be true or false, got the string "yes"\n' +
        '  daemon.mode: must be one of "on-time", "polling-baseline", got the string "fast"',
    );
    expect(messageOf({ daemon: { browserExecutable: 5 }, venues: {} })).toBe('invalid configuration:\n  daemon.browserExecutable: must be a string or null, got 5');
    expect(messageOf({ venues: [] })).toBe(
      'invalid configuration:\n  venues: must be an object mapping each key to an object with keys "name", "timeZone", "releaseRule", "site", "courts" (optional "slotLengthS", "firstSlotTime", "lastSlotTime"), got a list',
    );
  });

  it('reports every problem of one file together, each by its path', () => {
    const path = join(tmp, 'many-problems.json');
    writeFileSync(
      path,
      JSON.stringify({
        daemon: { leaseMs: 1, pollIntervalMS: 1_000 },
        venues: {
          'la-villa': venue({ releaseRule: { hoursBefore: 48, cron: '0 7 * * *' }, courts: undefined, timeZone: 'Mars/Olympus' }),
          other: venue({ site: { baseUrl: 'https://example.as.me', ownerKey: '0b1c2d3e', ownerkey: 'x' } }),
        },
      }),
    );
    expect(() => loadConfig(path)).toThrow(
      `${path}: invalid configuration:\n` +
        '  daemon.leaseMs: must be at least 5000, got 1\n' +
        '  daemon: unknown key "pollIntervalMS" (did you mean "pollIntervalMs"?)\n' +
        '  venues.la-villa.timeZone: must be an IANA time zone such as "America/New_York"\n' +
        `  venues.la-villa.releaseRule: mixes 2 kinds ("hoursBefore" and "cron"); choose one: expected ${RULES}\n` +
        '  venues.la-villa.courts: required: an object mapping each key to an object with keys "appointmentTypeId", "calendarId" (optional "name")\n' +
        '  venues.other.site: unknown key "ownerkey" (did you mean "ownerKey"?)',
    );
  });
});

describe('secrets: { "fromEnv": NAME } and { "fromFile": path }', () => {
  const secretFile = (name: string, content: string, mode: number): string => {
    const path = join(tmp, name);
    writeFileSync(path, content);
    chmodSync(path, mode);
    return path;
  };
  const parseWith = (database: Record<string, unknown>, env: ConfigEnv = {}) => {
    const warnings: string[] = [];
    const config = parseConfig({ database, venues: {} }, env, { onWarning: (w) => warnings.push(w) });
    return { config, warnings };
  };

  it('reads database.url from the environment variable it names', () => {
    const { config, warnings } = parseWith({ url: { fromEnv: 'RESERVD_TEST_DB_URL' } }, { RESERVD_TEST_DB_URL: 'postgres://reservd:from-env-pw@db.internal:5432/reservd' });
    expect(config.database.url).toBe('postgres://reservd:from-env-pw@db.internal:5432/reservd');
    expect(warnings).toEqual([]);
    expect(secretValuesOf(config)).toEqual(['postgres://reservd:from-env-pw@db.internal:5432/reservd', 'from-env-pw']);
  });

  it('reads database.password from a 0600 file (one trailing newline dropped) and puts it into the url', () => {
    const file = secretFile('db-password', 'p@ss w0rd\n', 0o600);
    const { config, warnings } = parseWith({ url: 'postgres://reservd@db.internal:5432/reservd', password: { fromFile: file } });
    expect(config.database.url).toBe('postgres://reservd:p%40ss%20w0rd@db.internal:5432/reservd');
    expect(warnings).toEqual([]);
    expect(secretValuesOf(config)).toEqual(['p@ss w0rd', 'postgres://reservd:p%40ss%20w0rd@db.internal:5432/reservd', 'p%40ss%20w0rd']);
  });

  it('warns about a secrets file readable by group or others, naming the file and chmod 600', () => {
    const file = secretFile('db-password-open', 'hunter2hunter2', 0o644);
    const { config, warnings } = parseWith({ url: 'postgres://reservd@db.internal/reservd', password: { fromFile: file } });
    expect(config.database.url).toBe('postgres://reservd:hunter2hunter2@db.internal/reservd');
    expect(warnings).toEqual([`database.password: secret file ${file} is readable by group or others (mode 644); run "chmod 600 ${file}" (and make reservd's user its owner)`]);
    const groupOnly = secretFile('db-password-group', 'hunter2hunter2', 0o640);
    expect(parseWith({ url: 'postgres://reservd@db.internal/reservd', password: { fromFile: groupOnly } }).warnings).toHaveLength(1);
  });

  it('an unset variable and a missing file are errors naming the config path, listed together', () => {
    const missing = join(tmp, 'no-such-secret');
    expect(configError({ database: { url: { fromEnv: 'RESERVD_TEST_UNSET' }, password: { fromFile: missing } }, venues: {} }, { RESERVD_TEST_UNSET: '' }).message).toBe(
      'invalid configuration:\n' +
        '  database.url: the environment variable RESERVD_TEST_UNSET ("fromEnv") is not set or empty; set it, or give the value another way\n' +
        `  database.password: cannot read secret file ${missing} ("fromFile"): ENOENT: no such file or directory, stat '${missing}'`,
    );
    const empty = secretFile('empty-secret', '\n', 0o600);
    expect(configError({ database: { url: { fromFile: empty } }, venues: {} }).message).toBe(`invalid configuration:\n  database.url: secret file ${empty} ("fromFile") is empty`);
  });

  it('refuses a malformed reference, never quoting the value given', () => {
    expect(configError({ database: { url: { fromEnv: 'NOT A NAME' }, password: { fromVault: 'x' } }, venues: {} }).message).toBe(
      'invalid configuration:\n' +
        '  database.url.fromEnv: must be an environment variable name such as "RESERVD_DB_PASSWORD"\n' +
        '  database.password: unknown key "fromVault" (known keys: "fromEnv", "fromFile"); expected a string, { "fromEnv": "VARIABLE_NAME" } or { "fromFile": "/path/to/file" }',
    );
    expect(configError({ database: { url: 'not a url: s3cret' }, venues: {} }).message).toBe(
      'invalid configuration:\n  database.url: is not a URL; expected "postgres://user@host:5432/database" (the value is withheld: it may hold a password)',
    );
    expect(configError({ database: { password: 'x' }, venues: {} }).message).toBe(
      'invalid configuration:\n  database.password: is set but there is no database.url (or DATABASE_URL) to use it with; the embedded PostgreSQL needs none',
    );
  });

  it('warns about a password written in the file, not about one from DATABASE_URL', () => {
    expect(parseWith({ url: 'postgres://reservd:written@db/reservd' }).warnings).toEqual([
      'database: a password is written in the configuration file; give it as { "fromFile": "/etc/reservd/db-password" } (mode 600) or { "fromEnv": "NAME" } instead',
    ]);
    const fromEnv = parseWith({ url: 'postgres://reservd:written@db/reservd' }, { DATABASE_URL: 'postgres://reservd:env-pw@db/reservd' });
    expect(fromEnv.warnings).toEqual([]);
    expect(fromEnv.config.database.url).toBe('postgres://reservd:env-pw@db/reservd');
    expect(secretValuesOf(fromEnv.config)).toEqual(['postgres://reservd:written@db/reservd', 'written', 'postgres://reservd:env-pw@db/reservd', 'env-pw']);
    expect(parseWith({ url: 'postgres://reservd@db/reservd' }).warnings).toEqual([]);
  });
});
