import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
const keys = Array.from({ length: 1000 }, () => randomBytes(32));
const aad = Buffer.from('lockbox:v1:value\0store\0\0app/x\0' + 1);
const envs = keys.map((key) => { const iv = randomBytes(12); const c = createCipheriv('aes-256-gcm', key, iv); c.setAAD(aad); const ct = c.update('value-app/service-1/password'); c.final(); return Buffer.concat([randomBytes(60), iv, c.getAuthTag(), ct]); });
function open(key: Buffer, e: Buffer) { const d = createDecipheriv('aes-256-gcm', key, e.subarray(60, 72), { authTagLength: 16 }); d.setAAD(aad); d.setAuthTag(e.subarray(72, 88)); const p = d.update(e.subarray(88)); d.final(); return p; }
const N = 40000;
const tests: Array<[string, (i: number) => unknown]> = [];
tests.push(['same key same env', () => open(keys[0]!, envs[0]!)]);
tests.push(['rotating keys', (i) => open(keys[i % 1000]!, envs[i % 1000]!)]);
tests.push(['rotating + copy env', (i) => open(keys[i % 1000]!, Buffer.from(envs[i % 1000]!))]);
tests.push(['copy only', (i) => Buffer.from(envs[i % 1000]!)]);
const best: Record<string, number> = {};
for (let r = 0; r < 9; r++) for (const [label, fn] of tests) { const s = performance.now(); for (let i = 0; i < N; i++) fn(i); best[label] = Math.min(best[label] ?? 1e9, (performance.now() - s) / N * 1000); }
for (const k in best) console.log(k.padEnd(30), best[k]!.toFixed(2));
