/**
 * Config secrets through the local store: `configs.create` (validate, split, write 20 secret
 * fields in one store transaction, record references) and `configs.hydrate` (read the partial
 * config and its 20 secrets from the store — the manager's value cache is OFF for this figure,
 * so every secret is read and decrypted). Target: ≥ 1,000 configs/s each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfigSecrets, createConfigSecretsDatabase } from '../src/config-secrets/index.js';
import { SecretManager } from '../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey } from '../src/providers/local.js';
import { formatRate, formatRatio, interleave, medianOf, printTable } from './lib/stats.js';

const FIELDS = 20;
const CONFIGS_PER_SAMPLE = 100;
const ROUNDS = 7;
const TARGET = 1000;

const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-cfg-'));
const key = generateMasterKey();
const local = () => createLocal('local', { path: join(dir, 'store.db') }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
const writer = new SecretManager({ providers: [local()] });
const reader = new SecretManager({ providers: [local()], cache: false });
const db = createConfigSecretsDatabase(join(dir, 'configs.db'));
const writeSide = createConfigSecrets({ manager: writer, db });
const readSide = createConfigSecrets({ manager: reader, db });

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
const ids: string[] = [];
const samples = await interleave([
  {
    name: 'create',
    sample: async () => {
      const started = performance.now();
      for (let i = 0; i < CONFIGS_PER_SAMPLE; i++) {
        const n = created++;
        const saved = await writeSide.create({ scope: { type: 'workspace', id: 'ws1' }, owner: { type: 'actor', id: `actor-${n}` }, spec, config: configFor(n) });
        ids.push(saved.id);
      }
      return ((performance.now() - started) * 1e6) / CONFIGS_PER_SAMPLE;
    },
  },
  {
    name: 'hydrate',
    sample: async () => {
      const started = performance.now();
      for (let i = 0; i < CONFIGS_PER_SAMPLE; i++) {
        const full = await readSide.hydrate(ids[(i * 7919) % ids.length]!) as Record<string, string>;
        if (!full.secret_0?.startsWith('canary-')) throw new Error('hydrate returned no secret');
      }
      return ((performance.now() - started) * 1e6) / CONFIGS_PER_SAMPLE;
    },
  },
], { rounds: ROUNDS, warmup: 1 });

const rate = (name: string) => 1e9 / medianOf(samples, name);
printTable(`config secrets, ${FIELDS} secret fields per config, local store — median of ${ROUNDS} rounds of ${CONFIGS_PER_SAMPLE}`, [
  { figure: 'create: validate + split + write (1 store transaction)', ours: formatRate(rate('create')), peer: `limit ${formatRate(TARGET)}`, ratio: formatRatio(rate('create') / TARGET), target: '≥ 1,000 configs/s', pass: rate('create') >= TARGET },
  { figure: 'hydrate: read 20 secrets from the store (no value cache)', ours: formatRate(rate('hydrate')), peer: `limit ${formatRate(TARGET)}`, ratio: formatRatio(rate('hydrate') / TARGET), target: '≥ 1,000 configs/s', pass: rate('hydrate') >= TARGET },
]);
await writer.dispose();
await reader.dispose();
await db.destroy();
rmSync(dir, { recursive: true, force: true });
