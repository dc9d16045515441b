import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOCS_PATH, renderConfigDocs } from '../scripts/gen-config-docs.js';
import { configSchema } from '../src/config/schema.js';

describe('docs/config.md', () => {
  it('is what scripts/gen-config-docs.ts writes from the current schema (run `npm run docs:config`)', () => {
    expect(readFileSync(CONFIG_DOCS_PATH, 'utf8')).toBe(renderConfigDocs());
  });

  it('documents every key with a description, and known rows exactly', () => {
    const text = renderConfigDocs();
    const rows = text.split('\n').filter((line) => line.startsWith('| `'));
    for (const row of rows) expect(row, row).not.toMatch(/\| {2}\|$/);
    expect(rows).toContain('| `daemon.leaseMs` | integer | ms | `30000` | How long a claim lease lasts without a heartbeat (sent every leaseMs / 3), ms; default 30 s. |');
    expect(rows).toContain('| `venues.<venue>.site.requestBudget.perS` | integer | s | `60` | The window of requests, s (1 to 3600). |');
    expect(rows.find((r) => r.startsWith('| `database.url` '))).toMatch(/^\| `database.url` \| secret \\\| null \| {2}\| `null` \|/);
    expect(rows.find((r) => r.startsWith('| `venues.<venue>.site.baseUrl` '))).toContain('| required |');
    expect(rows.find((r) => r.startsWith('| `venues.<venue>.site.businessId` '))).toContain('| optional |');
    // Every key of every section appears.
    for (const [section, schema] of Object.entries(configSchema.shape)) {
      if (section === 'venues') continue;
      const keys = Object.keys((schema as unknown as { unwrap(): { shape: Record<string, unknown> } }).unwrap().shape);
      for (const key of keys) expect(rows.some((r) => r.startsWith(`| \`${section}.${key}\` `)), `${section}.${key}`).toBe(true);
    }
  });
});

describe('config/reservd.json', () => {
  it('agrees with the documented defaults for every key it sets outside venues', () => {
    const shipped = JSON.parse(readFileSync(new URL('../config/reservd.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
    const defaults = configSchema.parse({ venues: {} }) as unknown as Record<string, Record<string, unknown>>;
    const checked: string[] = [];
    for (const [section, values] of Object.entries(shipped)) {
      if (section === 'venues') continue;
      for (const [key, value] of Object.entries(values)) {
        expect(value, `${section}.${key}`).toEqual(defaults[section]?.[key]);
        checked.push(`${section}.${key}`);
      }
    }
    expect(checked).toContain('daemon.leaseMs');
  });
});
