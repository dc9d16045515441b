import type { z } from 'zod';

/**
 * Turns zod's issues about a configuration file into lines an operator can act on, one per problem, each
 * `<key path>: <what is wrong>; <what is expected>`:
 * - a missing key says it is required and what shape it takes (`required: an object with keys ...`);
 * - a wrong type says the expected type in words and what was given (`must be a whole number, got 1.5`);
 * - an unknown key is named, with the closest known key when it looks misspelled;
 * - a union (the release rule) reports the one kind its keys pick; keys of two kinds name both and ask for one.
 *
 * zod's `z.prettifyError` prints its generic English ("Invalid input: expected record, received undefined") and
 * knows nothing of a union's kinds, hence this file. The expected shapes are read from the schema itself
 * (walking it along the issue's path), so the text follows the schema.
 */

/** The parts of a zod 4 schema's definition this file reads (zod's own `_zod.def`, loosely typed). */
interface SchemaDef {
  type: string;
  shape?: Record<string, Schema>;
  valueType?: Schema;
  innerType?: Schema;
  in?: Schema;
  options?: readonly Schema[];
  entries?: Record<string, unknown>;
  values?: unknown[];
  checks?: Array<{ _zod: { def: { check?: string; format?: string } } }>;
  /** zod's normalised `error` option: a function of the issue. */
  error?: (issue: { code: string; input: unknown }) => string | { message: string } | undefined;
}
/** A zod schema as this file walks it. */
interface Schema {
  _zod: { def: SchemaDef };
}

/** A zod issue as this file reads it (zod 4's `$ZodIssue`, with the union and record fields). */
type Issue = z.core.$ZodIssue;

const WRAPPERS = new Set(['default', 'optional', 'nullable', 'readonly', 'catch', 'prefault', 'nonoptional']);

function unwrap(schema: Schema | undefined): Schema | undefined {
  let current = schema;
  for (let i = 0; current && i < 10; i += 1) {
    const def = current._zod.def;
    if (WRAPPERS.has(def.type)) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else break;
  }
  return current;
}

/** The schema at `path` under `root` (through objects, records and union options), if the path is known. */
function schemaAt(root: Schema, path: readonly PropertyKey[]): Schema | undefined {
  // `current` keeps its wrappers (`nullable` says null is allowed); each step looks through them.
  let current: Schema | undefined = root;
  for (const key of path) {
    const def: SchemaDef | undefined = unwrap(current)?._zod.def;
    if (!def) return undefined;
    if (def.type === 'object') current = def.shape?.[String(key)];
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'union') current = def.options?.map((o) => unwrap(o)?._zod.def.shape?.[String(key)]).find(Boolean);
    else return undefined;
  }
  return current;
}

/** An object schema's keys: required first (no default, not optional), then optional ones. */
function objectKeys(schema: Schema): { required: string[]; optional: string[] } {
  const shape = schema._zod.def.shape ?? {};
  const required: string[] = [];
  const optional: string[] = [];
  for (const [key, child] of Object.entries(shape)) {
    (WRAPPERS.has(child._zod.def.type) ? optional : required).push(key);
  }
  return { required, optional };
}

const quote = (key: string): string => `"${key}"`;
const quoteAll = (keys: readonly string[]): string => keys.map(quote).join(', ');

/** True when `schema`'s wrappers include `nullable` (null is then a valid value). */
function acceptsNull(schema: Schema | undefined): boolean {
  let current = schema;
  for (let i = 0; current && i < 10; i += 1) {
    const def = current._zod.def;
    if (def.type === 'nullable') return true;
    current = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined;
  }
  return false;
}

/** The value a schema expects, in words (`a whole number`, `an object with keys "a", "b" (optional "c")`, `... or null`). */
function describeSchema(schema: Schema | undefined, depth = 0): string {
  const text = describeUnwrapped(schema, depth);
  return acceptsNull(schema) ? `${text} or null` : text;
}

function describeUnwrapped(schema: Schema | undefined, depth: number): string {
  const def = unwrap(schema)?._zod.def;
  if (!def) return 'a value';
  switch (def.type) {
    case 'string':
      return 'a string';
    case 'number':
      return def.checks?.some((c) => c._zod.def.format === 'safeint') ? 'a whole number' : 'a number';
    case 'boolean':
      return 'true or false';
    case 'object': {
      if (depth > 1) return 'an object';
      const { required, optional } = objectKeys(unwrap(schema) as Schema);
      const opt = optional.length > 0 ? ` (optional ${quoteAll(optional)})` : '';
      return required.length > 0 ? `an object with keys ${quoteAll(required)}${opt}` : `an object${opt}`;
    }
    case 'record':
      return `an object mapping each key to ${describeSchema(def.valueType, depth + 1)}`;
    case 'enum':
      return `one of ${quoteAll(Object.values(def.entries ?? {}).map(String))}`;
    case 'literal':
      return `${(def.values ?? []).map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'union':
      return (def.options ?? []).map((o) => describeSchema(o, depth + 1)).join(' or ');
    default:
      return 'a value';
  }
}

/** A given value, in words, for "got ...": short strings are quoted, others named by type. */
function describeValue(value: unknown, secret: boolean): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return secret || value.length > 60 ? 'a string' : `the string ${JSON.stringify(value)}`;
    case 'number':
      return secret ? 'a number' : `${value}`;
    case 'boolean':
      return `${value}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let current = raw;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Levenshtein distance, for "did you mean" (a 10-line loop; no library for one use). */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The message for an unknown key: the closest known key when it is one or two edits away, else the known keys. */
function unknownKeyMessage(key: string, known: readonly string[]): string {
  const closest = known.map((k) => ({ k, d: editDistance(key, k) })).sort((x, y) => x.d - y.d)[0];
  if (closest && closest.d <= Math.max(1, Math.min(2, Math.floor(closest.k.length / 4)))) return `unknown key "${key}" (did you mean "${closest.k}"?)`;
  return known.length > 0 ? `unknown key "${key}" (known keys: ${quoteAll(known)})` : `unknown key "${key}"`;
}

function allKeysOf(schema: Schema | undefined): string[] {
  const def = unwrap(schema)?._zod.def;
  if (def?.type === 'object') return Object.keys(def.shape ?? {});
  if (def?.type === 'union') return [...new Set((def.options ?? []).flatMap((o) => allKeysOf(o)))];
  return [];
}

/** What {@link formatConfigIssues} needs besides the issues. */
export interface IssueContext {
  /** The schema the issues came from (walked for expected shapes and known keys). */
  schema: z.core.$ZodType;
  /** The raw input (for the given values; zod's `reportInput` would copy them, secrets included, into the error). */
  raw: unknown;
  /** Key paths (`database.url`) whose given values are never quoted in a message. */
  secretPaths?: ReadonlySet<string>;
}

type Line = { path: PropertyKey[]; message: string };

const rootOf = (context: IssueContext): Schema => context.schema as unknown as Schema;

/**
 * One line per problem, `<path>: <message>`, path dot-joined (`(root)` for the file itself).
 *
 * @param issues - zod's issues for `context.raw` parsed with `context.schema`.
 */
export function formatConfigIssues(issues: readonly Issue[], context: IssueContext): string[] {
  return issues.flatMap((issue) => linesFor(issue, [], context)).map(({ path, message }) => `${path.map(String).join('.') || '(root)'}: ${message}`);
}

function linesFor(issue: Issue, base: PropertyKey[], context: IssueContext): Line[] {
  const path = [...base, ...issue.path];
  const schema = schemaAt(rootOf(context), path);
  const given = valueAt(context.raw, path);
  const secret = context.secretPaths?.has(path.map(String).join('.')) ?? false;
  switch (issue.code) {
    case 'invalid_type':
      if (given === undefined) return [{ path, message: `required: ${describeSchema(schema)}` }];
      return [{ path, message: `must be ${issue.expected === 'int' ? 'a whole number' : describeSchema(schema)}, got ${describeValue(given, secret)}` }];
    case 'unrecognized_keys': {
      // zod returns a union option's own result when only that option got past its unknown keys.
      const mixed = unwrap(schema)?._zod.def.type === 'union' ? mixedKindsLine(unwrap(schema) as Schema, path, given) : undefined;
      if (mixed) return [mixed];
      return issue.keys.map((key) => ({ path, message: unknownKeyMessage(key, allKeysOf(schema)) }));
    }
    case 'invalid_union':
      return unionLines(issue, path, given, context);
    case 'invalid_key':
      return [{ path, message: `invalid key: ${issue.issues.map((i) => i.message).join('; ')}` }];
    case 'invalid_value':
      return [{ path, message: `must be ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}, got ${describeValue(given, secret)}` }];
    case 'too_small':
    case 'too_big':
      return [{ path, message: boundMessage(issue, given, secret) }];
    default:
      return [{ path, message: issue.message }];
  }
}

function boundMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, given: unknown, secret: boolean): string {
  const small = issue.code === 'too_small';
  const limit = Number(small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === 'string' && small && limit === 1 && inclusive) return 'must not be empty';
  const what = issue.origin === 'number' ? '' : ` ${issue.origin === 'string' ? 'characters' : 'entries'}`;
  const bound = small ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
  const got = issue.origin === 'number' ? `, got ${describeValue(given, secret)}` : '';
  return `must be ${bound} ${limit}${what}${got}`;
}

/** The union's own message (its `error` in the schema: the list of its shapes), else its options described. */
function unionShapes(union: Schema): string {
  const out = union._zod.def.error?.({ code: 'invalid_union', input: undefined });
  const text = typeof out === 'string' ? out : out?.message;
  return text ?? describeSchema(union);
}

/** For an object given to a union of objects: a line when its keys belong to two or more options. */
function mixedKindsLine(union: Schema, path: PropertyKey[], given: unknown): Line | undefined {
  if (given === null || typeof given !== 'object') return undefined;
  const keys = Object.keys(given);
  const used = (union._zod.def.options ?? []).map((o) => allKeysOf(o).filter((k) => keys.includes(k))).filter((k) => k.length > 0);
  if (used.length < 2) return undefined;
  return { path, message: `mixes ${used.length} kinds (${used.map(quoteAll).join(' and ')}); choose one: expected ${unionShapes(union)}` };
}

/**
 * A union that no option accepted: the options whose keys the given object uses decide. One option → its own
 * problems; two or more → the keys of each, "choose one"; none → the unknown keys. `issue.message` is the
 * union's own list of shapes (its `error` in the schema).
 */
function unionLines(issue: z.core.$ZodIssueInvalidUnion, path: PropertyKey[], given: unknown, context: IssueContext): Line[] {
  const shapes = issue.message;
  if (given === undefined) return [{ path, message: `required: ${shapes}` }];
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    // A primitive: an option of its type (a string option given "") reports its own problem.
    const typed = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
    if (typed.length === 1) return typed[0]!.flatMap((i) => linesFor(i, path, context));
    return [{ path, message: `must be ${shapes}, got ${describeValue(given, context.secretPaths?.has(path.map(String).join('.')) ?? false)}` }];
  }
  const keys = Object.keys(given);
  const branches = issue.errors.map((branchIssues) => {
    const unknown = new Set(branchIssues.flatMap((i) => (i.code === 'unrecognized_keys' && i.path.length === 0 ? i.keys : [])));
    return { issues: branchIssues, used: keys.filter((k) => !unknown.has(k)) };
  });
  const matching = branches.filter((b) => b.used.length > 0 && !b.issues.some((i) => i.code === 'invalid_type' && i.path.length === 0));
  if (matching.length === 1) {
    return matching[0]!.issues
      .flatMap((i) => linesFor(i, path, context))
      .map((line) => (line.message.startsWith('required:') ? { ...line, message: `${line.message} (expected ${shapes})` } : line));
  }
  const union = unwrap(schemaAt(rootOf(context), path));
  const mixed = matching.length > 1 && union ? mixedKindsLine(union, path, given) : undefined;
  if (mixed) return [mixed];
  if (keys.length === 0) return [{ path, message: `is empty; expected ${shapes}` }];
  const known = allKeysOf(schemaAt(rootOf(context), path));
  return keys.map((key) => ({ path, message: `${unknownKeyMessage(key, known)}; expected ${shapes}` }));
}
