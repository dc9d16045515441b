import pg from 'pg';
import { backoffDelayMs } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import type { DbLogger } from './logger.js';
import { reservdPgTypes } from './pg-types.js';

/** A running LISTEN subscription; `close()` is safe to call twice. */
export interface Listener {
  close(): Promise<void>;
}

/** Options of {@link startListener}. */
export interface ListenerOptions {
  url: string;
  /** Channel name as given to `pg_notify` (quoted as an identifier, so any text works). */
  channel: string;
  /**
   * Called with each notification's payload. After a lost connection is re-established it is also called once
   * with `''`: notifications sent while disconnected are lost, so the receiver should rescan.
   */
  onNotify: (payload: string) => void;
  logger: DbLogger;
  /** How long one connect may take before it counts as failed, ms (default 10 s; `database.connectionTimeoutMs`). */
  connectionTimeoutMs?: number;
  /** Timer source for reconnect backoff (default the system clock; only `src/clock.ts` arms timers). */
  clock?: Clock;
}

/** Reconnect backoff (`backoffDelayMs`): 100 ms doubling to at most 10 s. */
const BACKOFF = { firstMs: 100, maxMs: 10_000 };

/**
 * LISTENs on `channel` over a dedicated `pg.Client` (a pooled connection would lose the subscription when
 * released). When that connection dies (server restart, `pg_terminate_backend`, network) it reconnects with
 * capped exponential backoff and LISTENs again (a LISTEN subscription dies with its connection), then
 * calls `onNotify('')` once: a notification sent meanwhile is lost. Logged once per outage: the loss (warn),
 * the first failed reconnect (warn), and the reconnect (info, with the outage length and failed tries).
 * TCP keep-alive lets a silently dropped connection (network) be noticed too.
 *
 * @throws the connection error when the FIRST connect or LISTEN fails (later failures are retried, not thrown).
 */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { channel, logger } = options;
  const clock = options.clock ?? systemClock;
  const stopping = new AbortController();
  let current: pg.Client | null = null;
  let closePromise: Promise<void> | null = null;
  let reconnecting: Promise<void> | null = null;

  const deliver = (payload: string): void => {
    try {
      options.onNotify(payload);
    } catch (err) {
      logger.error({ err, channel }, `LISTEN ${channel}: the notification handler threw.`);
    }
  };
  const connect = (): Promise<pg.Client> => connectListening(options, { deliver, onLost });

  function onLost(client: pg.Client, err: Error | undefined): void {
    if (client !== current || stopping.signal.aborted) return;
    current = null;
    client.end().catch(() => undefined);
    logger.warn({ err, channel }, `LISTEN ${channel}: connection lost; reconnecting.`);
    const adopt = (next: pg.Client): void => {
      current = next;
      deliver('');
    };
    reconnecting = reconnect({ channel, logger, clock, signal: stopping.signal, connect, adopt }).finally(() => {
      reconnecting = null;
    });
  }

  current = await connect();
  return {
    close() {
      closePromise ??= (async () => {
        stopping.abort();
        await reconnecting;
        const client = current;
        current = null;
        await client?.end().catch(() => undefined);
      })();
      return closePromise;
    },
  };
}

/** Opens a client, subscribes it to `options.channel` and wires its notifications and its loss. */
async function connectListening(
  options: ListenerOptions,
  on: { deliver: (payload: string) => void; onLost: (client: pg.Client, err: Error | undefined) => void },
): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.url,
    types: reservdPgTypes,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    application_name: 'reservd-listen',
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  client.on('notification', (msg) => {
    if (msg.channel === options.channel) on.deliver(msg.payload ?? '');
  });
  client.on('error', (err) => on.onLost(client, err));
  client.on('end', () => on.onLost(client, undefined));
  try {
    await client.connect();
    await client.query(`LISTEN ${client.escapeIdentifier(options.channel)}`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/**
 * Connects again, waiting `backoffDelayMs` before each try, until a try succeeds (the reconnect is logged and
 * the client handed to `adopt`) or `signal` aborts (a client connected meanwhile is closed).
 */
async function reconnect(args: {
  channel: string;
  logger: DbLogger;
  clock: Clock;
  signal: AbortSignal;
  connect: () => Promise<pg.Client>;
  adopt: (client: pg.Client) => void;
}): Promise<void> {
  const { channel, logger, clock, signal } = args;
  const lostAtMs = clock.now();
  for (let failures = 0; !signal.aborted; failures += 1) {
    await clock.sleep(backoffDelayMs(failures + 1, BACKOFF), signal);
    if (signal.aborted) return;
    try {
      const client = await args.connect();
      if (signal.aborted) {
        await client.end().catch(() => undefined);
        return;
      }
      const outageMs = clock.now() - lostAtMs;
      logger.info({ channel, failures, outage_ms: outageMs }, `LISTEN ${channel}: reconnected after ${outageMs} ms; asking for a rescan of missed notifications.`);
      args.adopt(client);
      return;
    } catch (err) {
      // Once per outage: a Postgres that stays down must not write a line every few seconds.
      if (failures === 0) logger.warn({ err, channel }, `LISTEN ${channel}: reconnect failed; retrying with backoff up to ${BACKOFF.maxMs} ms apart (further failures are not logged).`);
    }
  }
}
