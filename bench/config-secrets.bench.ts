/**
 * Config secrets through the local store, on a real disk (os.tmpdir(); both SQLite files WAL +
 * synchronous=FULL, so every commit is an fsync): `configs.create` (validate, split, write 20
 * secret fields to the store, reserve coordinates, commit references and the document — a create
 * resolves only once all of that is durable) and `configs.hydrate` (read the partial config and
 * its 20 secrets from the store; the manager's value cache is OFF, so every secret is read and
 * decrypted). Target: ≥ 1,000 configs/s each.
 *
 * Measured, interleaved in the same run:
 * - sequential: one call at a time (the caller awaits each) — the latency-bound rate of a script;
 * - concurrent: 32 calls in flight — a server handling many requests; concurrent creates share
 *   group commits and go through the three-stage pipeline of create-batch.ts;
 * - concurrent creates with the local provider's default `write_thread: auto` (a store batch of
 *   64 secrets or more — here 16 configs × 20 fields — is sealed and written on a worker thread,
 *   on the second core, while the main thread claims and commits metadata) and with
 *   `write_thread: main` (every write on the main thread). Sequential creates write 20 secrets at
 *   a time: on the main thread in both settings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfigSecrets, createConfigSecretsDatabase } from '../src/config-secrets/index.js';
import { SecretManager } from '../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey } from '../src/providers/local.js';
import { formatRate, formatRatio, interleave, medianOf, printTable } from './lib/stats.js';

const FIELDS = 20;
const IN_FLIGHT = 32;
const SEQUENTIAL_PER_SAMPLE = 100;
const CONCURRENT_PER_SAMPLE = 320;
const ROUNDS = 7;
const TARGET = 1000;

const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-cfg-'));
const key = generateMasterKey();
const local = (writeThread: 'auto' | 'main' = 'auto') =>
  createLocal('local', { path: join(dir, 'store.db'), write_thread: writeThread }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
const db = createConfigSecretsDatabase(join(dir, 'configs.db'));
const writers = { main: new SecretManager({ providers: [local('main')] }), auto: new SecretManager({ providers: [local('auto')] }) };
const reader = new SecretManager({ providers: [local()], cache: false });
const writeSides = { main: createConfigSecrets({ manager: writers.main, db }), auto: createConfigSecrets({ manager: writers.auto, db }) };
const readSide = createConfigSecrets({ manager: reader, db });

// Counts the store transactions of the write side (one per setMany), to show how creates were grouped.
const storeWrites = { calls: 0, secrets: 0 };
for (const writer of Object.values(writers)) {
  const setMany = writer.setMany.bind(writer);
  writer.setMany = (entries, target) => {
    storeWrites.calls++;
    storeWrites.secrets += entries.length;
    return setMany(entries, target);
  };
}

const spec = {
  type: 'object',
  required: ['host'],
  properties: {
    host: { type: 'string' }, port: { type: 'integer' },
    ...Object.fromEntries(Array.from({ length: FIELDS }, (_, i) => [`secret_${i}`, { type: 'string', airbyte_secret: true }])),
  },
};
const configFor = (n: number) => ({
  host: `db-${n}.internal`, port: 5432,
  ...Object.fromEntries(Array.from({ length: FIELDS }, (_, i) => [`secret_${i}`, `canary-${n}-${i}-${'s'.repeat(20)}`])),
});

let created = 0;
let hydrated = 0;
const ids: string[] = [];
const createOne = (thread: 'main' | 'auto') => async () => {
  const n = created++;
  const saved = await writeSides[thread].create({ scope: { type: 'workspace', id: 'ws1' }, owner: { type: 'actor', id: `actor-${n}` }, spec, config: configFor(n) });
  ids.push(saved.id);
};
const hydrateOne = async () => {
  const full = await readSide.hydrate(ids[(hydrated++ * 7919) % ids.length]!) as Record<string, string>;
  if (!full.secret_0?.startsWith('canary-')) throw new Error('hydrate returned no secret');
};
const concurrentGroups = { calls: 0, secrets: 0 };

const grouped = (thread: 'main' | 'auto') => async () => {
  const before = { ...storeWrites };
  const ns = await timed(CONCURRENT_PER_SAMPLE, IN_FLIGHT, createOne(thread));
  concurrentGroups.calls += storeWrites.calls - before.calls;
  concurrentGroups.secrets += storeWrites.secrets - before.secrets;
  return ns;
};

const samples = await interleave([
  { name: 'create, sequential', sample: () => timed(SEQUENTIAL_PER_SAMPLE, 1, createOne('auto')) },
  { name: 'create, concurrent', sample: grouped('auto') },
  { name: 'create, concurrent, main', sample: grouped('main') },
  { name: 'hydrate, sequential', sample: () => timed(SEQUENTIAL_PER_SAMPLE, 1, hydrateOne) },
  { name: 'hydrate, concurrent', sample: () => timed(CONCURRENT_PER_SAMPLE, IN_FLIGHT, hydrateOne) },
], { rounds: ROUNDS, warmup: 1 });

const row = (name: string, figure: string) => {
  const rate = 1e9 / medianOf(samples, name);
  return { figure, ours: `${formatRate(rate).replace('ops/s', 'configs/s')}`, peer: `target ${formatRate(TARGET).replace('ops/s', 'configs/s')}`, ratio: formatRatio(rate / TARGET), target: '≥ 1,000 configs/s', pass: rate >= TARGET };
};
const perGroup = concurrentGroups.calls === 0 ? 0 : concurrentGroups.secrets / concurrentGroups.calls / FIELDS;
printTable(`config secrets through the local store on disk (${tmpdir()}, synchronous=FULL), ${FIELDS} secret fields per config — sequential = 1 call at a time, concurrent = ${IN_FLIGHT} calls in flight; median of ${ROUNDS} interleaved rounds`, [
  row('create, sequential', 'create, sequential (3 fsynced commits per create)'),
  row('create, concurrent', `create, concurrent (${IN_FLIGHT} in flight; default write_thread: auto, bulk store writes on a worker)`),
  row('create, concurrent, main', `create, concurrent (${IN_FLIGHT} in flight; write_thread: main, all on the main thread)`),
  row('hydrate, sequential', 'hydrate, sequential (20 store reads, no value cache)'),
  row('hydrate, concurrent', `hydrate, concurrent (${IN_FLIGHT} in flight, no value cache)`),
  { figure: 'creates per store transaction when concurrent (mean)', ours: perGroup.toFixed(1), peer: '—', ratio: '—', target: '—', pass: null },
]);
await writers.main.dispose();
await writers.auto.dispose();
await reader.dispose();
await db.destroy();
rmSync(dir, { recursive: true, force: true });

/** Runs `ops` calls of `op` with `inFlight` of them at a time; returns wall-clock ns per call. */
async function timed(ops: number, inFlight: number, op: () => Promise<void>): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (started < ops) {
      started++;
      await op();
    }
  }));
  return ((performance.now() - t0) * 1e6) / ops;
}
