import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { create, generateMasterKey } from '../../src/providers/local.js';

const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const KILL_AFTER_ACKS = 50;
const dir = mkdtempSync(join(tmpdir(), 'lockbox-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Ack { name: string; version: string; index: number }

/** Runs the writer, SIGKILLs it after KILL_AFTER_ACKS acknowledged writes; returns every ack it printed. */
function writeUntilKilled(key: string): Promise<{ acks: Ack[]; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], {
      env: { ...process.env, LOCKBOX_MASTER_KEY: key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [name, version, index] = line.split(' ');
      acks.push({ name: name as string, version: version as string, index: Number(index) });
      if (acks.length === KILL_AFTER_ACKS) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      resolve({ acks, signal, stderr });
    });
  });
}

it('every acknowledged write survives a SIGKILL mid-loop, and the store reopens cleanly', { timeout: 90_000 }, async () => {
  const key = generateMasterKey();
  const { acks, signal, stderr } = await writeUntilKilled(key);
  assert.ok(acks.length >= KILL_AFTER_ACKS, `the writer acknowledged only ${acks.length} writes: ${stderr}`);
  assert.equal(signal, 'SIGKILL', 'the writer was killed mid-loop, not finished');

  const dbPath = join(dir, '.lockbox', 'store.db');
  const raw = new Database(dbPath);
  assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
  raw.close();

  const provider = create('local', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });
  assert.equal((await provider.health()).status, 'ready');
  for (const ack of acks) {
    const record = await provider.get({ name: ack.name, version: ack.version });
    assert.ok(record, `acknowledged write ${ack.name}@${ack.version} is missing`);
    assert.equal(record.value.reveal(), `canary-crash-${ack.index}`);
    assert.equal(record.metadata.tags.index, String(ack.index));
  }
  const last = acks.at(-1) as Ack;
  const current = await provider.get({ name: last.name });
  assert.ok(Number(current?.metadata.version) >= Number(last.version), 'current is the last acknowledged version or a later one');
  await provider.dispose();
});
