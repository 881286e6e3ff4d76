/**
 * The local store against raw better-sqlite3 with the same pragmas (WAL, synchronous=FULL):
 *  - read: `await provider.get({ name })` (no value cache; data keys cached) vs a prepared
 *    `SELECT value FROM kv WHERE name = ?` point read of a 60-byte blob;
 *  - write: `await provider.set(...)` (new encrypted version, one transaction) vs a single-row
 *    `INSERT` in autocommit (one fsync each).
 * Rounds are interleaved; medians are printed. Run: node --import tsx bench/local-store.bench.ts
 * Env: BENCH_ROUNDS (default 5), BENCH_READS (20000), BENCH_WRITES (500), BENCH_DIR (os.tmpdir()).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { create, generateMasterKey, type LocalProvider } from '../src/providers/local.js';
import { SecretValue } from '../src/secret-value.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const READS = Number(process.env.BENCH_READS ?? 20_000);
const WRITES = Number(process.env.BENCH_WRITES ?? 500);
const SECRETS = 1000;

const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'lockbox-bench-'));
const names = Array.from({ length: SECRETS }, (_, i) => `app/service-${i}/password`);
const env = { LOCKBOX_MASTER_KEY: generateMasterKey() };

async function main(): Promise<void> {
  const ours = create('bench', { path: join(dir, 'store.db') }, { baseDir: dir, env });
  const uncachedKeys = create('bench-nokeycache', { path: join(dir, 'store.db'), data_key_cache_size: 0 }, { baseDir: dir, env });
  for (const name of names) await ours.set({ name }, new SecretValue(`value-of-${name}-${randomBytes(8).toString('hex')}`));
  const raw = openRaw(join(dir, 'raw.db'));

  const samples: Record<string, number[]> = {};
  const record = (label: string, opsPerSecond: number) => (samples[label] ??= []).push(opsPerSecond);
  await timeReads(ours); // warm-up: JIT and the data-key cache
  timeRawReads(raw);
  for (let round = 0; round < ROUNDS; round++) {
    record('get: local (data-key cache)', await timeReads(ours));
    record('get: raw better-sqlite3 point read', timeRawReads(raw));
    record('get: local (no data-key cache)', await timeReads(uncachedKeys));
    if (round % 2 === 0) record('set: raw single-row insert', timeRawWrites(raw, round));
    record('set: local', await timeWrites(ours, round));
    if (round % 2 === 1) record('set: raw single-row insert', timeRawWrites(raw, round));
  }
  await ours.dispose();
  await uncachedKeys.dispose();
  raw.close();

  const median = (label: string) => {
    const sorted = [...(samples[label] ?? [])].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  };
  console.log(`local store vs raw better-sqlite3 — medians of ${ROUNDS} rounds (${READS} reads, ${WRITES} writes each), dir ${dir}`);
  for (const label of Object.keys(samples)) console.log(`  ${label.padEnd(40)} ${Math.round(median(label)).toLocaleString('en-US').padStart(10)} ops/s`);
  const ratio = (a: string, b: string) => `${((median(a) / median(b)) * 100).toFixed(0)}%`;
  console.log(`  get ratio (local / raw): ${ratio('get: local (data-key cache)', 'get: raw better-sqlite3 point read')} (target >= 60%)`);
  console.log(`  set ratio (local / raw): ${ratio('set: local', 'set: raw single-row insert')} (target >= 60%)`);
}

function openRaw(path: string) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE kv (name TEXT PRIMARY KEY, value BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO kv (name, value) VALUES (?, ?)');
  db.transaction(() => { for (const name of names) insert.run(name, randomBytes(60)); })();
  return { db, read: db.prepare('SELECT value FROM kv WHERE name = ?'), insert, close: () => db.close() };
}

async function timeReads(provider: LocalProvider): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < READS; i++) {
    const record = await provider.get({ name: names[i % SECRETS] as string });
    if (record === null) throw new Error('bench: missing secret');
  }
  return READS / ((performance.now() - started) / 1000);
}

function timeRawReads(raw: ReturnType<typeof openRaw>): number {
  const started = performance.now();
  for (let i = 0; i < READS; i++) {
    if (raw.read.get(names[i % SECRETS]) === undefined) throw new Error('bench: missing row');
  }
  return READS / ((performance.now() - started) / 1000);
}

async function timeWrites(provider: LocalProvider, round: number): Promise<number> {
  const value = new SecretValue(`rotated-${round}-${randomBytes(8).toString('hex')}`);
  const started = performance.now();
  for (let i = 0; i < WRITES; i++) await provider.set({ name: names[i % SECRETS] as string }, value);
  return WRITES / ((performance.now() - started) / 1000);
}

function timeRawWrites(raw: ReturnType<typeof openRaw>, round: number): number {
  const value = randomBytes(60);
  const started = performance.now();
  for (let i = 0; i < WRITES; i++) raw.insert.run(`written/${round}/${i}`, value);
  return WRITES / ((performance.now() - started) / 1000);
}

main().finally(() => rmSync(dir, { recursive: true, force: true })).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
