export { openDatabase, createKysely, DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_RETRY_MS, type DatabaseHandle, type KyselyOptions } from './create-database.js';
export { migrateToLatest, migrateAllDown } from './migrate.js';
export { DatabaseStartError, type DatabaseStartErrorCode, DatabaseConnectionError, type DatabaseConnectionErrorCode, isTransientDbError } from './errors.js';
export { retryTransient, backoffDelayMs, type RetryTransientOptions } from './retry.js';
export type { Listener } from './listen.js';
export type { DbLogger } from './logger.js';
export { reservdPgTypes } from './pg-types.js';
export * from './types.js';
