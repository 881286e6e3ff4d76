import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import {
  AUDIT_ACTIONS, AuditLog, GENESIS_HASH, functionSink, jsonlFileSink, shouldFail, stdoutSink, verifyAuditFile,
  type AuditEntry, type AuditEntryInput,
} from '../../src/audit/index.js';
import { LockboxError } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';

const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-audit-'));
  dirs.push(dir);
  return dir;
}

const READ: AuditEntryInput = { principal: 'alice', action: 'read', outcome: 'success', provider: 'local', name: 'db/password' };

function lines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Asserts a rejection with `code` and a message matching `message`, with no `canary` in message or stack. */
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp, canary?: string): Promise<void> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => { caught = error; return true; });
  assert.ok(caught instanceof LockboxError, `expected a LockboxError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.match(caught.message, message);
  if (canary) assert.ok(!String(caught.stack).includes(canary) && !caught.describe().includes(canary), 'the error must not carry the value');
}

describe('audit log: the chained JSONL file', () => {
  it('writes one line per event with seq, prev and hash, hash last, over the documented bytes', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    const log = await AuditLog.open({ sinks: [jsonlFileSink(path)], now: () => new Date('2026-01-02T03:04:05.678Z') });
    await log.append({ ...READ, requestId: 'req-1' });
    await log.append({ principal: 'bob', action: 'write', outcome: 'failure', errorCode: 'CAPABILITY', name: 'db/password', requestId: 'req-2' });
    await log.close();

    const text = readFileSync(path, 'utf8');
    const [first, second] = text.split('\n');
    assert.equal(first!.slice(0, first!.indexOf(',"hash"')), `{"seq":1,"prev":"${GENESIS_HASH}","time":"2026-01-02T03:04:05.678Z","principal":"alice","action":"read","outcome":"success","provider":"local","name":"db/password","requestId":"req-1"`);
    // The hash is SHA-256 of the line with `,"hash":"…"` cut off and `}` put back.
    for (const line of [first!, second!]) {
      const body = `${line.slice(0, line.indexOf(',"hash":"'))}}`;
      assert.equal((JSON.parse(line) as { hash: string }).hash, createHash('sha256').update(body).digest('hex'));
      assert.ok(line.endsWith('"}'));
    }
    const events = lines(path);
    assert.deepEqual(events.map((e) => [e.seq, e.action, e.errorCode]), [[1, 'read', undefined], [2, 'write', 'CAPABILITY']]);
    assert.equal(events[1]!.prev, events[0]!.hash);
    assert.ok(text.endsWith('\n'));
  });

  it('continues the chain when the file is opened again', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    for (let run = 0; run < 3; run++) {
      const log = new AuditLog({ sinks: [jsonlFileSink(path, { sync: run === 1 ? 'every' : 'batch' })] });
      await log.append(READ);
      await log.append({ ...READ, action: 'list', name: 'db' });
      await log.close();
    }
    const events = lines(path);
    assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
    for (let i = 1; i < events.length; i++) assert.equal(events[i]!.prev, events[i - 1]!.hash);
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 6 });
  });

  it('creates the file (and its directory) with mode 0600, and tightens a looser existing file', async () => {
    const dir = tempDir();
    const path = join(dir, 'nested', 'audit.jsonl');
    const log = await AuditLog.open({ sinks: [jsonlFileSink(path)] });
    await log.append(READ);
    await log.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'nested')).mode & 0o077, 0);

    const loose = join(dir, 'loose.jsonl');
    writeFileSync(loose, '');
    chmodSync(loose, 0o644);
    const again = await AuditLog.open({ sinks: [jsonlFileSink(loose)] });
    await again.close();
    assert.equal(statSync(loose).mode & 0o777, 0o600);
  });

  for (const sync of ['batch', 'every'] as const) {
    it(`sync: ${sync} — close() drains every pending append, in order, nothing lost`, async () => {
      const path = join(tempDir(), 'audit.jsonl');
      const log = new AuditLog({ sinks: [jsonlFileSink(path, { sync, maxBatch: 64 })] });
      const pending = Array.from({ length: 300 }, (_, i) => log.append({ ...READ, requestId: `req-${i}` }));
      await log.close();
      await Promise.all(pending);
      const events = lines(path);
      assert.equal(events.length, 300);
      assert.deepEqual(events.map((e) => e.requestId), pending.map((_, i) => `req-${i}`));
      assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 300 });
      await rejectsWith(log.append(READ), 'AUDIT_WRITE_FAILED', /cannot write the audit log: it is closed/);
    });
  }

  it('keeps one chain when two writers (as two processes would) share the file', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    const a = new AuditLog({ sinks: [jsonlFileSink(path)] });
    const b = new AuditLog({ sinks: [jsonlFileSink(path, { sync: 'every' })] });
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append({ ...READ, principal: i % 2 ? 'a' : 'b' })));
    await Promise.all([a.close(), b.close()]);
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 60 });
  });

  it('keeps one chain when two real processes append to the file at the same time', async () => {
    const dir = tempDir();
    const path = join(dir, 'audit.jsonl');
    const script = join(dir, 'writer.mts');
    const indexUrl = new URL('../../src/audit/index.js', import.meta.url).href;
    writeFileSync(script, `import { AuditLog, jsonlFileSink } from ${JSON.stringify(indexUrl)};
const log = new AuditLog({ sinks: [jsonlFileSink(process.argv[2], { sync: 'every' })] });
await Promise.all(Array.from({ length: 100 }, () => log.append({ principal: process.argv[3], action: 'read', outcome: 'success' })));
await log.close();
`);
    const run = (principal: string): Promise<number | null> => new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, path, principal], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    assert.deepEqual(await Promise.all([run('proc-a'), run('proc-b')]), [0, 0]);
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 200 });
    const principals = lines(path).map((e) => e.principal);
    assert.equal(principals.filter((p) => p === 'proc-a').length, 100);
  });

  it('breaks the lock of a dead process, and waits for a live one until lockTimeoutMs', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    writeFileSync(`${path}.lock`, `999999999@${hostname()} stale-token`);
    const log = new AuditLog({ sinks: [jsonlFileSink(path)] });
    await log.append(READ);
    await log.close();
    assert.equal(lines(path).length, 1);

    writeFileSync(`${path}.lock`, `${process.pid}@${hostname()} live-token`);
    const blocked = new AuditLog({ sinks: [jsonlFileSink(path, { lockTimeoutMs: 50 })] });
    await rejectsWith(blocked.append(READ), 'AUDIT_WRITE_FAILED', new RegExp(`cannot write the audit log .*audit\\.jsonl: it is locked by ${process.pid}@`));
    rmSync(`${path}.lock`);
    await blocked.append(READ);
    await blocked.close();
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 2 });
  });

  it('cuts off an incomplete last line (a write cut short) with a warning, and continues the chain', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    const log = new AuditLog({ sinks: [jsonlFileSink(path)] });
    await log.append(READ);
    await log.close();
    appendFileSync(path, '{"seq":2,"prev":"00');
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => { warnings.push(warning.message); };
    process.on('warning', onWarning);
    try {
      const again = new AuditLog({ sinks: [jsonlFileSink(path)] });
      await again.append(READ);
      await again.close();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 2 });
    assert.ok(warnings.some((w) => /removed an incomplete last line \(19 bytes/.test(w)), warnings.join('\n'));
  });

  it('starts a new chain when the file was moved away (log rotation)', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    const log = new AuditLog({ sinks: [jsonlFileSink(path)] });
    await log.append(READ);
    renameSync(path, `${path}.1`);
    await log.append(READ);
    await log.close();
    assert.deepEqual(lines(path).map((e) => [e.seq, e.prev]), [[1, GENESIS_HASH]]);
    assert.deepEqual(await verifyAuditFile(`${path}.1`), { ok: true, events: 1 });
  });
});

describe('audit log: failures', () => {
  it('fails with AUDIT_WRITE_FAILED when the path is a directory', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    mkdirSync(path);
    await rejectsWith(AuditLog.open({ sinks: [jsonlFileSink(path)] }), 'AUDIT_WRITE_FAILED', /^cannot write the audit log .*audit\.jsonl: it is a directory \(EISDIR\)$/);
    await rejectsWith(new AuditLog({ sinks: [jsonlFileSink(path)] }).append(READ), 'AUDIT_WRITE_FAILED', /it is a directory \(EISDIR\)$/);
  });

  it('fails with AUDIT_WRITE_FAILED when a parent of the path is a file', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, '');
    const log = new AuditLog({ sinks: [jsonlFileSink(join(file, 'audit.jsonl'))] });
    await rejectsWith(log.append(READ), 'AUDIT_WRITE_FAILED', /^cannot write the audit log .*: a component of the path is not a directory \((ENOTDIR)\)$/);
  });

  it('refuses to continue a chain whose last line was edited (AUDIT_WRITE_FAILED naming why)', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    const log = new AuditLog({ sinks: [jsonlFileSink(path)] });
    await log.append(READ);
    await log.close();
    writeFileSync(path, readFileSync(path, 'utf8').replace('"alice"', '"mallory"'));
    await rejectsWith(new AuditLog({ sinks: [jsonlFileSink(path)] }).append(READ), 'AUDIT_WRITE_FAILED',
      /^cannot continue the audit chain: the last line of the audit log .*audit\.jsonl fails its hash \(edited\)$/);
  });

  it('fails the append when a function sink throws, after the other sinks wrote', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    const log = new AuditLog({ sinks: [jsonlFileSink(path), functionSink(() => { throw new Error('SIEM down'); })] });
    await rejectsWith(log.append(READ), 'AUDIT_WRITE_FAILED', /^cannot write the audit function sink: SIEM down$/);
    await log.close();
    assert.equal(lines(path).length, 1);
  });

  it('shouldFail: every failure fails in mode "fail"; in mode "warn" only read paths go on', () => {
    for (const action of AUDIT_ACTIONS) assert.equal(shouldFail(action, 'fail'), true, action);
    assert.equal(shouldFail('write'), true);
    for (const action of ['read', 'list', 'versions', 'snapshot_fallback'] as const) assert.equal(shouldFail(action, 'warn'), false, action);
    for (const action of ['write', 'delete', 'undelete', 'destroy', 'rotate', 'rollback', 'key_rotation', 'policy_denial'] as const) {
      assert.equal(shouldFail(action, 'warn'), true, action);
    }
  });
});

describe('audit log: never a value', () => {
  const canary = 'canary-audit-value-7f3a';

  it('rejects an event with a value field (INVALID_INPUT naming the field, not its content); nothing is written', async () => {
    const path = join(tempDir(), 'audit.jsonl');
    const seen: AuditEntry[] = [];
    const log = new AuditLog({ sinks: [jsonlFileSink(path), functionSink((entry) => { seen.push(entry); })] });
    await rejectsWith(log.append({ ...READ, value: canary } as AuditEntryInput), 'INVALID_INPUT',
      /^invalid audit event: unknown field\(s\) "value" \(an audit event never holds a value\)$/, canary);
    await rejectsWith(log.append({ ...READ, name: new SecretValue(canary) } as unknown as AuditEntryInput), 'INVALID_INPUT', /^invalid audit event: name: invalid \(invalid_type\)$/, canary);
    await rejectsWith(log.append({ ...READ, principal: `alice ${canary}` }), 'INVALID_INPUT', /^invalid audit event: principal: invalid \(invalid_string\)$/, canary);
    await rejectsWith(log.append({ ...READ, action: canary } as unknown as AuditEntryInput), 'INVALID_INPUT', /^invalid audit event: action: invalid \(invalid_enum_value\)$/, canary);
    await rejectsWith(log.append({ principal: 'alice' } as AuditEntryInput), 'INVALID_INPUT', /^invalid audit event: action: required; outcome: required$/);
    await log.append(READ);
    await log.close();
    assert.equal(seen.length, 1);
    assert.ok(!readFileSync(path, 'utf8').includes(canary));
    assert.equal(lines(path).length, 1);
  });

  it('stdoutSink writes one JSON object per line, without chain fields; functionSink gets a frozen copy', async () => {
    const stream = new PassThrough();
    let output = '';
    stream.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const received: AuditEntry[] = [];
    const log = new AuditLog({
      sinks: [stdoutSink({ stream }), functionSink((entry) => { received.push(entry); })],
      now: () => new Date('2026-05-06T07:08:09.000Z'),
      newRequestId: () => 'req-fixed',
    });
    await log.append({ ...READ, scope: 'acme', version: '3' });
    await log.close();
    assert.equal(output, '{"time":"2026-05-06T07:08:09.000Z","principal":"alice","action":"read","outcome":"success","provider":"local","scope":"acme","name":"db/password","version":"3","requestId":"req-fixed"}\n');
    assert.equal(received.length, 1);
    assert.ok(Object.isFrozen(received[0]));
    assert.equal(received[0]!.requestId, 'req-fixed');
  });
});
