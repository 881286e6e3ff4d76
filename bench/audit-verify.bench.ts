/**
 * `lockbox audit verify` over 1,000,000 events: writes a chained audit file with the same format
 * helpers the file sink uses, then times `verifyAuditFile` (median of 3). Target ≤ 5 s. For
 * context: the floor (read the file and SHA-256 all of its bytes in one stream), and the file
 * sink's append throughput in batch mode (information).
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, openSync, closeSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuditLog, AUDIT_ACTIONS, GENESIS_HASH, formatAuditLine, jsonlFileSink, verifyAuditFile, type AuditEntry,
} from '../src/audit/index.js';
import { formatDuration, formatRate, formatRatio, median, printTable } from './lib/stats.js';

const EVENTS = 1_000_000;
const ROUNDS = 3;
const TARGET_NS = 5e9;
const APPENDS = 20_000;

const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-audit-'));
try {
  const path = join(dir, 'audit.jsonl');
  const generatedMs = writeChain(path, EVENTS);
  const bytes = statSync(path).size;
  console.log(`generated ${EVENTS.toLocaleString('en')} events (${(bytes / 1e6).toFixed(0)} MB) in ${(generatedMs / 1000).toFixed(1)} s`);

  const verifyNs: number[] = [];
  const floorNs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now();
    const result = await verifyAuditFile(path);
    verifyNs.push((performance.now() - started) * 1e6);
    if (!result.ok || result.events !== EVENTS) throw new Error(`verification failed: ${JSON.stringify(result)}`);
    started = performance.now();
    await hashWholeFile(path);
    floorNs.push((performance.now() - started) * 1e6);
  }
  const appendNs = await timeBatchAppends(join(dir, 'append.jsonl'), APPENDS);

  const verify = median(verifyNs);
  const floor = median(floorNs);
  printTable(`audit verify — ${EVENTS.toLocaleString('en')} events, ${(bytes / 1e6).toFixed(0)} MB, median of ${ROUNDS}`, [
    {
      figure: `verifyAuditFile (${EVENTS.toLocaleString('en')} events)`,
      ours: formatDuration(verify), peer: `limit ${formatDuration(TARGET_NS)}`,
      ratio: formatRatio(verify / TARGET_NS), target: '≤ 5 s', pass: verify <= TARGET_NS,
    },
    {
      figure: 'floor: read + one SHA-256 of the whole file',
      ours: formatDuration(floor), peer: '—', ratio: formatRatio(verify / floor), target: '(information)', pass: null,
    },
    {
      figure: `file sink append, batch, ${APPENDS.toLocaleString('en')} concurrent`,
      ours: formatRate(1e9 / appendNs), peer: '—', ratio: '—', target: '(information)', pass: null,
    },
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes `count` chained events straight to `path` (no sink, no fsync); returns the time taken in ms. */
function writeChain(path: string, count: number): number {
  const started = performance.now();
  const fd = openSync(path, 'w', 0o600);
  try {
    let prev = GENESIS_HASH;
    let chunk: string[] = [];
    const time = Date.parse('2026-01-01T00:00:00.000Z');
    for (let seq = 1; seq <= count; seq++) {
      const formatted = formatAuditLine(sampleEntry(seq, time), seq, prev);
      chunk.push(formatted.line);
      prev = formatted.hash;
      if (chunk.length === 10_000 || seq === count) {
        writeSync(fd, chunk.join(''));
        chunk = [];
      }
    }
  } finally {
    closeSync(fd);
  }
  return performance.now() - started;
}

/** A realistic event: a service reading and writing secrets under a handful of tenants. */
function sampleEntry(seq: number, start: number): AuditEntry {
  const action = AUDIT_ACTIONS[seq % 4 === 0 ? 3 : 0]!;
  return {
    time: new Date(start + seq * 37).toISOString(),
    principal: `svc-billing-${seq % 7}`,
    action,
    outcome: seq % 50 === 0 ? 'failure' : 'success',
    provider: 'local',
    scope: `tenant-${seq % 13}`,
    name: `app/service-${seq % 101}/db-password`,
    version: String(1 + (seq % 9)),
    ...(seq % 50 === 0 ? { errorCode: 'NOT_FOUND' as const } : {}),
    requestId: `${seq.toString(16).padStart(8, '0')}-7c1d-4e2a-9b3f-5a6d7e8f9a0b`,  // UUID-shaped, cheaper than randomUUID
  };
}

async function hashWholeFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** ns per event of `count` concurrent appends through AuditLog + the batch file sink. */
async function timeBatchAppends(path: string, count: number): Promise<number> {
  const log = await AuditLog.open({ sinks: [jsonlFileSink(path, { sync: 'batch' })] });
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => log.append({
    principal: 'svc-billing', action: 'read', outcome: 'success', provider: 'local', name: `app/key-${i % 100}`,
  })));
  const elapsed = performance.now() - started;
  await log.close();
  return (elapsed * 1e6) / count;
}
