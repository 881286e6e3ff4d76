/**
 * manager.getMany through a provider that has getMany: the reads go to it as one call, while
 * access checks, audit, `#field`, redaction and the cache stay per name, as for `get`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compilePolicy } from '../../src/access/index.js';
import { AuditLog, functionSink, type AuditEntry } from '../../src/audit/index.js';
import type { LockboxError } from '../../src/errors.js';
import { SecretManager, type SecretManagerOptions } from '../../src/manager/secret-manager.js';
import { create as createLocal, generateMasterKey } from '../../src/providers/local.js';
import { create as createMemory } from '../../src/providers/memory.js';
import type { SecretValue } from '../../src/secret-value.js';

const dir = mkdtempSync(join(tmpdir(), 'lockbox-mgr-getmany-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const key = generateMasterKey();
const local = () => createLocal('local', { path: join(dir, 'store.db') }, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: key } });

/** A registry recording what the manager registers for masking. */
function recordingRedactor(): { registered: string[]; register: (value: SecretValue) => void } {
  const registered: string[] = [];
  return { registered, register: (value) => registered.push(value.reveal()) };
}

function calls(manager: SecretManager, operation: string): number {
  return manager.metrics().providers.local?.operations[operation]?.calls ?? 0;
}

describe('manager.getMany with a provider getMany', async () => {
  const seed = new SecretManager({ providers: [local()] });
  await seed.setMany([
    { name: 'db/password', value: 'canary-db' },
    { name: 'db/json', value: JSON.stringify({ user: 'app', pass: 'canary-field' }) },
    { name: 'stripe/key', value: 'canary-stripe' },
    { name: 'db/password', value: 'canary-acme', options: { scope: 'acme' } },
  ]);
  await seed.dispose();
  const open = (options: Partial<SecretManagerOptions> = {}) => new SecretManager({ providers: [local()], ...options });

  it('reads through one provider getMany (cache off): values in order, null for missing, fields applied, every value registered', async () => {
    const redactor = recordingRedactor();
    const manager = open({ cache: false, redactor });
    const records = await manager.getMany(['stripe/key', 'no/such', { name: 'db/json', field: 'pass' }, 'db/password']);
    assert.deepEqual(records.map((r) => r?.value.reveal() ?? null), ['canary-stripe', null, 'canary-field', 'canary-db']);
    assert.equal(calls(manager, 'getMany'), 1);
    assert.equal(calls(manager, 'get'), 0);
    assert.equal(manager.metrics().operations.get, 4);
    assert.ok(redactor.registered.includes('canary-stripe') && redactor.registered.includes('canary-field') && redactor.registered.includes('canary-db'));
    await manager.dispose();
  });

  it('serves cache hits from the cache and sends only the misses, in one getMany, caching them', async () => {
    const manager = open();
    assert.equal((await manager.get('db/password'))?.value.reveal(), 'canary-db');
    const records = await manager.getMany(['db/password', 'stripe/key', 'no/such']);
    assert.deepEqual(records.map((r) => r?.value.reveal() ?? null), ['canary-db', 'canary-stripe', null]);
    assert.equal(calls(manager, 'getMany'), 1);
    await manager.getMany(['db/password', 'stripe/key', 'no/such']);
    assert.equal(calls(manager, 'getMany'), 1, 'every answer, not-found included, came from the cache');
    assert.equal(manager.metrics().cache.hits, 4);
    await manager.dispose();
  });

  it('keeps tenant fallback: a tenant value first, else the global one', async () => {
    const manager = open({ cache: false });
    const records = await manager.getMany(['db/password', 'stripe/key'], { scope: 'acme' });
    assert.deepEqual(records.map((r) => [r?.value.reveal(), r?.metadata.scope]), [['canary-acme', 'acme'], ['canary-stripe', undefined]]);
    const named = await manager.getMany(['db/password', 'stripe/key'], { scope: 'acme', provider: 'local' });
    assert.deepEqual(named.map((r) => r?.value.reveal() ?? null), ['canary-acme', null], 'a named provider is asked for the tenant only, as get does');
    await manager.dispose();
  });

  it('keeps chain order across several providers', async () => {
    const manager = new SecretManager({ providers: [createMemory('mem', { secrets: { 'stripe/key': 'canary-mem' } }), local()], cache: false });
    const records = await manager.getMany(['stripe/key', 'db/password']);
    assert.deepEqual(records.map((r) => [r?.value.reveal(), r?.provider]), [['canary-mem', 'mem'], ['canary-db', 'local']]);
    await manager.dispose();
  });

  it('checks access per name and audits every read: a denied name fails the call, allowed reads are recorded', async () => {
    const events: AuditEntry[] = [];
    const manager = open({
      cache: false,
      principal: 'bob',
      access: compilePolicy({ roles: { reader: [{ allow: ['read'], secrets: ['db/**'] }] }, principals: { bob: ['reader'] } }),
      audit: new AuditLog({ sinks: [functionSink((entry) => { events.push(entry); })] }),
      auditOptions: { reads: 'sync' },
    });
    const allowed = await manager.getMany(['db/password', 'db/missing']);
    assert.deepEqual(allowed.map((r) => r?.value.reveal() ?? null), ['canary-db', null]);
    await assert.rejects(manager.getMany(['db/password', 'stripe/key']), (error: LockboxError) => {
      assert.equal(error.code, 'ACCESS_DENIED');
      assert.match(error.message, /bob may not read stripe\/key/);
      assert.ok(!error.message.includes('canary'));
      return true;
    });
    await manager.dispose();
    assert.deepEqual(events.map((e) => [e.action, e.outcome, e.name, e.errorCode ?? null]), [
      ['read', 'success', 'db/password', null],
      ['read', 'failure', 'db/missing', 'NOT_FOUND'],
      ['read', 'denied', 'stripe/key', 'ACCESS_DENIED'],
      ['read', 'success', 'db/password', null],
    ]);
    for (const event of events) assert.ok(!JSON.stringify(event).includes('canary'));
  });
});
