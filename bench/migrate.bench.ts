/**
 * `migrate` throughput: 10,000 secrets from one local store file into another, every copy read
 * back and compared (migrateSecrets: setMany batches of 100 = one transaction each, read-backs
 * below the cache) vs the peer, a naive loop through the same manager: get from the source,
 * set into the target, get it back and compare — one secret at a time. Target: ours ≥ 1,000
 * secrets/s. Each round copies into fresh target files; the median of 3 rounds is reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretManager } from '../src/manager/secret-manager.js';
import { migrateSecrets } from '../src/migrate/index.js';
import { create as createLocal, generateMasterKey } from '../src/providers/local.js';
import { formatRatio, median, printTable } from './lib/stats.js';

const SECRETS = 10_000;
const ROUNDS = 3;
const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-migrate-'));
const env = { LOCKBOX_MASTER_KEY: generateMasterKey() };
const store = (id: string, file: string) => createLocal(id, { path: join(dir, file) }, { baseDir: dir, env });
/** A manager as the CLI builds it (values read are registered with the process-wide redactor). */
const manager = (target: string) => new SecretManager({ providers: [store('src', 'source.db'), store('dst', target)] });

// The source: 10,000 secrets of ~40 bytes under app/…, written in batches of 1,000.
const seeder = new SecretManager({ providers: [store('src', 'source.db')], cache: false });
for (let start = 0; start < SECRETS; start += 1000) {
  await seeder.setMany(Array.from({ length: 1000 }, (_, i) => ({ name: `app/service-${String(start + i).padStart(5, '0')}/password`, value: `bench-value-${start + i}-${'x'.repeat(24)}` })));
}
await seeder.dispose();

let round = 0;
async function ours(): Promise<number> {
  const m = manager(`ours-${++round}.db`);
  const started = performance.now();
  const summary = await migrateSecrets(m, { from: 'src', to: 'dst', checkpointDir: join(dir, `ckpt-${round}`) });
  const seconds = (performance.now() - started) / 1000;
  if (summary.verified !== SECRETS || summary.failed.length > 0) throw new Error(`migrate verified ${summary.verified} of ${SECRETS}`);
  await m.dispose();
  return SECRETS / seconds;
}

async function naive(): Promise<number> {
  const m = manager(`naive-${++round}.db`);
  const started = performance.now();
  const names = await m.list('', { provider: 'src' });
  let verified = 0;
  for (const { name } of names) {
    const source = await m.get(name, { provider: 'src' });
    await m.set(name, source!.value, { provider: 'dst' });
    const copy = await m.get(name, { provider: 'dst' });
    if (copy?.value.equals(source!.value)) verified++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (verified !== SECRETS) throw new Error(`naive loop verified ${verified} of ${SECRETS}`);
  await m.dispose();
  return SECRETS / seconds;
}

const oursRates: number[] = [];
const naiveRates: number[] = [];
await ours(); // warm-up: JIT, page cache
for (let i = 0; i < ROUNDS; i++) {
  oursRates.push(await ours());
  naiveRates.push(await naive());
}
rmSync(dir, { recursive: true, force: true });

const oursRate = median(oursRates);
const naiveRate = median(naiveRates);
const rate = (perSecond: number): string => `${Math.round(perSecond).toLocaleString('en')} secrets/s`;
printTable(`migrate — ${SECRETS.toLocaleString('en')} secrets local → local (two store files), every copy read back and compared; median of ${ROUNDS} rounds`, [
  {
    figure: 'migrateSecrets vs the 1,000 secrets/s target',
    ours: rate(oursRate), peer: rate(1000), ratio: formatRatio(oursRate / 1000), target: '≥ 1,000 secrets/s', pass: oursRate >= 1000,
  },
  {
    figure: 'vs naive get + set + get per secret (same manager)',
    ours: rate(oursRate), peer: rate(naiveRate), ratio: formatRatio(oursRate / naiveRate), target: '— (information)', pass: null,
  },
  {
    figure: 'whole run',
    ours: `${(SECRETS / oursRate).toFixed(2)} s`, peer: `${(SECRETS / naiveRate).toFixed(2)} s`, ratio: formatRatio(naiveRate / oursRate), target: '— (information)', pass: null,
  },
]);
