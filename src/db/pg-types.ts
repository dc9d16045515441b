import pg from 'pg';

/** PostgreSQL type OID of `date` (pg_type.oid). */
const DATE_OID = 1082;

/**
 * The value parsers every reservd pg connection uses, passed per pool/client (`types` option) instead of
 * mutating pg's process-wide registry, so no other pg user in the process is affected.
 *
 * - `date` (OID 1082) stays the `YYYY-MM-DD` text Postgres sent. pg's default turns it into a `Date` at local
 *   midnight of the HOST's zone, which shifts the calendar day under some `TZ` values (case C08 in
 *   docs/release-rules.md).
 * - `int8`/`bigint` (OID 20, e.g. `bigserial` ids, `count(*)`) stay strings as pg returns them; a global
 *   `Number` parser would silently lose precision above 2^53. Repositories convert ids with `Number()` because
 *   reservd's ids stay far below 2^53.
 * - `timestamptz` keeps pg's default parser: the text carries its offset, so the `Date` is exact in any host zone.
 */
export const reservdPgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === DATE_OID && format !== 'binary') return (value: string) => value;
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};
