import Database from 'better-sqlite3';
const db = new Database('/tmp/lbx/prof/.lockbox/store.db');
db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL');
const names = Array.from({ length: 1000 }, (_, i) => `app/service-${i}/password`);
const N = 50000;
function t(label: string, st: Database.Statement, args: (n: string) => unknown[]) { let best = 1e9; for (let r = 0; r < 5; r++) { const s = performance.now(); for (let i = 0; i < N; i++) st.get(...args(names[i % 1000]!)); best = Math.min(best, (performance.now() - s) / N * 1000); } console.log(label.padEnd(40), best.toFixed(2), 'us'); }
const C = 'version, created_at, expires_at, deleted_at, tags, key_id, wrapped_key, iv, tag, ciphertext';
t('current order by desc limit', db.prepare(`SELECT ${C} FROM versions WHERE scope = ? AND name = ? AND staged = 0 ORDER BY version DESC LIMIT 1 OFFSET 0`).raw(), (n) => ['', n]);
t('current no offset', db.prepare(`SELECT ${C} FROM versions WHERE scope = ? AND name = ? AND staged = 0 ORDER BY version DESC LIMIT 1`).raw(), (n) => ['', n]);
t('by version=1', db.prepare(`SELECT ${C} FROM versions WHERE scope = ? AND name = ? AND version = 1`).raw(), (n) => ['', n]);
t('by version=1 only version col', db.prepare(`SELECT version FROM versions WHERE scope = ? AND name = ? AND version = 1`).raw(), (n) => ['', n]);
t('by version=1 int cols', db.prepare(`SELECT version, created_at, expires_at, deleted_at FROM versions WHERE scope = ? AND name = ? AND version = 1`).raw(), (n) => ['', n]);
t('by version=1 blobs', db.prepare(`SELECT wrapped_key, iv, tag, ciphertext FROM versions WHERE scope = ? AND name = ? AND version = 1`).raw(), (n) => ['', n]);
t('by version=1 no-raw', db.prepare(`SELECT ${C} FROM versions WHERE scope = ? AND name = ? AND version = 1`), (n) => ['', n]);
t('select 1', db.prepare(`SELECT 1`), () => []);
