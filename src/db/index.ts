export { openDatabase, createKysely, type DatabaseHandle, type KyselyOptions } from './create-database.js';
export { migrateToLatest, migrateAllDown } from './migrate.js';
export { DatabaseStartError, type DatabaseStartErrorCode } from './errors.js';
export type { Listener } from './listen.js';
export type { DbLogger } from './logger.js';
export { reservdPgTypes } from './pg-types.js';
export * from './types.js';
