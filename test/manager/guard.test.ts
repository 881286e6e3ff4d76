/**
 * Access control and audit around every manager operation: denials name principal, action and
 * secret; every operation leaves an event (never a value); batched reads are coalesced and flushed
 * on dispose; an event that cannot be written fails the operation (or only warns for reads).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compilePolicy } from '../../src/access/index.js';
import { AuditLog, functionSink, jsonlFileSink, verifyAuditFile, type AuditEntry } from '../../src/audit/index.js';
import { LockboxError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as memory } from '../../src/providers/memory.js';

const CANARY = 'canary-guard-secret-5d1e';
const POLICY = compilePolicy({
  roles: {
    reader: [{ allow: ['read', 'list'], secrets: ['db/**'] }],
    operator: [{ allow: ['read', 'list', 'write', 'rotate', 'delete'], secrets: ['**'] }, { deny: ['delete'], secrets: ['db/**'] }],
  },
  principals: { bob: ['reader'], ops: ['operator'] },
});

function setup(principal: string, options: { reads?: 'batched' | 'sync'; failing?: boolean; onFailure?: 'fail' | 'warn' } = {}) {
  const events: AuditEntry[] = [];
  const warnings: string[] = [];
  const sink = functionSink((entry) => {
    if (options.failing) throw new Error('disk full');
    events.push(entry);
  });
  const manager = new SecretManager({
    providers: [memory('mem', { secrets: { 'db/password': CANARY, 'stripe/key': CANARY, 'db/user': 'app' } })],
    principal,
    access: POLICY,
    audit: new AuditLog({ sinks: [sink] }),
    auditOptions: { reads: options.reads ?? 'batched', onFailure: options.onFailure, flushIntervalMs: 60_000, warn: (m) => warnings.push(m) },
  });
  return { manager, events, warnings };
}

describe('manager guard: access control', () => {
  it('denies a read outside the principal\'s rules with ACCESS_DENIED naming principal, action and secret', async () => {
    const { manager } = setup('bob');
    await assert.rejects(manager.get('stripe/key'), (error: LockboxError) => {
      assert.equal(error.code, 'ACCESS_DENIED');
      assert.match(error.message, /bob may not read stripe\/key/);
      assert.ok(!error.message.includes(CANARY));
      return true;
    });
    assert.equal((await manager.get('db/password'))?.value.reveal(), CANARY);
    await manager.dispose();
  });

  it('denies from the cache fast path too (a value cached by an allowed read is not served to a denied name)', async () => {
    const { manager } = setup('bob');
    await manager.get('db/password');
    await manager.get('db/password'); // cache hit through the fast path
    await assert.rejects(manager.get('stripe/key'), { code: 'ACCESS_DENIED' });
    await assert.rejects(manager.get('stripe/key'), { code: 'ACCESS_DENIED' });
    await manager.dispose();
  });

  it('applies deny rules over allow rules, per action', async () => {
    const { manager } = setup('ops');
    await manager.set('db/new', 'x');
    await assert.rejects(manager.delete('db/new'), (error: LockboxError) => {
      assert.equal(error.code, 'ACCESS_DENIED');
      assert.match(error.message, /ops may not delete db\/new \(role operator, rule 2: deny delete on db\/\*\*\)/);
      return true;
    });
    await manager.delete('stripe/key');
    await manager.dispose();
  });

  it('denies writes, rotation and rollback to a reader, and filters list to what may be listed', async () => {
    const { manager } = setup('bob');
    await assert.rejects(manager.set('db/password', 'x'), { code: 'ACCESS_DENIED' });
    await assert.rejects(manager.rotate('db/password'), { code: 'ACCESS_DENIED' });
    await assert.rejects(manager.rollback('db/password'), { code: 'ACCESS_DENIED' });
    await assert.rejects(manager.setMany([{ name: 'db/a', value: 'x' }]), { code: 'ACCESS_DENIED' });
    assert.deepEqual((await manager.list()).map((l) => l.name), ['db/password', 'db/user']);
    await manager.dispose();
  });

  it('denies a principal with no rules everything (default deny)', async () => {
    const { manager } = setup('mallory');
    await assert.rejects(manager.get('db/password'), (error: LockboxError) => {
      assert.equal(error.code, 'ACCESS_DENIED');
      assert.match(error.message, /principal mallory has no roles/);
      return true;
    });
    await manager.dispose();
  });

  it('resolve() reports a denied reference in its one error', async () => {
    const { manager } = setup('bob');
    await assert.rejects(manager.resolve('a=${secret:db/user} b=${secret:stripe/key}'), (error: LockboxError) => {
      assert.equal(error.code, 'UNRESOLVED_REFERENCES');
      assert.match(error.message, /stripe\/key/);
      assert.match(error.message, /ACCESS_DENIED|access denied/);
      return true;
    });
    await manager.dispose();
  });
});

describe('manager guard: audit', () => {
  it('records every operation with principal, action, outcome, provider and version — never the value', async () => {
    const { manager, events } = setup('ops', { reads: 'sync' });
    await manager.set('app/token', CANARY);
    await manager.get('app/token');
    await manager.get('no/such');
    await manager.rotate('app/token');
    await manager.rollback('app/token', '1');
    await manager.versions('app/token');
    await manager.list('app/');
    await manager.delete('app/token');
    await manager.dispose();
    const summary = events.map((e) => `${e.action}:${e.outcome}:${e.name ?? ''}:${e.version ?? ''}:${e.errorCode ?? ''}`);
    assert.deepEqual(summary, [
      'write:success:app/token:1:', 'read:success:app/token::', 'read:failure:no/such::NOT_FOUND',
      'rotate:success:app/token:2:', 'rollback:success:app/token:3:', 'versions:success:app/token::',
      'list:success:app/::', 'delete:success:app/token::',
    ]);
    for (const event of events) {
      assert.equal(event.principal, 'ops');
      assert.ok(!JSON.stringify(event).includes(CANARY));
    }
    assert.equal(events[0]!.provider, 'mem');
  });

  it('records denials with outcome denied and errorCode ACCESS_DENIED', async () => {
    const { manager, events } = setup('bob', { reads: 'sync' });
    await assert.rejects(manager.set('db/password', 'x'));
    await assert.rejects(manager.get('stripe/key'));
    await manager.dispose();
    assert.deepEqual(events.map((e) => [e.action, e.outcome, e.name, e.errorCode]), [
      ['write', 'denied', 'db/password', 'ACCESS_DENIED'],
      ['read', 'denied', 'stripe/key', 'ACCESS_DENIED'],
    ]);
  });

  it('coalesces identical batched reads into one event with a count, written on dispose', async () => {
    const { manager, events } = setup('bob');
    for (let i = 0; i < 1000; i++) await manager.get('db/password');
    await manager.get('db/user');
    assert.equal(events.length, 0, 'batched reads wait for the flush interval');
    await manager.dispose();
    const reads = events.filter((e) => e.action === 'read');
    assert.deepEqual(reads.map((e) => [e.name, e.count ?? 1]), [['db/password', 1000], ['db/user', 1]]);
  });

  it('fails a write whose event cannot be written with AUDIT_WRITE_FAILED', async () => {
    const { manager } = setup('ops', { failing: true });
    await assert.rejects(manager.set('app/x', CANARY), (error: LockboxError) => {
      assert.equal(error.code, 'AUDIT_WRITE_FAILED');
      assert.match(error.message, /disk full/);
      assert.ok(!error.message.includes(CANARY));
      return true;
    });
  });

  it('fails a sync read whose event cannot be written, unless on_failure is warn', async () => {
    const strict = setup('ops', { failing: true, reads: 'sync' });
    await assert.rejects(strict.manager.get('db/user'), { code: 'AUDIT_WRITE_FAILED' });
    const lenient = setup('ops', { failing: true, reads: 'sync', onFailure: 'warn' });
    assert.equal((await lenient.manager.get('db/user'))?.value.reveal(), 'app');
    assert.equal(lenient.warnings.length, 1);
    assert.match(lenient.warnings[0]!, /audit event for read db\/user not written/);
    await assert.rejects(lenient.manager.set('app/y', 'v'), { code: 'AUDIT_WRITE_FAILED' }, 'writes still fail in warn mode');
  });

  it('a failed batched flush makes the next operation fail (mode fail)', async () => {
    const { manager } = setup('ops', { failing: true });
    await manager.get('db/user');
    await assert.rejects(manager.flushAudit(), { code: 'AUDIT_WRITE_FAILED' });
    await assert.rejects(manager.get('db/user'), { code: 'AUDIT_WRITE_FAILED' });
  });
});

describe('manager guard: hash-chained audit file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-guard-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a verifiable chain with no value in it', async () => {
    const path = join(dir, 'audit.jsonl');
    const manager = new SecretManager({
      providers: [memory('mem')], principal: 'svc-api', audit: await AuditLog.open({ sinks: [jsonlFileSink(path)] }),
    });
    await manager.set('db/password', CANARY);
    for (let i = 0; i < 5; i++) await manager.get('db/password');
    await manager.dispose();
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes(CANARY));
    assert.deepEqual(await verifyAuditFile(path), { ok: true, events: 2 });
    assert.match(text, /"action":"read","outcome":"success","provider":"mem","name":"db\/password","count":5/);
  });
});
