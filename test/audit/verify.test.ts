import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  AuditLog, formatAuditLine, jsonlFileSink, readAuditEvents, verifyAuditFile, type AuditEntry, type AuditEntryInput,
} from '../../src/audit/index.js';
import { LockboxError } from '../../src/errors.js';

const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

/** Six events, one minute apart from 2026-03-01T10:00Z, written through the real file sink. */
const EVENTS: AuditEntryInput[] = [
  { principal: 'alice', action: 'write', outcome: 'success', name: 'db/password', time: new Date('2026-03-01T10:00:00Z') },
  { principal: 'alice', action: 'read', outcome: 'success', name: 'db/password', time: new Date('2026-03-01T10:01:00Z') },
  { principal: 'bob', action: 'read', outcome: 'denied', errorCode: 'ACCESS_DENIED', name: 'stripe/api-key', time: new Date('2026-03-01T10:02:00Z') },
  { principal: 'bob', action: 'list', outcome: 'success', name: 'db', time: new Date('2026-03-01T10:03:00Z') },
  { principal: 'ci', action: 'rotate', outcome: 'success', name: 'db/replica/password', time: new Date('2026-03-01T10:04:00Z') },
  { principal: 'alice', action: 'delete', outcome: 'failure', errorCode: 'NOT_FOUND', name: 'old/token', time: new Date('2026-03-01T10:05:00Z') },
];

async function writeLog(): Promise<{ path: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-audit-verify-'));
  dirs.push(dir);
  const path = join(dir, 'audit.jsonl');
  const log = new AuditLog({ sinks: [jsonlFileSink(path)] });
  for (const event of EVENTS) await log.append(event);
  await log.close();
  return { path, lines: readFileSync(path, 'utf8').split('\n').slice(0, -1) };
}

/** Rewrites the log with `lines` (each followed by a newline unless `noFinalNewline`). */
function rewrite(path: string, lines: string[], noFinalNewline = false): void {
  writeFileSync(path, lines.join('\n') + (noFinalNewline ? '' : '\n'));
}

describe('verifyAuditFile', () => {
  it('reports an intact log and its event count', async () => {
    const { path } = await writeLog();
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 6 });
    writeFileSync(path, '');
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 0 });
  });

  it('an edited field: the hash of that line no longer matches', async () => {
    const { path, lines } = await writeLog();
    lines[2] = lines[2]!.replace('"outcome":"denied"', '"outcome":"success"');
    rewrite(path, lines);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 2, line: 3, reason: 'hash mismatch: the event was edited after it was written',
    });
  });

  it('an edited event with a recomputed hash: the next line\'s prev names it', async () => {
    const { path, lines } = await writeLog();
    const forged = JSON.parse(lines[2]!) as AuditEntry & { seq: number; prev: string };
    const { seq, prev, ...entry } = forged;
    lines[2] = formatAuditLine({ ...entry, outcome: 'success', errorCode: undefined }, seq, prev).line.trimEnd();
    rewrite(path, lines);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 3, line: 4,
      reason: 'prev is not the hash of line 3: that event was rewritten, or events were inserted or removed between them',
    });
  });

  it('a deleted event: a seq gap at the line that follows it', async () => {
    const { path, lines } = await writeLog();
    rewrite(path, [...lines.slice(0, 2), ...lines.slice(3)]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 2, line: 3, reason: 'seq 4 where 3 was expected: event 3 is missing (deleted)',
    });
    rewrite(path, [...lines.slice(0, 1), ...lines.slice(4)]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 1, line: 2, reason: 'seq 5 where 2 was expected: events 2–4 are missing (deleted)',
    });
    rewrite(path, lines.slice(1));
    assert.equal((await verifyAuditFile(path) as { reason: string }).reason, 'seq 2 where 1 was expected: event 1 is missing (deleted)');
  });

  it('an inserted event: a copied line, or a forged one with a valid hash, reuses a seq', async () => {
    const { path, lines } = await writeLog();
    rewrite(path, [...lines.slice(0, 4), lines[1]!, ...lines.slice(4)]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 4, line: 5,
      reason: 'seq 2 where 5 was expected: seq 2 was already used, so an event was inserted (this one or the one before)',
    });

    // A forger who knows the format chains their line correctly onto line 2; line 4 (the old 3) then breaks.
    const prevHash = (JSON.parse(lines[1]!) as { hash: string }).hash;
    const forged = formatAuditLine({ time: '2026-03-01T10:01:30.000Z', principal: 'alice', action: 'read', outcome: 'success', name: 'stripe/api-key', requestId: 'r' }, 3, prevHash);
    rewrite(path, [...lines.slice(0, 2), forged.line.trimEnd(), ...lines.slice(2)]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 3, line: 4,
      reason: 'seq 3 where 4 was expected: seq 3 was already used, so an event was inserted (this one or the one before)',
    });
  });

  it('a reordered pair: names the first line out of place and where the missing one is', async () => {
    const { path, lines } = await writeLog();
    rewrite(path, [lines[0]!, lines[1]!, lines[3]!, lines[2]!, lines[4]!, lines[5]!]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 2, line: 3, reason: 'seq 4 where 3 was expected; event 3 is at line 4: events were reordered',
    });
    rewrite(path, [lines[0]!, lines[5]!, lines[2]!, lines[3]!, lines[4]!, lines[1]!]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 1, line: 2, reason: 'seq 6 where 2 was expected; event 2 is at line 6: events were reordered',
    });
  });

  it('a truncated last line: names it', async () => {
    const { path, lines } = await writeLog();
    rewrite(path, [...lines.slice(0, 5), lines[5]!.slice(0, 100)], true);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 5, line: 6,
      reason: 'the last line is incomplete (no newline at the end): the file was truncated or a write was cut short',
    });
  });

  it('a line that is not an audit event, and a hash field that is not last', async () => {
    const { path, lines } = await writeLog();
    rewrite(path, [lines[0]!, '{"seq":2,"hello":"world"}', ...lines.slice(1)]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 1, line: 2, reason: 'not an audit event line (too short)',
    });
    const event = JSON.parse(lines[1]!) as Record<string, unknown>;
    const { hash, ...rest } = event;
    rewrite(path, [lines[0]!, JSON.stringify({ ...rest, hash, extra: 'x' }), ...lines.slice(2)]);
    assert.deepEqual(await verifyAuditFile(path), {
      ok: false, events: 1, line: 2, reason: 'not an audit event line (malformed prev field, or the hash field is not last)',
    });
  });

  it('throws INVALID_INPUT for a log that does not exist', async () => {
    await assert.rejects(verifyAuditFile(join(tmpdir(), 'lockbox-no-such-dir', 'audit.jsonl')), (error: LockboxError) => {
      assert.equal(error.code, 'INVALID_INPUT');
      assert.match(error.message, /^cannot read the audit log .*audit\.jsonl: it does not exist$/);
      return true;
    });
  });
});

describe('readAuditEvents', () => {
  const names = (events: { name?: string }[]): (string | undefined)[] => events.map((e) => e.name);

  it('filters by since, secret (exact or glob), principal and action; oldest first', async () => {
    const { path } = await writeLog();
    assert.equal((await readAuditEvents(path)).length, 6);
    assert.deepEqual(names(await readAuditEvents(path, { since: new Date('2026-03-01T10:03:00Z') })), ['db', 'db/replica/password', 'old/token']);
    assert.deepEqual(names(await readAuditEvents(path, { secret: 'db/password' })), ['db/password', 'db/password']);
    assert.deepEqual(names(await readAuditEvents(path, { secret: 'db/*' })), ['db/password', 'db/password']);
    assert.deepEqual(names(await readAuditEvents(path, { secret: 'db/**' })), ['db/password', 'db/password', 'db', 'db/replica/password']);
    assert.deepEqual(names(await readAuditEvents(path, { principal: 'bob' })), ['stripe/api-key', 'db']);
    assert.deepEqual(names(await readAuditEvents(path, { action: 'read', principal: 'alice' })), ['db/password']);
    assert.deepEqual(names(await readAuditEvents(path, { action: ['rotate', 'delete'] })), ['db/replica/password', 'old/token']);
    const [denied] = await readAuditEvents(path, { secret: 'stripe/api-key' });
    assert.deepEqual({ ...denied, hash: undefined, prev: undefined, requestId: undefined }, {
      seq: 3, prev: undefined, hash: undefined, requestId: undefined, time: '2026-03-01T10:02:00.000Z',
      principal: 'bob', action: 'read', outcome: 'denied', errorCode: 'ACCESS_DENIED', name: 'stripe/api-key',
    });
  });

  it('skips an incomplete last line; throws AUDIT_TAMPERED naming a line that is not an event', async () => {
    const { path, lines } = await writeLog();
    rewrite(path, [...lines, lines[0]!.slice(0, 50)], true);
    assert.equal((await readAuditEvents(path)).length, 6);
    rewrite(path, [lines[0]!, 'not json', ...lines.slice(1)]);
    await assert.rejects(readAuditEvents(path), (error: LockboxError) => {
      assert.equal(error.code, 'AUDIT_TAMPERED');
      assert.match(error.message, /^line 2 of the audit log .*audit\.jsonl is not an audit event$/);
      return true;
    });
  });

  it('rejects a malformed glob with INVALID_INPUT', async () => {
    const { path } = await writeLog();
    await assert.rejects(readAuditEvents(path, { secret: 'db/***' }), (error: LockboxError) => {
      assert.equal(error.code, 'INVALID_INPUT');
      assert.match(error.message, /^invalid audit filter secret: invalid glob "db\/\*\*\*": "\*\*\*" has no meaning/);
      return true;
    });
  });
});
