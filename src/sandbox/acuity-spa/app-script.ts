import { SOURCE_CALENDAR } from './app/source-calendar.js';
import { SOURCE_CORE } from './app/source-core.js';
import { SOURCE_FORM } from './app/source-form.js';
import { SOURCE_SUBMIT } from './app/source-submit.js';
import type { SpaClassNames } from './app/class-names.js';
import { scriptJson } from './pages.js';
import type { SpaSwitches } from './switches.js';

/** The settings the app carries in its bundle (never in the page's HTML). */
export interface SpaAppSettings {
  unofferedSlotPage: SpaSwitches['unofferedSlotPage'];
}

/**
 * The look-alike's browser app served at `/app.js` (an ES module, vanilla DOM, no build step): the settings
 * and this run's class names, then the app's parts (`app/source-*.ts`).
 */
export function appScript(settings: SpaAppSettings, classNames: SpaClassNames): string {
  return [
    "// reservd's Acuity look-alike: the browser app (renders into #secondo-container).",
    `export const SPA_APP_SETTINGS = ${scriptJson(settings)};`,
    `const C = ${scriptJson(classNames)};`,
    SOURCE_CORE,
    SOURCE_CALENDAR,
    SOURCE_FORM,
    SOURCE_SUBMIT,
  ].join('\n');
}
