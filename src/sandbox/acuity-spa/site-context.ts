import type { Clock } from '../../clock.js';
import type { SandboxLogger } from '../sandbox-logger.js';
import type { SpaClassNames } from './app/class-names.js';
import type { SpaState } from './state.js';
import type { SpaVenueCatalog } from './venue-catalog.js';

/** What every route group of one look-alike site reads. */
export interface SpaSiteContext {
  clock: Clock;
  logger: SandboxLogger;
  state: SpaState;
  catalog: SpaVenueCatalog;
  /** Origin of `confirmationPage` links, without a trailing slash. */
  confirmationOrigin: string;
  /** The current run's signal, aborted by `stop()`: every wait inside an answer ends with it. */
  stopSignal(): AbortSignal;
  /** The app's generated class names of the current run (drawn again at each start). */
  appClassNames(): SpaClassNames;
}
