/**
 * The local provider's getMany: several reads in one read transaction, answering exactly as one
 * `get` per ref would (order, null for missing, versions and labels, tenants, expiry, deletion).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { LockboxError } from '../../src/errors.js';
import { create, generateMasterKey, type LocalProvider } from '../../src/providers/local.js';
import { SecretValue } from '../../src/secret-value.js';
import type { SecretRecord, SecretRef } from '../../src/types.js';

const dirs: string[] = [];
after(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }); });

function freshProvider(): LocalProvider {
  const dir = mkdtempSync(join(tmpdir(), 'lockbox-getmany-'));
  dirs.push(dir);
  return create('local', {}, { baseDir: dir, env: { LOCKBOX_MASTER_KEY: generateMasterKey() } });
}

const summary = (record: SecretRecord | null) => (record === null ? null : {
  value: record.value.reveal(), version: record.metadata.version, labels: record.metadata.labels, scope: record.metadata.scope,
});

async function put(provider: LocalProvider, name: string, value: string, opts: { scope?: string; pending?: boolean; expiresAt?: Date } = {}) {
  return provider.set({ name, scope: opts.scope }, new SecretValue(value), { pending: opts.pending, expiresAt: opts.expiresAt });
}

describe('local store: getMany', () => {
  it('answers one entry per ref, in the order given, null for names it does not hold', async () => {
    const provider = freshProvider();
    await put(provider, 'app/a', 'canary-a');
    await put(provider, 'app/b', 'canary-b');
    const refs: SecretRef[] = [{ name: 'app/b' }, { name: 'missing/one' }, { name: 'app/a' }, { name: 'app/b' }];
    const records = await provider.getMany(refs);
    assert.deepEqual(records.map((r) => r?.value.reveal() ?? null), ['canary-b', null, 'canary-a', 'canary-b']);
    assert.deepEqual(records.map((r) => r?.provider ?? null), ['local', null, 'local', 'local']);
    assert.deepEqual(await provider.getMany([]), []);
    await provider.dispose();
  });

  it('gives for each ref exactly what get gives: numbered versions, labels, pending and tenants', async () => {
    const provider = freshProvider();
    await put(provider, 'db/password', 'canary-v1');
    await put(provider, 'db/password', 'canary-v2');
    await put(provider, 'db/password', 'canary-v3', { pending: true });
    await put(provider, 'db/password', 'canary-acme', { scope: 'acme' });
    const refs: SecretRef[] = [
      { name: 'db/password' }, { name: 'db/password', version: 'previous' }, { name: 'db/password', version: 'pending' },
      { name: 'db/password', version: '1' }, { name: 'db/password', version: '2' }, { name: 'db/password', version: '9' },
      { name: 'db/password', scope: 'acme' }, { name: 'db/password', scope: 'other' },
    ];
    const many = await provider.getMany(refs);
    const one = await Promise.all(refs.map((ref) => provider.get(ref)));
    assert.deepEqual(many.map(summary), one.map(summary));
    assert.deepEqual(many.map(summary), [
      { value: 'canary-v2', version: '2', labels: ['current'], scope: undefined },
      { value: 'canary-v1', version: '1', labels: ['previous'], scope: undefined },
      { value: 'canary-v3', version: '3', labels: ['pending'], scope: undefined },
      { value: 'canary-v1', version: '1', labels: ['previous'], scope: undefined },
      { value: 'canary-v2', version: '2', labels: ['current'], scope: undefined },
      null,
      { value: 'canary-acme', version: '1', labels: ['current'], scope: 'acme' },
      null,
    ]);
    await provider.dispose();
  });

  it('gives null for expired, soft-deleted and destroyed secrets, and the value again after undelete', async () => {
    const provider = freshProvider();
    await put(provider, 'eph/token', 'canary-expired', { expiresAt: new Date(Date.now() + 50) });
    await put(provider, 'gone/soft', 'canary-soft');
    await put(provider, 'gone/hard', 'canary-hard');
    await put(provider, 'kept', 'canary-kept');
    await provider.delete({ name: 'gone/soft' });
    await provider.delete({ name: 'gone/hard' }, { mode: 'destroy' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const refs = [{ name: 'eph/token' }, { name: 'gone/soft' }, { name: 'gone/hard' }, { name: 'kept' }];
    assert.deepEqual((await provider.getMany(refs)).map((r) => r?.value.reveal() ?? null), [null, null, null, 'canary-kept']);
    await provider.undelete({ name: 'gone/soft' });
    assert.deepEqual((await provider.getMany(refs)).map((r) => r?.value.reveal() ?? null), [null, 'canary-soft', null, 'canary-kept']);
    await provider.dispose();
  });

  it('rejects an invalid name or version with the rule broken, and no value in the message', async () => {
    const provider = freshProvider();
    await put(provider, 'ok', 'canary-invalid-1');
    await assert.rejects(provider.getMany([{ name: 'ok' }, { name: '../escape' }]), (error: LockboxError) => {
      assert.equal(error.code, 'INVALID_NAME');
      assert.match(error.message, /"\.\." segments are not allowed/);
      assert.ok(!error.message.includes('canary-invalid-1'));
      return true;
    });
    await assert.rejects(provider.getMany([{ name: 'ok' }, { name: 'ok', version: 'latest' }]), (error: LockboxError) => {
      assert.equal(error.code, 'INVALID_INPUT');
      assert.match(error.message, /invalid version "latest"/);
      return true;
    });
    await provider.dispose();
  });
});
