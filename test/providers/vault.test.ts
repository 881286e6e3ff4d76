/**
 * The vault provider against the Vault emulator (test/emulators/vault.ts) over real HTTP: the
 * contract suite, both layouts of seed 002, versions/labels, check-and-set, token/AppRole/
 * Kubernetes auth with renewal (a fake clock shared by the client and the emulator), TLS, health
 * and every bad input of issue 4 that applies to Vault.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LockboxError, type ErrorCode } from '../../src/errors.js';
import { SecretValue } from '../../src/secret-value.js';
import { create, createVaultClient, createWithClient, optionsSchema, vaultClientConfig, type VaultOptions } from '../../src/providers/vault.js';
import { startVaultEmulator, type VaultEmulator } from '../emulators/vault.js';
import { rawVault, selfSignedCertificate } from '../emulators/vault-fixtures.js';
import { providerContract } from './contract.js';

const tmp = mkdtempSync(join(tmpdir(), 'lockbox-vault-'));
const clock = { now: Date.now() };
let vault: VaultEmulator;
let authVault: VaultEmulator;
let seq = 0;

before(async () => {
  vault = await startVaultEmulator({ maxRequestBytes: 64 * 1024 });
  authVault = await startVaultEmulator({
    now: () => clock.now,
    approle: { roleId: 'role-1', secretId: 'canary-approle-secret', tokenTtl: 60, tokenMaxTtl: 100 },
    kubernetes: { role: 'app', jwt: 'canary.jwt.token', tokenTtl: 30, renewable: false },
  });
});
after(async () => {
  await vault.close();
  await authVault.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A provider on the main emulator in a namespace of its own (isolated data). */
function fresh(options: Partial<VaultOptions> = {}, env: Record<string, string> = {}) {
  const ns = `ns-${++seq}`;
  const provider = create(`vault-${seq}`, { url: vault.url, token: vault.rootToken, namespace: ns, retry_base_ms: 1, ...options }, { baseDir: tmp, env });
  return { provider, ns };
}

/** A provider on the auth emulator whose client shares the emulator's fake clock. */
function withClock(options: Partial<VaultOptions>) {
  const id = `vault-auth-${++seq}`;
  const parsed = optionsSchema.parse({ url: authVault.url, retry_base_ms: 1, ...options });
  return createWithClient(id, parsed, createVaultClient(vaultClientConfig(id, parsed, { baseDir: tmp, env: {} }, () => clock.now)));
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, pattern: RegExp, extra: { transient?: boolean; canaries?: string[] } = {}): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    if (extra.transient !== undefined) assert.equal(error.transient, extra.transient);
    for (const canary of extra.canaries ?? []) {
      for (const text of [error.message, error.hint ?? '', String(error.stack)]) assert.ok(!text.includes(canary), `leaked ${canary}`);
    }
    return true;
  });
}

const value = (text: string): SecretValue => new SecretValue(text);
const count = (server: VaultEmulator, path: string): number => server.log.filter((entry) => entry.path === path).length;

for (const layout of ['auto', 'per-secret'] as const) {
  providerContract(`vault ${layout} (emulator)`, async (seed) => {
    const { provider } = fresh({ layout });
    for (const [name, text] of Object.entries(seed)) await provider.set({ name }, value(text));
    return { provider };
  });
}

describe('vault provider: layouts', () => {
  it('document layout: one KV entry per tenant, global secrets in the global document, one read per document', async () => {
    const { provider, ns } = fresh({ layout: 'document' });
    await rawVault(vault, 'POST', 'secret/data/acme', { namespace: ns, body: { data: { stripe_api_key: 'sk_live_canary', database_password: 'canary-db-123' } } });
    const record = await provider.get({ scope: 'acme', name: 'stripe_api_key' });
    assert.equal(record?.value.reveal(), 'sk_live_canary');
    assert.deepEqual([record?.metadata.version, record?.metadata.labels], ['1', ['current']]);
    await provider.set({ name: 'nessie_uri' }, value('http://nessie:19120'));
    await provider.set({ scope: 'acme', name: 'hubspot_api_key' }, value('pat-canary'));
    assert.deepEqual((await rawVault(vault, 'GET', 'secret/data/global', { namespace: ns })).body.data.data, { nessie_uri: 'http://nessie:19120' });
    assert.equal((await rawVault(vault, 'GET', 'secret/data/acme', { namespace: ns })).body.data.metadata.version, 2);
    assert.deepEqual((await provider.list('', 'acme')).map((l) => l.name), ['database_password', 'hubspot_api_key', 'stripe_api_key']);
    vault.resetRequests();
    const many = await provider.getMany([
      { scope: 'acme', name: 'stripe_api_key' }, { scope: 'acme', name: 'database_password' }, { name: 'nessie_uri' },
      { scope: 'acme', name: 'hubspot_api_key' }, { scope: 'acme', name: 'missing' },
    ]);
    assert.deepEqual(many.map((r) => r?.value.reveal() ?? null), ['sk_live_canary', 'canary-db-123', 'http://nessie:19120', 'pat-canary', null]);
    assert.equal(vault.requests, 2, 'one read per tenant document');
    await provider.delete({ scope: 'acme', name: 'hubspot_api_key' });
    assert.equal(await provider.get({ scope: 'acme', name: 'hubspot_api_key' }), null);
    await provider.undelete({ scope: 'acme', name: 'hubspot_api_key' });
    assert.equal((await provider.get({ scope: 'acme', name: 'hubspot_api_key' }))?.value.reveal(), 'pat-canary');
    await rejectsWith(provider.delete({ scope: 'acme', name: 'stripe_api_key' }, { mode: 'destroy' }), 'CAPABILITY', /destroy in the document layout/);
    await rejectsWith(provider.set({ scope: 'acme', name: 'x' }, value('v'), { expiresAt: new Date() }), 'CAPABILITY', /expiresAt/);
    await rejectsWith(provider.get({ scope: 'global', name: 'x' }), 'NAME_UNMAPPABLE', /tenant "global" cannot be mapped: rule: .*global_document/);
  });

  it('document layout: concurrent writers of different keys both land (check-and-set, retried)', async () => {
    const { provider, ns } = fresh({ layout: 'document' });
    vault.delayMs = 15;
    try {
      await Promise.all([provider.set({ scope: 't', name: 'a' }, value('1')), provider.set({ scope: 't', name: 'b' }, value('2'))]);
    } finally {
      vault.delayMs = 0;
    }
    assert.deepEqual((await rawVault(vault, 'GET', 'secret/data/t', { namespace: ns })).body.data.data, { a: '1', b: '2' });
  });

  it('per-secret layout: {tenant}/{name} and {name}, a value per entry, one read per secret', async () => {
    const { provider, ns } = fresh({ layout: 'per-secret' });
    await provider.set({ scope: 'acme', name: 'db/password' }, value('canary-acme-db'));
    await provider.set({ name: 'db/password' }, value('canary-global-db'));
    const stored = await rawVault(vault, 'GET', 'secret/data/acme/db/password', { namespace: ns });
    assert.deepEqual(stored.body.data.data, { value: 'canary-acme-db' });
    assert.equal(stored.body.data.metadata.custom_metadata.lockbox_owner, 'tenant/acme');
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-global-db');
    await provider.set({ name: 'tagged' }, value('v1'), { tags: { team: 'payments' } });
    await provider.set({ name: 'tagged' }, value('v2'), { tags: {} });
    assert.deepEqual((await provider.get({ name: 'tagged' }))?.metadata.tags, { team: 'payments' }, 'tags live in custom_metadata, kept by a write without tags');
    await rejectsWith(provider.set({ name: 'tagged' }, value('v3'), { tags: { lockbox_owner: 'x' } }), 'INVALID_INPUT', /tag "lockbox_owner" is reserved/);
    assert.deepEqual((await provider.list('db/', 'acme')).map((l) => l.name), ['db/password']);
    await rejectsWith(provider.set({ name: 'acme/db/password' }, value('canary-collide')), 'NAME_UNMAPPABLE',
      /global secret "acme\/db\/password" cannot be mapped: .*secret of tenant "acme".*rule: per-secret paths/, { canaries: ['canary-collide'] });
    assert.equal(await provider.get({ name: 'acme/db/password' }), null, 'a path owned by another address is not this secret');
    await rawVault(vault, 'POST', 'secret/data/acme/stripe', { namespace: ns, body: { data: { api_key: 'k', webhook_secret: 'w' } } });
    assert.deepEqual(JSON.parse((await provider.get({ scope: 'acme', name: 'stripe' }))!.value.reveal()), { api_key: 'k', webhook_secret: 'w' });
    vault.resetRequests();
    const refs = ['db/password', 'stripe', 'nope'].map((name) => ({ scope: 'acme', name }));
    assert.deepEqual((await provider.getMany(refs)).map((r) => (r ? 'found' : null)), ['found', 'found', null]);
    assert.equal(vault.requests, 3);
  });

  it('auto layout: reads per-secret first, then the tenant document; writes per-secret', async () => {
    const { provider, ns } = fresh();
    await rawVault(vault, 'POST', 'secret/data/acme', { namespace: ns, body: { data: { stripe_api_key: 'doc-value', shared: 'from-doc' } } });
    assert.equal((await provider.get({ scope: 'acme', name: 'stripe_api_key' }))?.value.reveal(), 'doc-value');
    await provider.set({ scope: 'acme', name: 'shared' }, value('per-secret-value'));
    assert.equal((await provider.get({ scope: 'acme', name: 'shared' }))?.value.reveal(), 'per-secret-value');
    assert.equal((await rawVault(vault, 'GET', 'secret/data/acme/shared', { namespace: ns })).status, 200);
    assert.deepEqual((await provider.list('', 'acme')).map((l) => l.name), ['shared', 'stripe_api_key']);
    await provider.delete({ scope: 'acme', name: 'shared' });
    assert.equal(await provider.get({ scope: 'acme', name: 'shared' }), null, 'a deleted per-secret secret does not fall back to the document');
    assert.deepEqual((await provider.getMany([{ scope: 'acme', name: 'shared' }, { scope: 'acme', name: 'stripe_api_key' }])).map((r) => r?.value.reveal() ?? null), [null, 'doc-value']);
  });

  it('keeps namespaces apart', async () => {
    const a = fresh({ namespace: 'team-a' }).provider;
    const b = fresh({ namespace: 'team-b' }).provider;
    await a.set({ name: 'only-a' }, value('canary-a'));
    assert.equal(await b.get({ name: 'only-a' }), null);
    assert.equal((await a.get({ name: 'only-a' }))?.value.reveal(), 'canary-a');
  });
});

describe('vault provider: versions', () => {
  it('maps current/previous to Vault versions, skipping deleted and destroyed ones', async () => {
    const { provider } = fresh({ layout: 'per-secret' });
    for (const v of ['canary-v1', 'canary-v2', 'canary-v3']) await provider.set({ name: 'rot' }, value(v));
    assert.equal((await provider.get({ name: 'rot', version: 'previous' }))?.value.reveal(), 'canary-v2');
    await provider.delete({ name: 'rot' }, { version: '2' });
    assert.equal(await provider.get({ name: 'rot', version: '2' }), null);
    const previous = await provider.get({ name: 'rot', version: 'previous' });
    assert.deepEqual([previous?.value.reveal(), previous?.metadata.version, previous?.metadata.labels], ['canary-v1', '1', ['previous']]);
    let versions = await provider.versions({ name: 'rot' });
    assert.deepEqual(versions.map((v) => [v.version, v.labels, Boolean(v.deletedAt), v.destroyed]), [['1', ['previous'], false, false], ['2', [], true, false], ['3', ['current'], false, false]]);
    await provider.delete({ name: 'rot' }, { mode: 'destroy', version: '1' });
    versions = await provider.versions({ name: 'rot' });
    assert.equal(versions[0]?.destroyed, true);
    assert.equal(await provider.get({ name: 'rot', version: 'previous' }), null);
    assert.equal(await provider.get({ name: 'rot', version: 'pending' }), null, 'Vault has no pending stage');
    await rejectsWith(provider.set({ name: 'rot' }, value('canary-p'), { pending: true }), 'CAPABILITY', /pending versions/);
    await rejectsWith(provider.get({ name: 'rot', version: 'abc' }), 'INVALID_INPUT', /version "abc"/);
    await provider.delete({ name: 'rot' });
    assert.equal(await provider.get({ name: 'rot' }), null);
    await provider.undelete({ name: 'rot' });
    assert.equal((await provider.get({ name: 'rot' }))?.value.reveal(), 'canary-v3');
    await provider.delete({ name: 'rot' }, { mode: 'destroy' });
    assert.deepEqual(await provider.versions({ name: 'rot' }), []);
    await rejectsWith(provider.delete({ name: 'rot' }), 'NOT_FOUND', /secret rot not found/);
  });

  it('writes with check-and-set: of two concurrent writers of one secret, one gets CONFLICT', async () => {
    const { provider } = fresh({ layout: 'per-secret' });
    vault.delayMs = 15;
    let results: PromiseSettledResult<unknown>[];
    try {
      results = await Promise.allSettled([provider.set({ name: 'race' }, value('canary-a')), provider.set({ name: 'race' }, value('canary-b'))]);
    } finally {
      vault.delayMs = 0;
    }
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(rejected.length, 1);
    await rejectsWith(Promise.reject(rejected[0]!.reason), 'CONFLICT', /HTTP 400: check-and-set parameter did not match the current version/, { canaries: ['canary-a', 'canary-b'] });
  });
});

describe('vault provider: errors', () => {
  async function warm(options: Partial<VaultOptions> = {}) {
    const { provider } = fresh({ layout: 'per-secret', ...options });
    await provider.set({ name: 'k' }, value('canary-warm'));
    vault.resetRequests();
    return provider;
  }

  it('403 with a valid token is PERMISSION_DENIED (not transient); a rejected token is AUTH_FAILED', async () => {
    const provider = await warm();
    vault.failNext(403);
    await rejectsWith(provider.get({ name: 'k' }), 'PERMISSION_DENIED', /read secret\/data\/k failed with HTTP 403: permission denied/, { transient: false, canaries: ['canary-warm'] });
    assert.deepEqual(vault.log.map((e) => e.path), ['secret/data/k', 'auth/token/lookup-self'], 'lookup-self tells a policy problem from a bad token');
    await rejectsWith(fresh({ token: 'hvs.canary-bad-token' }).provider.get({ name: 'k' }), 'AUTH_FAILED', /Vault rejected the token/, { transient: false, canaries: ['hvs.canary-bad-token'] });
    const token = vault.createToken({ ttl: 600 });
    const revoked = fresh({ token, layout: 'per-secret' }).provider;
    await revoked.get({ name: 'k' });
    vault.revokeToken(token);
    await rejectsWith(revoked.get({ name: 'k' }), 'AUTH_FAILED', /Vault rejected the token/, { transient: false, canaries: [token] });
    vault.failNext(401);
    await rejectsWith(provider.get({ name: 'k' }), 'AUTH_FAILED', /HTTP 401/, { transient: false });
    await rejectsWith(fresh({ mount_point: 'nomount' }).provider.set({ name: 'k' }, value('canary-m')), 'PROVIDER_ERROR', /HTTP 404: no handler for route "nomount\/metadata\/k"/, { canaries: ['canary-m'] });
  });

  it('429 and 5xx are retried (then THROTTLED / PROVIDER_UNAVAILABLE, transient)', async () => {
    const provider = await warm({ retries: 2 });
    vault.failNext(429, 2);
    assert.equal((await provider.get({ name: 'k' }))?.value.reveal(), 'canary-warm');
    assert.equal(vault.requests, 3);
    vault.resetRequests();
    vault.failNext(429, 3);
    await rejectsWith(provider.get({ name: 'k' }), 'THROTTLED', /HTTP 429: request path .* rate limit quota exceeded/, { transient: true });
    assert.equal(vault.requests, 3, 'one call and two retries');
    vault.resetRequests();
    vault.failNext(503, 3);
    await rejectsWith(provider.get({ name: 'k' }), 'PROVIDER_UNAVAILABLE', /HTTP 503: Vault is sealed/, { transient: true });
    assert.equal(vault.requests, 3);
  });

  it('a slow Vault is TIMEOUT; an unreachable one PROVIDER_UNAVAILABLE naming `vault status`', async () => {
    const provider = await warm({ timeout_ms: 50, retries: 0 });
    vault.delayMs = 300;
    try {
      await rejectsWith(provider.get({ name: 'k' }), 'TIMEOUT', /read secret\/data\/k timed out after 50 ms/, { transient: true });
    } finally {
      vault.delayMs = 0;
    }
    const gone = await startVaultEmulator();
    await gone.close();
    const unreachable = create('vault-gone', { url: gone.url, token: 't', retries: 1, retry_base_ms: 1 }, { baseDir: tmp, env: {} });
    await rejectsWith(unreachable.get({ name: 'k' }), 'PROVIDER_UNAVAILABLE', /cannot reach Vault at http:\/\/127\.0\.0\.1/, { transient: true });
    const health = await unreachable.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /vault status -address=http:\/\/127\.0\.0\.1/);
  });

  it('a value over Vault\'s request limit is VALUE_TOO_LARGE; a tenant document that is not an object TENANT_DOCUMENT_INVALID', async () => {
    const provider = await warm();
    const big = `canary-big-${'x'.repeat(70 * 1024)}`;
    await rejectsWith(provider.set({ name: 'big' }, value(big)), 'VALUE_TOO_LARGE', /HTTP 413: http: request body too large/, { canaries: ['canary-big-'] });
    const { provider: docs, ns } = fresh({ layout: 'document' });
    vault.putRaw('broken', ['canary-in-array'], { namespace: ns });
    await rejectsWith(docs.get({ scope: 'broken', name: 'x' }), 'TENANT_DOCUMENT_INVALID', /tenant document "secret\/data\/broken" is invalid: it is JSON array/, { canaries: ['canary-in-array'] });
  });
});

describe('vault provider: auth and health', () => {
  it('AppRole: logs in, renews before expiry, logs in again when renewal reaches the max TTL', async () => {
    authVault.resetRequests();
    const provider = withClock({ role_id: 'role-1', secret_id: 'canary-approle-secret' });
    await provider.set({ name: 'app/key' }, value('canary-renew'));
    assert.equal(count(authVault, 'auth/approle/login'), 1);
    clock.now += 45_000; // 15 s of 60 left: under a third
    assert.equal((await provider.get({ name: 'app/key' }))?.value.reveal(), 'canary-renew');
    assert.deepEqual([count(authVault, 'auth/token/renew-self'), count(authVault, 'auth/approle/login')], [1, 1]);
    clock.now += 40_000; // renewal is capped at the 100 s max TTL: 15 s left is not enough
    assert.equal((await provider.get({ name: 'app/key' }))?.value.reveal(), 'canary-renew');
    assert.deepEqual([count(authVault, 'auth/token/renew-self'), count(authVault, 'auth/approle/login')], [2, 2]);
    authVault.revokeAllTokens(); // revoked server-side: the 403 triggers one fresh login
    assert.equal((await provider.get({ name: 'app/key' }))?.value.reveal(), 'canary-renew');
    assert.equal(count(authVault, 'auth/approle/login'), 3);
    await rejectsWith(withClock({ role_id: 'role-1', secret_id: 'canary-wrong-secret' }).get({ name: 'app/key' }), 'AUTH_FAILED',
      /AppRole login \(auth\/approle\/login\) failed with HTTP 400: invalid role or secret ID/, { transient: false, canaries: ['canary-wrong-secret'] });
  });

  it('Kubernetes: logs in with the service-account JWT file, again when the token cannot be renewed', async () => {
    writeFileSync(join(tmp, 'sa-token'), 'canary.jwt.token\n');
    writeFileSync(join(tmp, 'bad-token'), 'canary-forged-jwt');
    authVault.resetRequests();
    const provider = withClock({ kubernetes_role: 'app', jwt_file: 'sa-token' });
    await provider.set({ name: 'k8s/key' }, value('canary-k8s'));
    clock.now += 25_000; // 5 s of 30 left, not renewable
    assert.equal((await provider.get({ name: 'k8s/key' }))?.value.reveal(), 'canary-k8s');
    assert.deepEqual([count(authVault, 'auth/kubernetes/login'), count(authVault, 'auth/token/renew-self')], [2, 0]);
    await rejectsWith(withClock({ kubernetes_role: 'app', jwt_file: 'bad-token' }).get({ name: 'x' }), 'AUTH_FAILED',
      /Kubernetes login \(auth\/kubernetes\/login\) failed with HTTP 403: permission denied/, { canaries: ['canary-forged-jwt'] });
    await rejectsWith(withClock({ kubernetes_role: 'app', jwt_file: 'no-such-file' }).get({ name: 'x' }), 'AUTH_FAILED', /cannot read the Kubernetes service-account token .* \(ENOENT\)/);
  });

  it('static token: VAULT_TOKEN from the environment, looked up once, renewed near expiry; none at all is AUTH_FAILED', async () => {
    authVault.resetRequests();
    const token = authVault.createToken({ ttl: 60, renewable: true });
    const id = `vault-env-${++seq}`;
    const parsed = optionsSchema.parse({ url: authVault.url });
    const provider = createWithClient(id, parsed, createVaultClient(vaultClientConfig(id, parsed, { baseDir: tmp, env: { VAULT_TOKEN: token } }, () => clock.now)));
    assert.equal(await provider.get({ name: 'none' }), null);
    assert.equal(await provider.get({ name: 'none' }), null);
    assert.equal(count(authVault, 'auth/token/lookup-self'), 1);
    clock.now += 45_000;
    await provider.get({ name: 'none' });
    assert.equal(count(authVault, 'auth/token/renew-self'), 1);
    await rejectsWith(fresh({ token: undefined }).provider.get({ name: 'x' }), 'AUTH_FAILED', /no Vault credentials: set token \(or VAULT_TOKEN\)/);
  });

  it('health: ready, degraded on a standby, down (in seed 002\'s words) when sealed or the token is rejected', async () => {
    const { provider } = fresh();
    assert.equal((await provider.health()).status, 'ready');
    vault.state = 'standby';
    assert.equal((await provider.health()).status, 'degraded');
    vault.state = 'sealed';
    const sealed = await provider.health();
    vault.state = 'active';
    assert.equal(sealed.status, 'down');
    assert.match(sealed.message ?? '', /is sealed .*vault status -address=/);
    const bad = await fresh({ token: 'hvs.canary-health' }).provider.health();
    assert.equal(bad.status, 'down');
    assert.match(bad.message ?? '', /Vault rejected the token.*vault token lookup/);
    assert.ok(!(bad.message ?? '').includes('hvs.canary-health'));
  });

  it('TLS: verifies the certificate by default, trusts ca_file, skips verification with verify: false', async (t) => {
    const certificate = selfSignedCertificate(tmp);
    if (!certificate) return t.skip('openssl is not installed');
    const https = await startVaultEmulator({ tls: certificate });
    try {
      const make = (options: Partial<VaultOptions>) => create(`vault-tls-${++seq}`, { url: https.url, token: https.rootToken, retries: 0, ...options }, { baseDir: tmp, env: {} });
      await rejectsWith(make({}).get({ name: 'x' }), 'PROVIDER_ERROR', /TLS connection to Vault at https:\/\/127\.0\.0\.1:\d+ failed/);
      assert.equal(await make({ ca_file: 'cert.pem' }).get({ name: 'x' }), null);
      assert.equal(await make({ verify: false }).get({ name: 'x' }), null);
      await rejectsWith(make({ ca_file: 'missing.pem' }).get({ name: 'x' }), 'CONFIG_INVALID', /ca_file ".*missing\.pem" cannot be read \(ENOENT\)/);
    } finally {
      await https.close();
    }
  });
});
