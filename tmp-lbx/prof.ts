import { rmSync, mkdirSync } from 'node:fs';
import { create, generateMasterKey } from '../src/providers/local.js';
import { SecretValue } from '../src/secret-value.js';
import { assertValidName } from '../src/names.js';
const dir = '/tmp/lbx/prof'; rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
const p = create('b', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: generateMasterKey() } });
const names = Array.from({ length: 1000 }, (_, i) => `app/service-${i}/password`);
for (const name of names) await p.set({ name }, new SecretValue('value-' + name));
const N = 50000;
async function t(label: string, fn: (i: number) => unknown) { let best = 1e9; for (let r = 0; r < 5; r++) { const s = performance.now(); for (let i = 0; i < N; i++) await fn(i); best = Math.min(best, (performance.now() - s) / N * 1000); } console.log(label.padEnd(20), best.toFixed(2), 'us'); }
await t('provider.get', (i) => p.get({ name: names[i % 1000]! }));
await t('assertValidName', (i) => assertValidName(names[i % 1000]!));
await t('noop await', (i) => i);
