/**
 * Generates docs/config.md from the zod config schema (src/config/schema.ts): every key with its type, unit,
 * default and `.describe()` text. `npm run docs:config` writes the file; test/config-docs.test.ts fails when
 * the file is not what this script would write.
 *
 * The key list comes from `z.toJSONSchema` in `input` mode (what an operator writes); defaults of transformed
 * fields are missing there, so they are taken from the `output` schema at the same path.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.js';

/** The subset of JSON Schema that `z.toJSONSchema` emits for the config. */
interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  required?: string[];
  secret?: boolean;
}

/** One row of the table: a key path such as `venues.<venue>.site.baseUrl`. */
interface Row {
  path: string;
  type: string;
  unit: string;
  defaultText: string;
  description: string;
}

/** The unit a key's name gives it (STYLE: durations end in `Ms` or `S`). */
function unitOf(key: string): string {
  if (key.endsWith('Ms')) return 'ms';
  if (/[a-z]S$/.test(key)) return 's';
  return '';
}

/** A short type name for a schema (`integer`, `"on-time" \| "polling-baseline"`, `string \| null`, ...). */
function typeOf(schema: JsonSchema): string {
  if (schema.secret) return 'secret';
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' \\| ');
  if (Array.isArray(schema.type)) return schema.type.join(' \\| ');
  if (schema.type === 'array') return `array of ${schema.items ? typeOf(schema.items) : 'any'}`;
  if (schema.type === 'object' && !schema.properties && typeof schema.additionalProperties === 'object') return 'map';
  return schema.type ?? 'any';
}

/** The object variants of a schema (itself, or the object members of a union or nullable). */
function objectsOf(schema: JsonSchema): JsonSchema[] {
  if (schema.properties || typeof schema.additionalProperties === 'object') return [schema];
  return (schema.anyOf ?? schema.oneOf ?? []).filter((s) => s.type === 'object' && !s.secret);
}

/** A placeholder for a record's key: `<venue>` for `venues`, `<court>` for `courts`. */
const placeholderOf = (key: string): string => `<${key.replace(/s$/, '')}>`;

function walk(input: JsonSchema, output: JsonSchema | undefined, path: string, key: string, rows: Row[], required = true, parentDefault?: unknown): void {
  // A key without its own default takes its part of the enclosing object's default (`requestBudget.perS`).
  const fromParent = typeof parentDefault === 'object' && parentDefault !== null ? (parentDefault as Record<string, unknown>)[key] : undefined;
  const defaultValue = input.default ?? output?.default ?? fromParent;
  const noDefault = required ? 'required' : 'optional';
  const isSection = input.type === 'object' && input.properties !== undefined;
  if (path !== '' && !isSection) {
    rows.push({
      path,
      type: typeOf(input),
      unit: unitOf(key),
      defaultText: defaultValue === undefined ? noDefault : `\`${JSON.stringify(defaultValue)}\``,
      description: (input.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' '),
    });
  } else if (path !== '') {
    rows.push({ path, type: 'object', unit: '', defaultText: defaultValue === undefined ? noDefault : 'see keys', description: (input.description ?? '').replace(/\|/g, '\\|') });
  }
  if (input.secret || typeOf(input).includes('\\|')) return;
  for (const object of objectsOf(input)) {
    for (const [name, child] of Object.entries(object.properties ?? {})) {
      walk(child, output?.properties?.[name], path ? `${path}.${name}` : name, name, rows, object.required?.includes(name) ?? false, defaultValue);
    }
    if (typeof object.additionalProperties === 'object') {
      const out = typeof output?.additionalProperties === 'object' ? output.additionalProperties : undefined;
      walk(object.additionalProperties, out, `${path}.${placeholderOf(key)}`, placeholderOf(key), rows);
    }
  }
}

/** The whole text of docs/config.md, from the current schema. */
export function renderConfigDocs(): string {
  const input = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const output = z.toJSONSchema(configSchema, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  const rows: Row[] = [];
  walk(input, output, '', '', rows);
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated by scripts/gen-config-docs.ts from src/config/schema.ts; run `npm run docs:config`. Do not edit. -->',
    '',
    'reservd reads one JSON file (`--config`, default `config/reservd.json`; `RESERVD_CONFIG` overrides the default).',
    'Environment variables override some keys: `DATABASE_URL` → `database.url`, `RESERVD_BROWSER` →',
    '`daemon.browserExecutable`, `RESERVD_LOG_LEVEL` → `log.level`. A `secret` is a string, `{ "fromEnv": "NAME" }`',
    'or `{ "fromFile": "/path" }`. `<venue>` and `<court>` stand for a map\'s keys. Keys marked "required" have no default; "optional" ones may be left out. `releaseRule` takes one of its three shapes.',
    '',
    '| Key | Type | Unit | Default | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r.path}\` | ${r.type} | ${r.unit} | ${r.defaultText} | ${r.description} |`),
    '',
  ];
  return lines.join('\n');
}

/** Where the generated file lives. */
export const CONFIG_DOCS_PATH = fileURLToPath(new URL('../docs/config.md', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CONFIG_DOCS_PATH, renderConfigDocs());
  process.stdout.write(`wrote ${CONFIG_DOCS_PATH}\n`);
}
