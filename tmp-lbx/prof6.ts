import Database from 'better-sqlite3';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
const f = '/tmp/lbx/p6.db'; for (const s of ['', '-wal', '-shm']) rmSync(f + s, { force: true });
const db = new Database(f); db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL');
db.exec('CREATE TABLE t (name TEXT PRIMARY KEY, env BLOB) WITHOUT ROWID');
const key = randomBytes(32);
const aad = Buffer.from('lockbox:v1:value\0store\0\0app/x\0' + 1);
const names = Array.from({ length: 1000 }, (_, i) => `app/service-${i}/password`);
const ins = db.prepare('INSERT INTO t VALUES (?, ?)');
const envs: Buffer[] = [];
for (const n of names) { const iv = randomBytes(12); const c = createCipheriv('aes-256-gcm', key, iv); c.setAAD(aad); const ct = c.update('value-' + n); c.final(); const e = Buffer.concat([randomBytes(60), iv, c.getAuthTag(), ct]); envs.push(e); ins.run(n, e); }
const st = db.prepare('SELECT env FROM t WHERE name = ?').pluck();
function open(e: Buffer) { const d = createDecipheriv('aes-256-gcm', key, e.subarray(60, 72), { authTagLength: 16 }); d.setAAD(aad); d.setAuthTag(e.subarray(72, 88)); const p = d.update(e.subarray(88)); d.final(); return p; }
const N = 40000;
const tests: Array<[string, (i: number) => unknown]> = [];
tests.push(['stmt', (i) => st.get(names[i % 1000])]);
tests.push(['open js env', (i) => open(envs[i % 1000]!)]);
tests.push(['stmt + open', (i) => open(st.get(names[i % 1000]) as Buffer)]);
tests.push(['stmt + open(copy)', (i) => open(Buffer.from(st.get(names[i % 1000]) as Buffer))]);
tests.push(['stmt, open js env', (i) => { st.get(names[i % 1000]); return open(envs[i % 1000]!); }]);
const best: Record<string, number> = {};
for (let r = 0; r < 9; r++) for (const [label, fn] of tests) { const s = performance.now(); for (let i = 0; i < N; i++) fn(i); best[label] = Math.min(best[label] ?? 1e9, (performance.now() - s) / N * 1000); }
for (const k in best) console.log(k.padEnd(30), best[k]!.toFixed(2));
