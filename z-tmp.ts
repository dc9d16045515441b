import { openDatabase } from './src/db/create-database.js';
const logs: string[] = [];
const logger = { info: (o: object, m: string) => logs.push(JSON.stringify({ ...o, m })), warn: (o: any, m: string) => logs.push(m + ' ' + String(o.err?.message) + JSON.stringify(o)), error: (o: object, m: string) => logs.push(m) };
for (const url of ['postgres://alice:S3cretPw@no-such-host.invalid:5432/db', 'postgres://alice:S3cretPw@127.0.0.1:1/db', 'postgres://alice:S3cret Pw@[bad/db', 'postgres://reservd:S3cretPw@127.0.0.1:5432/nodb']) {
  try { await openDatabase({ url, embeddedDataDir: 'x', embeddedPort: 1, poolMax: 2, retryMs: 0 }, logger); } catch (e) { console.log('ERR', (e as Error).message, JSON.stringify(e), (e as any).cause?.message, JSON.stringify((e as any).cause)); }
}
console.log(logs.join('\n'));
