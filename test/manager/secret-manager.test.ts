import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LockboxError, ProviderUnavailableError } from '../../src/errors.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as createEnv } from '../../src/providers/env.js';
import { create as createMemory } from '../../src/providers/memory.js';
import { SecretValue } from '../../src/secret-value.js';
import { flaky } from './helpers.js';

const code = (expected: string) => (error: unknown) => {
  assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
  assert.equal(error.code, expected);
  return true;
};

describe('SecretManager', () => {
  it('looks a name up along the chain, primary before fallback', async () => {
    const manager = new SecretManager({ providers: [createMemory('primary', { secrets: { a: 'from-primary' } }), flaky('fallback', { a: 'x', b: 'from-fallback' }, true)] });
    assert.equal((await manager.get('a'))?.provider, 'primary');
    assert.equal((await manager.get('b'))?.value.reveal(), 'from-fallback');
    assert.equal(await manager.get('c'), null);
    await assert.rejects(manager.require('c'), (error: LockboxError) => {
      assert.equal(error.code, 'NOT_FOUND');
      assert.match(error.message, /secret c not found/);
      return true;
    });
  });

  it('tries every provider for the tenant before any global value', async () => {
    const primary = createMemory('primary', { secrets: { key: 'global-primary' } });
    const fallback = flaky('fallback', {}, false);
    await fallback.set!({ name: 'key', scope: 'acme' }, new SecretValue('acme-fallback'));
    const manager = new SecretManager({ providers: [primary, fallback] });
    assert.equal((await manager.get('key', { scope: 'acme' }))?.value.reveal(), 'acme-fallback');
    assert.equal((await manager.get('key', { scope: 'globex' }))?.value.reveal(), 'global-primary');
    const strict = new SecretManager({ providers: [createMemory('m', { secrets: { key: 'g' } })], tenantFallback: false });
    assert.equal(await strict.get('key', { scope: 'globex' }), null);
  });

  it('prefers a later provider\'s tenant value over an earlier provider\'s own global fallback', async () => {
    const env = createEnv('env', {}, { baseDir: '/', env: { KEY: 'global-env' } });
    const store = createMemory('store');
    await store.set!({ name: 'key', scope: 'acme' }, new SecretValue('acme-store'));
    const manager = new SecretManager({ providers: [env, store] });
    for (let i = 0; i < 2; i++) assert.equal((await manager.get('key', { scope: 'acme' }))?.value.reveal(), 'acme-store');
    assert.equal((await manager.get('key', { scope: 'globex' }))?.value.reveal(), 'global-env');
  });

  it('falls back past a transient failure, and reports it when nothing else has the secret', async () => {
    const down = flaky('down', { a: 'x' });
    down.failWith = new ProviderUnavailableError('down', 'connection refused');
    const manager = new SecretManager({ providers: [down, flaky('backup', { a: 'from-backup' }, true)], cache: false });
    assert.equal((await manager.get('a'))?.value.reveal(), 'from-backup');
    await assert.rejects(manager.get('missing'), code('PROVIDER_UNAVAILABLE'));
  });

  it('writes to the first writable provider, or the one named, and refuses read-only ones', async () => {
    const readOnly = flaky('ro', {}, true);
    const writable = createMemory('rw');
    const manager = new SecretManager({ providers: [readOnly, writable] });
    const meta = await manager.set('db/password', 's3cr3t');
    assert.equal(meta.version, '1');
    assert.equal((await manager.get('db/password'))?.provider, 'rw');
    await assert.rejects(manager.set('x', 'v', { provider: 'ro' }), (error: LockboxError) => {
      assert.equal(error.code, 'CAPABILITY');
      assert.equal(error.message, 'provider "ro" does not support writes');
      return true;
    });
    const onlyReadOnly = new SecretManager({ providers: [flaky('ro2', {}, true)] });
    await assert.rejects(onlyReadOnly.set('x', 'v'), (error: LockboxError) => {
      assert.equal(error.code, 'CAPABILITY');
      assert.match(error.hint ?? '', /lockbox init/);
      return true;
    });
  });

  it('names the unknown provider id and lists the known ones', async () => {
    const manager = new SecretManager({ providers: [createMemory('m')] });
    await assert.rejects(manager.get('a', { provider: 'nope' }), (error: LockboxError) => {
      assert.equal(error.code, 'UNKNOWN_PROVIDER');
      assert.equal(error.message, 'no provider with id "nope"');
      assert.match(error.hint ?? '', /m/);
      return true;
    });
    assert.throws(() => new SecretManager({ providers: [createMemory('m')], chain: ['m', 'x'] }), code('UNKNOWN_PROVIDER'));
  });

  it('rejects invalid names before any provider sees them', async () => {
    const manager = new SecretManager({ providers: [createMemory('m')] });
    for (const name of ['../x', '/abs', 'a//b', 'é'.repeat(300)]) {
      assert.throws(() => manager.get(name), code('INVALID_NAME'));
    }
  });

  it('extracts #field from JSON values, with typed errors otherwise', async () => {
    const manager = new SecretManager({ providers: [createMemory('m', { secrets: { doc: '{"user":"u","nested":{"pass":"p"}}', plain: 'canary-plain-value' } })] });
    assert.equal((await manager.get('doc', { field: 'user' }))?.value.reveal(), 'u');
    assert.equal((await manager.get('doc', { field: '/nested/pass' }))?.value.reveal(), 'p');
    await assert.rejects(manager.get('plain', { field: 'x' }), (error: LockboxError) => {
      assert.equal(error.code, 'FIELD_NOT_JSON');
      assert.equal(error.message, 'cannot read field "x" of secret plain#x: its value is not a JSON object');
      assert.ok(!error.message.includes('canary'));
      return true;
    });
    await assert.rejects(manager.get('doc', { field: 'nope' }), code('FIELD_NOT_FOUND'));
  });

  it('keeps versions: rollback writes the old value as a new current version', async () => {
    const manager = new SecretManager({ providers: [createMemory('m')] });
    await manager.set('k', 'v1');
    await manager.set('k', 'v2');
    const rolled = await manager.rollback('k', '1');
    assert.equal(rolled.version, '3');
    assert.equal((await manager.get('k'))?.value.reveal(), 'v1');
    assert.equal((await manager.getVersion('k', 'previous'))?.value.reveal(), 'v2');
    assert.deepEqual((await manager.versions('k')).map((v) => [v.version, v.labels]), [['1', []], ['2', ['previous']], ['3', ['current']]]);
    await assert.rejects(manager.rollback('k', '9'), code('NOT_FOUND'));
  });

  it('rotates to a given or generated value and keeps the old one as previous', async () => {
    const manager = new SecretManager({ providers: [createMemory('m')] });
    await manager.set('api', 'old-value');
    await manager.rotate('api', { generate: 40 });
    const current = (await manager.get('api'))!.value.reveal();
    assert.equal(current.length, 40);
    assert.equal((await manager.getVersion('api', 'previous'))?.value.reveal(), 'old-value');
    await manager.rotate('api', { value: 'explicit' });
    assert.equal((await manager.get('api'))?.value.reveal(), 'explicit');
  });

  it('invalidates the cache on writes and deletes through it', async () => {
    const manager = new SecretManager({ providers: [createMemory('m')] });
    await manager.set('k', 'v1');
    assert.equal((await manager.get('k'))?.value.reveal(), 'v1');
    await manager.set('k', 'v2');
    assert.equal((await manager.get('k'))?.value.reveal(), 'v2');
    await manager.delete('k');
    assert.equal(await manager.get('k'), null);
    await manager.undelete('k');
    assert.equal((await manager.get('k'))?.value.reveal(), 'v2');
  });

  it('lists names across the chain with the provider that holds each', async () => {
    const manager = new SecretManager({ providers: [createMemory('a', { secrets: { 'db/x': '1' } }), flaky('b', { 'db/x': '2', 'db/y': '3', other: '4' }, true)] });
    assert.deepEqual((await manager.list('db/')).map((l) => [l.name, l.provider]), [['db/x', 'a'], ['db/y', 'b']]);
  });

  it('reports health per provider and metrics with cache counters', async () => {
    const down = flaky('down');
    down.health = async () => { throw Object.assign(new Error('boom'), { code: 'ECONNREFUSED' }); };
    const manager = new SecretManager({ providers: [createMemory('m', { secrets: { k: 'v' } }), down] });
    const health = await manager.health();
    assert.equal(health.status, 'degraded');
    assert.deepEqual(health.providers.map((p) => [p.provider, p.status]), [['m', 'ready'], ['down', 'down']]);
    await manager.get('k');
    await manager.get('k');
    await manager.getMany(['k', 'k']);
    const metrics = manager.metrics();
    assert.equal(metrics.operations.get, 4);
    assert.equal(metrics.cache.misses, 1);
    assert.equal(metrics.cache.hits, 3);
    assert.equal(metrics.cache.hitRate, 0.75);
  });

  it('registers every value it reads with the redactor', async () => {
    const seen: string[] = [];
    const manager = new SecretManager({
      providers: [createMemory('m', { secrets: { doc: '{"a":"inner-value"}' } })],
      redactor: { register: (value) => seen.push(value.reveal()) },
    });
    await manager.get('doc', { field: 'a' });
    assert.deepEqual(seen, ['{"a":"inner-value"}', 'inner-value']);
  });
});
