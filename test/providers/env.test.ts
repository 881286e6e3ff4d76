import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { create, normaliseEnvName } from '../../src/providers/env.js';
import type { Provider } from '../../src/types.js';
import { providerContract } from './contract.js';

/**
 * env lists variable suffixes (`DB_PASSWORD`), not the contract's seeded names (`db/password`),
 * so the shared suite runs against a view without list(); env's own list tests are below.
 */
function withoutList(provider: Provider): Provider {
  return {
    id: provider.id, type: provider.type, capabilities: { ...provider.capabilities, list: false },
    get: (ref) => provider.get(ref), health: () => provider.health(),
  };
}

providerContract('env (list excluded)', async (seed) => {
  const env: Record<string, string> = { PATH: '/usr/bin' };
  for (const [name, value] of Object.entries(seed)) env[`LBX_${normaliseEnvName(name)}`] = value;
  return { provider: withoutList(create('env', { prefix: 'LBX_' }, { baseDir: '/', env })) };
});

const context = (env: Record<string, string | undefined>) => ({ baseDir: '/', env });

describe('env provider', () => {
  it('normalises names: upper case, runs of "/", "." and "-" become one "_", underscores kept', () => {
    assert.equal(normaliseEnvName('stripe/api-key.v2'), 'STRIPE_API_KEY_V2');
    assert.equal(normaliseEnvName('db/password'), 'DB_PASSWORD');
    assert.equal(normaliseEnvName('a/-.b'), 'A_B');
    assert.equal(normaliseEnvName('db__host'), 'DB__HOST');
    assert.equal(normaliseEnvName('acme-eu'), 'ACME_EU');
  });

  it('reads {PREFIX}{NAME} and ignores variables without the prefix', async () => {
    const provider = create('env', { prefix: 'DATIVO_' }, context({
      DATIVO_STRIPE_API_KEY_V2: 'canary-stripe', S3_ENDPOINT: 'http://minio:9000',
    }));
    const record = await provider.get({ name: 'stripe/api-key.v2' });
    assert.equal(record?.value.reveal(), 'canary-stripe');
    assert.equal(record?.provider, 'env');
    assert.deepEqual(
      { version: record?.metadata.version, labels: record?.metadata.labels, tags: record?.metadata.tags, scope: record?.metadata.scope },
      { version: '1', labels: ['current'], tags: {}, scope: undefined },
    );
    assert.equal(await provider.get({ name: 's3/endpoint' }), null);
  });

  it('looks up {PREFIX}{TENANT}_{NAME} before the global {PREFIX}{NAME}', async () => {
    const provider = create('env', { prefix: 'DATIVO_' }, context({
      DATIVO_ACME_STRIPE_API_KEY: 'canary-acme', DATIVO_STRIPE_API_KEY: 'canary-global', DATIVO_ACME_EU_TOKEN: 'canary-eu',
    }));
    const tenant = await provider.get({ name: 'stripe/api-key', scope: 'acme' });
    assert.equal(tenant?.value.reveal(), 'canary-acme');
    assert.equal(tenant?.metadata.scope, 'acme');
    const fallback = await provider.get({ name: 'stripe/api-key', scope: 'globex' });
    assert.equal(fallback?.value.reveal(), 'canary-global');
    assert.equal(fallback?.metadata.scope, undefined, 'a global answer says so');
    assert.equal((await provider.get({ name: 'token', scope: 'acme-eu' }))?.value.reveal(), 'canary-eu');
    assert.equal((await provider.get({ name: 'stripe/api-key' }))?.value.reveal(), 'canary-global');
  });

  it('does not fall back to the global variable when tenant_fallback is false', async () => {
    const provider = create('env', { tenant_fallback: false }, context({ ACME_KEY: 'canary-acme', KEY: 'canary-global' }));
    assert.equal((await provider.get({ name: 'key', scope: 'acme' }))?.value.reveal(), 'canary-acme');
    assert.equal(await provider.get({ name: 'key', scope: 'globex' }), null);
    assert.equal((await provider.get({ name: 'key' }))?.value.reveal(), 'canary-global');
  });

  it('reads the environment on every call, so a changed variable is seen', async () => {
    const env: Record<string, string | undefined> = {};
    const provider = create('env', {}, context(env));
    assert.equal(await provider.get({ name: 'token' }), null);
    env.TOKEN = 'canary-one';
    assert.equal((await provider.get({ name: 'token' }))?.value.reveal(), 'canary-one');
    env.TOKEN = undefined;
    assert.equal(await provider.get({ name: 'token' }), null);
  });

  it('treats a variable set to the empty string as set', async () => {
    const provider = create('env', {}, context({ ACME_TOKEN: '', TOKEN: 'canary-global' }));
    assert.equal((await provider.get({ name: 'token', scope: 'acme' }))?.value.reveal(), '');
  });

  it('has one version: "current" and "1" find it, other selectors give null', async () => {
    const provider = create('env', {}, context({ TOKEN: 'canary-v' }));
    assert.equal((await provider.get({ name: 'token', version: 'current' }))?.value.reveal(), 'canary-v');
    assert.equal((await provider.get({ name: 'token', version: '1' }))?.value.reveal(), 'canary-v');
    assert.equal(await provider.get({ name: 'token', version: 'previous' }), null);
    assert.equal(await provider.get({ name: 'token', version: '2' }), null);
  });

  it('returns the whole value and leaves #field to the manager', async () => {
    const provider = create('env', {}, context({ DOC: '{"pass":"canary-pass"}' }));
    assert.equal((await provider.get({ name: 'doc', field: 'pass' }))?.value.reveal(), '{"pass":"canary-pass"}');
  });

  it('rejects a scope with "/" as INVALID_NAME', async () => {
    const provider = create('env', {}, context({ TOKEN: 'canary' }));
    await assert.rejects(provider.get({ name: 'token', scope: 'a/b' }), (error: unknown) => {
      assert.ok(error instanceof LockboxError);
      assert.equal(error.code, 'INVALID_NAME');
      assert.match(error.message, /single segment/);
      return true;
    });
  });

  it('lists the variable suffixes under the prefix, each readable back through get', async () => {
    const env = {
      LBX_DB_PASSWORD: 'canary-db', LBX_DB_USER: 'app', LBX_STRIPE_API_KEY: 'canary-stripe',
      LBX_lower_case: 'unreachable', LBX_ACME_TOKEN: 'canary-acme', HOME: '/root',
    };
    const provider = create('env', { prefix: 'LBX_' }, context(env));
    const all = await provider.list!();
    assert.deepEqual(all.map((l) => l.name), ['ACME_TOKEN', 'DB_PASSWORD', 'DB_USER', 'STRIPE_API_KEY']);
    for (const listing of all) assert.ok(await provider.get({ name: listing.name }), `${listing.name} reads back`);
    assert.deepEqual((await provider.list!('db/')).map((l) => l.name), ['DB_PASSWORD', 'DB_USER']);
    assert.deepEqual((await provider.list!('DB_P')).map((l) => l.name), ['DB_PASSWORD']);
    const scoped = await provider.list!('', 'acme');
    assert.deepEqual(scoped.map((l) => [l.name, l.scope]), [['TOKEN', 'acme']]);
    assert.equal((await provider.get({ name: 'TOKEN', scope: 'acme' }))?.value.reveal(), 'canary-acme');
  });

  it('is read-only and always healthy', async () => {
    const provider = create('env', {}, context({}));
    assert.deepEqual(provider.capabilities, { write: false, delete: false, list: true, versions: false, watch: false });
    assert.equal(provider.set, undefined);
    assert.equal((await provider.health()).status, 'ready');
  });

  it('rejects unknown options with INVALID_INPUT naming the provider and the key', () => {
    assert.throws(() => create('env-main', { secrets_dir: '/x' } as never, context({})), (error: unknown) => {
      assert.ok(error instanceof LockboxError);
      assert.equal(error.code, 'INVALID_INPUT');
      assert.match(error.message, /provider "env-main"/);
      assert.match(error.message, /secrets_dir/);
      return true;
    });
  });
});
