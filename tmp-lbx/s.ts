import { create, generateMasterKey } from '../src/providers/local.js';
import { SecretValue } from '../src/secret-value.js';
import Database from 'better-sqlite3';
import { rmSync, statSync } from 'node:fs';
rmSync('/tmp/lbx/smoke/.lockbox', { recursive: true, force: true });
const key = generateMasterKey();
const p = create('local', {}, { baseDir: '/tmp/lbx/smoke', env: { LOCKBOX_MASTER_KEY: key } });
console.log(await p.set({ name: 'a/b' }, new SecretValue('canary-1')));
await p.set({ name: 'a/b' }, new SecretValue('canary-2'), { tags: { t: 'x' } });
await p.set({ name: 'a/b' }, new SecretValue('canary-3'), { pending: true });
console.log((await p.get({ name: 'a/b' }))?.metadata, (await p.get({ name: 'a/b', version: '1' }))?.value.reveal());
console.log(await p.versions({ name: 'a/b' }), await p.list());
for (const s of ['', '-wal', '-shm']) console.log(s, (statSync('/tmp/lbx/smoke/.lockbox/store.db' + s).mode & 0o777).toString(8));
const db = new Database('/tmp/lbx/smoke/.lockbox/store.db');
for (const q of [
  "SELECT * FROM versions WHERE scope = ? AND name = ? AND staged = 0 ORDER BY version DESC LIMIT 1 OFFSET 0",
  "SELECT max(version), max(deleted_at) FROM versions WHERE scope = ? AND name = ?",
  "SELECT 1 FROM versions WHERE expires_at <= ? AND ciphertext IS NOT NULL LIMIT 1",
  "SELECT name, max(version), created_at FROM versions WHERE scope = ? AND staged = 0 AND substr(name, 1, ?) = ? GROUP BY name ORDER BY name",
]) console.log(db.prepare('EXPLAIN QUERY PLAN ' + q).all(...(q.includes('substr') ? ['', 0, ''] : q.includes('expires_at <=') ? [1] : ['', 'x'])).map((r: any) => r.detail));
await p.dispose();
