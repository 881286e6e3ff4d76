import Database from 'better-sqlite3';
const db = new Database('/tmp/lbx/prof/.lockbox/store.db');
db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL');
const names = Array.from({ length: 1000 }, (_, i) => `app/service-${i}/password`);
const N = 40000;
const tests: Array<[string, Database.Statement, (n: string) => unknown[]]> = [];
const t = (label: string, st: Database.Statement, args: (n: string) => unknown[]) => tests.push([label, st, args]);
const C = 'version, created_at, expires_at, deleted_at, destroyed_at, tags, key_id, envelope';
t('current', db.prepare(`SELECT ${C} FROM versions WHERE scope = ? AND name = ? AND staged = 0 ORDER BY version DESC LIMIT 1`).raw(), (n) => ['', n]);
t('v=1', db.prepare(`SELECT ${C} FROM versions WHERE scope = ? AND name = ? AND version = 1`).raw(), (n) => ['', n]);
t('v=1 version only', db.prepare(`SELECT version FROM versions WHERE scope = ? AND name = ? AND version = 1`).raw(), (n) => ['', n]);
t('meta', db.prepare(`SELECT value FROM meta WHERE key = 'store_id'`).raw(), () => []);
const best: Record<string, number> = {};
for (let r = 0; r < 7; r++) for (const [label, st, args] of tests) { const s = performance.now(); for (let i = 0; i < N; i++) st.get(...args(names[i % 1000]!)); best[label] = Math.min(best[label] ?? 1e9, (performance.now() - s) / N * 1000); }
for (const k in best) console.log(k.padEnd(30), best[k]!.toFixed(2));
console.log(db.prepare('select count(*) n, sum(length(envelope)) from versions').get(), db.pragma('page_size'), db.pragma('page_count'));
console.log(require('fs').statSync('/tmp/lbx/prof/.lockbox/store.db-wal').size);
