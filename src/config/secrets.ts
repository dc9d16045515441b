import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { z } from 'zod';

/**
 * Secret values in the configuration (docs: README "Secrets"). A config key that holds a secret takes one of
 * - `"literal text"`: the value itself (kept for compatibility; a warning says to move it out of the file);
 * - `{ "fromEnv": "NAME" }`: the value of environment variable `NAME` (must be set and non-empty);
 * - `{ "fromFile": "/etc/reservd/db-password" }`: the file's content, one trailing newline removed (a path
 *   relative to the working directory works too). A file readable by group or others gets a warning.
 *
 * A schema key uses {@link secretSchema}; `parseConfig` resolves every {@link SecretRef} it finds (all
 * problems listed together, each by its key path) and remembers the values, so logs and printed errors can
 * scrub them (`secretValuesOf(config)`, `scrubSecrets`). New secret keys (webhook keys, bot tokens) only
 * need `secretSchema` in the schema.
 */

/** Where a secret comes from, as written in the config. */
export type SecretSource = { value: string } | { fromEnv: string } | { fromFile: string };

/** A parsed, not yet resolved secret reference (the output of {@link secretSchema}). */
export class SecretRef {
  /** @param source - the literal value, or the variable or file to read it from. */
  constructor(readonly source: SecretSource) {}
}

/** A secret config value: a string, `{ "fromEnv": "NAME" }` or `{ "fromFile": "/path" }`. */
export const secretSchema = z
  .union(
    [
      z.string().min(1),
      z.strictObject({ fromEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name such as "RESERVD_DB_PASSWORD"') }),
      z.strictObject({ fromFile: z.string().min(1) }),
    ],
    // The union's message is the list of its shapes (see issues.ts).
    { error: 'a string, { "fromEnv": "VARIABLE_NAME" } or { "fromFile": "/path/to/file" }' },
  )
  .transform((v) => new SecretRef(typeof v === 'string' ? { value: v } : v))
  // Read by scripts/gen-config-docs.ts: documented as "secret" rather than as the union's shapes.
  .meta({ secret: true });

/** `T` with every {@link SecretRef} replaced by its resolved string. */
export type ResolvedSecrets<T> = T extends SecretRef
  ? string
  : T extends readonly (infer U)[]
    ? Array<ResolvedSecrets<U>>
    : T extends object
      ? { [K in keyof T]: ResolvedSecrets<T[K]> }
      : T;

/** What resolving reads; defaults are the process's file system. */
export interface SecretReader {
  /** Environment variables (`fromEnv`). */
  env: Readonly<Record<string, string | undefined>>;
  /** File content as UTF-8 (`fromFile`); default {@link readSecretFile}. */
  readFile?: (path: string) => string;
  /** File permission bits (`stat.mode`); default `statSync`. */
  fileMode?: (path: string) => number;
  /** Receives each warning (a secrets file readable by group or others; a literal secret in the file). */
  onWarning?: (message: string) => void;
}

/** The outcome of {@link resolveSecrets}. */
export interface ResolvedConfigSecrets<T> {
  /** The value with secrets resolved (a copy where something was replaced). */
  value: ResolvedSecrets<T>;
  /** Each secret's config path, value, and whether it was written literally in the config. */
  secrets: Array<{ path: string; value: string; literal: boolean }>;
  /** One line per secret that could not be resolved, `<path>: <problem>`. */
  problems: string[];
}

/** Most bytes a secrets file may hold: one password or token, with room to spare. */
export const MAX_SECRET_FILE_BYTES = 65_536;

/**
 * Reads a secrets file as UTF-8, at most {@link MAX_SECRET_FILE_BYTES}. Not `readFileSync`: a path to a device
 * that never ends (`/dev/zero`, `/dev/urandom`) would be read until the process runs out of memory.
 *
 * @throws Error when the file cannot be read or holds more than {@link MAX_SECRET_FILE_BYTES} bytes.
 */
export function readSecretFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_SECRET_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > MAX_SECRET_FILE_BYTES) throw new Error(`it holds more than ${MAX_SECRET_FILE_BYTES} bytes; a secrets file holds one value`);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function resolveOne(ref: SecretRef, path: string, reader: SecretReader): string | { problem: string } {
  const source = ref.source;
  if ('value' in source) return source.value;
  if ('fromEnv' in source) {
    const value = reader.env[source.fromEnv];
    if (value === undefined || value === '') return { problem: `the environment variable ${source.fromEnv} ("fromEnv") is not set or empty; set it, or give the value another way` };
    return value;
  }
  const file = source.fromFile;
  let text: string;
  try {
    const mode = (reader.fileMode ?? ((p: string) => statSync(p).mode))(file);
    if ((mode & 0o077) !== 0) {
      reader.onWarning?.(`${path}: secret file ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run "chmod 600 ${file}" (and make reservd's user its owner)`);
    }
    text = (reader.readFile ?? readSecretFile)(file);
  } catch (err) {
    return { problem: `cannot read secret file ${file} ("fromFile"): ${(err as Error).message}` };
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') return { problem: `secret file ${file} ("fromFile") is empty` };
  return value;
}

/**
 * Replaces every {@link SecretRef} in `value` (a parsed config or part of it) by its resolved string.
 * Never throws for a missing variable or file: each becomes a line of `problems`, naming the key path.
 */
export function resolveSecrets<T>(value: T, reader: SecretReader, path: readonly string[] = []): ResolvedConfigSecrets<T> {
  const secrets: Array<{ path: string; value: string; literal: boolean }> = [];
  const problems: string[] = [];
  const walk = (node: unknown, at: readonly string[]): unknown => {
    if (node instanceof SecretRef) {
      const resolved = resolveOne(node, at.join('.'), reader);
      if (typeof resolved === 'string') {
        secrets.push({ path: at.join('.'), value: resolved, literal: 'value' in node.source });
        return resolved;
      }
      problems.push(`${at.join('.')}: ${resolved.problem}`);
      return '';
    }
    if (Array.isArray(node)) return node.map((child, i) => walk(child, [...at, String(i)]));
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, child]) => [k, walk(child, [...at, k])]));
    return node;
  };
  return { value: walk(value, path) as ResolvedSecrets<T>, secrets, problems };
}
