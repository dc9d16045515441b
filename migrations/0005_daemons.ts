import { sql, type Kysely } from 'kysely';

/*
 * The table `daemons`: every running `reservd run` records itself (its lease owner id, host, pid, the venue ids
 * it serves, its lease length), refreshes `seen_at` on a steady beat and sets `stopped_at` on a clean stop. A
 * daemon is live while `stopped_at IS NULL` and `seen_at` is within two of its own leases (`lease_ms`), so
 * several daemons with different venue lists share one database: a row whose venue this daemon does not serve
 * is left to a live daemon that does. Rows are kept after a stop (history for operators) and pruned a day
 * later. Frozen in time: imports only `kysely`.
 */

/** Creates `daemons`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE daemons (
      id text PRIMARY KEY,
      host text NOT NULL,
      pid integer NOT NULL,
      venues text[] NOT NULL,
      lease_ms integer NOT NULL,
      started_at timestamptz NOT NULL,
      seen_at timestamptz NOT NULL,
      stopped_at timestamptz,
      CONSTRAINT daemons_lease_positive CHECK (lease_ms > 0),
      CONSTRAINT daemons_venues_no_nulls CHECK (array_position(venues, NULL) IS NULL)
    )
  `.execute(db);
}

/** Drops `daemons`. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS daemons`.execute(db);
}
