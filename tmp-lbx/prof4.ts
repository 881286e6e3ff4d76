import { rmSync, mkdirSync } from 'node:fs';
import { generateMasterKey, parseMasterKey } from '../src/crypto/master-key.js';
import { openStoreDatabase } from '../src/store/schema.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { SecretValue } from '../src/secret-value.js';
import { openEnvelope, valueAad, unwrapDataKey, envelopeWrappedKey, dataKeyAad, DataKeyCache } from '../src/crypto/envelope.js';
const dir = '/tmp/lbx/prof4'; rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
const mk = parseMasterKey(generateMasterKey(), 'x');
const opened = openStoreDatabase(dir + '/s.db', mk);
const store = new SqliteStore(opened, mk, 'p', 1024);
const names = Array.from({ length: 1000 }, (_, i) => `app/service-${i}/password`);
for (const name of names) store.set({ name }, new SecretValue('value-' + name));
const sid = store.storeId;
const st = opened.db.prepare(`SELECT version, created_at, expires_at, deleted_at, destroyed_at, tags, key_id, envelope FROM versions WHERE scope = ? AND name = ? AND staged = 0 ORDER BY version DESC LIMIT 1`).raw();
const cache = new DataKeyCache(1024);
for (const n of names) { const r = st.get('', n) as any[]; cache.set((r[7] as Buffer).toString('latin1', 0, 60), unwrapDataKey(mk.key, envelopeWrappedKey(r[7]), dataKeyAad(sid, '', n, 1, mk.keyId))); }
const N = 40000;
const tests: Array<[string, (i: number) => unknown]> = [];
tests.push(['store.get', (i) => store.get({ name: names[i % 1000]! })]);
tests.push(['A stmt', (i) => st.get('', names[i % 1000]!)]);
tests.push(['B stmt+cache', (i) => { const r = st.get('', names[i % 1000]!) as any[]; return cache.get((r[7] as Buffer).toString('latin1', 0, 60)); }]);
tests.push(['C +open', (i) => { const n = names[i % 1000]!; const r = st.get('', n) as any[]; const k = cache.get((r[7] as Buffer).toString('latin1', 0, 60))!; return openEnvelope(k, r[7], valueAad(sid, '', n, 1)); }]);
tests.push(['D +string', (i) => { const n = names[i % 1000]!; const r = st.get('', n) as any[]; const k = cache.get((r[7] as Buffer).toString('latin1', 0, 60))!; const p = openEnvelope(k, r[7], valueAad(sid, '', n, 1)); const s = p.toString('utf8'); p.fill(0); return new SecretValue(s); }]);
const best: Record<string, number> = {};
for (let r = 0; r < 9; r++) for (const [label, fn] of tests) { const s = performance.now(); for (let i = 0; i < N; i++) fn(i); best[label] = Math.min(best[label] ?? 1e9, (performance.now() - s) / N * 1000); }
for (const k in best) console.log(k.padEnd(30), best[k]!.toFixed(2));
