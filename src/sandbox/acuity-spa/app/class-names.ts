import { randomBytes } from 'node:crypto';

/**
 * The app's generated class names. As on the real page, every class other than the stable hooks
 * (`time-selection`, `btn`) is a hash-like `css-<random>` that changes between runs: a new set is drawn at
 * each site start, so a flow that keys on them breaks in tests instead of on the real site.
 */

/** Every styled part of the app, by role. */
export const SPA_CLASS_ROLES = [
  'app', 'header', 'rules', 'nav', 'step', 'zone', 'days', 'dayLabel', 'times', 'time', 'more', 'empty',
  'summary', 'form', 'field', 'label', 'input', 'phone', 'chips', 'chip', 'chipRemove', 'fieldError',
  'submit', 'alert', 'confirm', 'card', 'links', 'courts',
] as const;

/** A role of {@link SPA_CLASS_ROLES}. */
export type SpaClassRole = (typeof SPA_CLASS_ROLES)[number];

/** One generated class name per role, all distinct. */
export type SpaClassNames = Record<SpaClassRole, string>;

/** Draws a fresh set of distinct `css-<7 base-36 chars>` class names. */
export function randomClassNames(): SpaClassNames {
  const used = new Set<string>();
  const names = {} as SpaClassNames;
  for (const role of SPA_CLASS_ROLES) {
    let name: string;
    do name = `css-${randomBytes(6).readUIntBE(0, 6).toString(36).padStart(7, '0').slice(-7)}`;
    while (used.has(name));
    used.add(name);
    names[role] = name;
  }
  return names;
}
