/**
 * The local encrypted store, UNCACHED (the provider called directly, no manager cache), vs raw
 * better-sqlite3 on a plain key/value table of the same size with the same pragmas
 * (journal_mode=WAL, synchronous=FULL), both in one temp dir on the same disk.
 * - read: `provider.get({ name })` over 1,000 distinct secrets in random order vs a prepared
 *   `SELECT value FROM kv WHERE name = ?`. Target: ours ≥ 60% of the raw read rate.
 * - write: `provider.set` of a new secret vs a single-row INSERT, each its own transaction
 *   (fsync-bound: 200 writes per sample, 11 samples, interleaved). Target: ours ≥ 60% of the raw insert rate.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { create, generateMasterKey, initLocalStore } from '../src/providers/local.js';
import { SecretValue } from '../src/secret-value.js';
import { formatRate, formatRatio, interleave, medianOf, opsPerSecond, printTable } from './lib/stats.js';

const SECRETS = 1_000;
const READ_PASSES_PER_SAMPLE = 5;
const WRITES_PER_SAMPLE = 200;
const WRITE_ROUNDS = 11;

const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-store-'));
try {
  const names = Array.from({ length: SECRETS }, (_, i) => `app/service-${i % 10}/secret-${i}`);
  const valueOf = (i: number): string => `canary-${i}-${randomBytes(12).toString('hex')}`;

  // Ours: a fresh store, key from the (injected) environment, no manager and no cache around it.
  const masterKey = generateMasterKey();
  const storePath = join(dir, 'store.db');
  initLocalStore({ path: storePath, masterKey });
  const provider = create('local', { path: storePath }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: masterKey } });
  // For information: the same store with the data-key cache off (two AES-GCM opens per read).
  const noKeyCache = create('local', { path: storePath, data_key_cache_size: 0 }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: masterKey } });

  // Raw: the same number of rows, same pragmas, same disk.
  const raw = new Database(join(dir, 'raw.db'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.exec('CREATE TABLE kv (name TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const rawInsert = raw.prepare('INSERT INTO kv (name, value) VALUES (?, ?)');
  const rawRead = raw.prepare('SELECT value FROM kv WHERE name = ?').pluck();

  // Seeding (untimed) gives both files the same history: one committed transaction per row, so
  // their WAL files hold the same number of frames when the reads start.
  for (let i = 0; i < names.length; i++) {
    await provider.set({ name: names[i]! }, new SecretValue(valueOf(i)));
    rawInsert.run(names[i]!, valueOf(i));
  }

  let sink = 0;
  // Each read sample walks its own fresh random permutation of the names (shuffled untimed).
  const reads = await interleave([
    {
      name: 'ours',
      sample: async () => {
        const order = shuffled(names);
        const started = performance.now();
        for (let pass = 0; pass < READ_PASSES_PER_SAMPLE; pass++) {
          for (const name of order) if (await provider.get({ name })) sink++;
        }
        return ((performance.now() - started) * 1e6) / (READ_PASSES_PER_SAMPLE * order.length);
      },
    },
    {
      name: 'ours, no data-key cache',
      sample: async () => {
        const order = shuffled(names);
        const started = performance.now();
        for (let pass = 0; pass < READ_PASSES_PER_SAMPLE; pass++) {
          for (const name of order) if (await noKeyCache.get({ name })) sink++;
        }
        return ((performance.now() - started) * 1e6) / (READ_PASSES_PER_SAMPLE * order.length);
      },
    },
    {
      name: 'raw',
      sample: async () => {
        const order = shuffled(names);
        const started = performance.now();
        for (let pass = 0; pass < READ_PASSES_PER_SAMPLE; pass++) {
          // Awaited too, so that both sides pay one microtask per read.
          for (const name of order) if (await rawRead.get(name)) sink++;
        }
        return ((performance.now() - started) * 1e6) / (READ_PASSES_PER_SAMPLE * order.length);
      },
    },
  ], { rounds: 7, warmup: 2 });
  if (sink !== 9 * 3 * READ_PASSES_PER_SAMPLE * SECRETS) throw new Error('a read found nothing');

  let written = 0;
  const writes = await interleave([
    {
      name: 'ours',
      sample: async () => {
        const batch = written++;
        const started = performance.now();
        for (let i = 0; i < WRITES_PER_SAMPLE; i++) {
          await provider.set({ name: `bench/write-${batch}/key-${i}` }, new SecretValue(`canary-write-${i}-0123456789abcdef`));
        }
        return ((performance.now() - started) * 1e6) / WRITES_PER_SAMPLE;
      },
    },
    {
      name: 'raw',
      sample: async () => {
        const batch = written++;
        const started = performance.now();
        for (let i = 0; i < WRITES_PER_SAMPLE; i++) await rawInsert.run(`bench/write-${batch}/key-${i}`, `canary-write-${i}-0123456789abcdef`);
        return ((performance.now() - started) * 1e6) / WRITES_PER_SAMPLE;
      },
    },
  ], { rounds: WRITE_ROUNDS, warmup: 1 });

  const readOurs = opsPerSecond(medianOf(reads, 'ours'));
  const readNoKeyCache = opsPerSecond(medianOf(reads, 'ours, no data-key cache'));
  const readRaw = opsPerSecond(medianOf(reads, 'raw'));
  const writeOurs = opsPerSecond(medianOf(writes, 'ours'));
  const writeRaw = opsPerSecond(medianOf(writes, 'raw'));
  printTable(`local store (uncached) vs raw better-sqlite3 — WAL, synchronous=FULL, ${SECRETS.toLocaleString('en')} rows`, [
    {
      figure: `read, ${SECRETS.toLocaleString('en')} secrets in random order (median of 7)`,
      ours: formatRate(readOurs), peer: formatRate(readRaw), ratio: formatRatio(readOurs / readRaw),
      target: '≥ 0.60×', pass: readOurs >= 0.6 * readRaw,
    },
    {
      figure: 'read, data-key cache off (data_key_cache_size: 0)',
      ours: formatRate(readNoKeyCache), peer: formatRate(readRaw), ratio: formatRatio(readNoKeyCache / readRaw),
      target: '(information)', pass: null,
    },
    {
      figure: `write, ${WRITES_PER_SAMPLE} single-row transactions (median of ${WRITE_ROUNDS})`,
      ours: formatRate(writeOurs), peer: formatRate(writeRaw), ratio: formatRatio(writeOurs / writeRaw),
      target: '≥ 0.60×', pass: writeOurs >= 0.6 * writeRaw,
    },
  ]);
  await provider.dispose();
  await noKeyCache.dispose();
  raw.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** A new random permutation (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
