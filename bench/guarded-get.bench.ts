/**
 * Cached `get` with the trust layer on: access control (a compiled policy with a glob rule) and
 * audit (the hash-chained JSONL file sink, fsynced, reads batched) vs the same manager with
 * neither, in the same run. Target (issue 3): guarded ≥ 0.5× bare. The audit file is verified at
 * the end, so the figure counts a log that really holds every read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicy } from '../src/access/index.js';
import { AuditLog, jsonlFileSink, verifyAuditFile, readAuditEvents } from '../src/audit/index.js';
import { SecretManager } from '../src/manager/secret-manager.js';
import { create } from '../src/providers/memory.js';
import { formatRate, formatRatio, interleave, medianOf, opsPerSecond, printTable } from './lib/stats.js';

const NAME = 'db/password';
const OPS_PER_SAMPLE = 50_000;
const ROUNDS = 7;
const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-guard-'));
const auditPath = join(dir, 'audit.jsonl');

const bare = new SecretManager({ providers: [create('mem', { secrets: { [NAME]: 'canary-bench-value' } })] });
const guarded = new SecretManager({
  providers: [create('mem', { secrets: { [NAME]: 'canary-bench-value' } })],
  principal: 'svc-api',
  access: compilePolicy({ roles: { app: [{ allow: ['read', 'list'], secrets: ['db/**'] }] }, principals: { 'svc-api': ['app'] } }),
  audit: await AuditLog.open({ sinks: [jsonlFileSink(auditPath)] }),
});
for (const m of [bare, guarded]) if (!(await m.get(NAME))) throw new Error('warm-up read found nothing');

let sink = 0;
const loop = (manager: SecretManager) => async () => {
  const started = performance.now();
  for (let i = 0; i < OPS_PER_SAMPLE; i++) if (await manager.get(NAME)) sink++;
  return ((performance.now() - started) * 1e6) / OPS_PER_SAMPLE;
};
const samples = await interleave([
  { name: 'guarded', sample: loop(guarded) },
  { name: 'bare', sample: loop(bare) },
], { rounds: ROUNDS, warmup: 3 });
if (sink === 0) throw new Error('nothing was read');
await guarded.dispose();
await bare.dispose();

const verification = await verifyAuditFile(auditPath);
const reads = (await readAuditEvents(auditPath, { action: 'read' })).reduce((n, e) => n + (e.count ?? 1), 0);
const expected = 1 + OPS_PER_SAMPLE * (ROUNDS + 3);
if (!verification.ok || reads !== expected) throw new Error(`audit log holds ${reads} reads, expected ${expected}`);
rmSync(dir, { recursive: true, force: true });

const ours = opsPerSecond(medianOf(samples, 'guarded'));
const limit = opsPerSecond(medianOf(samples, 'bare'));
printTable(`cached get with access control + audit (file sink, batched reads) — ${OPS_PER_SAMPLE.toLocaleString('en')} gets per sample, median of ${ROUNDS}; audit log verified: ${verification.events} events standing for ${reads.toLocaleString('en')} reads`, [
  {
    figure: 'guarded vs bare cached get (same run)',
    ours: formatRate(ours), peer: formatRate(limit), ratio: formatRatio(ours / limit),
    target: '≥ 0.50×', pass: ours >= 0.5 * limit,
  },
]);
