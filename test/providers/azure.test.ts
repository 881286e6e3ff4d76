/**
 * The azure provider through the official @azure/keyvault-secrets SDK against the Key Vault
 * emulator (HTTPS with a per-run self-signed certificate, trusted through the provider's
 * ca_file option). A fake TokenCredential stands in for DefaultAzureCredential; nothing reaches
 * Azure.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, describe, it } from 'node:test';
import { SecretClient } from '@azure/keyvault-secrets';
import { LockboxError, type ErrorCode } from '../../src/errors.js';
import { create, optionsSchema, type AzureCredential, type AzureOptions } from '../../src/providers/azure.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider } from '../../src/types.js';
import { startAzureKeyVaultEmulator, type AzureKeyVaultEmulator, type AzureKeyVaultEmulatorOptions } from '../emulators/azure-key-vault.js';
import { testCertificate } from '../emulators/azure-tls.js';
import { providerContract } from './contract.js';

const credential: AzureCredential = { getToken: async () => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const dir = mkdtempSync(join(tmpdir(), 'lockbox-azure-'));
writeFileSync(join(dir, 'emulator-ca.pem'), testCertificate().cert);
const emulators: AzureKeyVaultEmulator[] = [];
after(async () => {
  for (const emulator of emulators) await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(extra: Partial<AzureOptions> = {}, cred: AzureCredential = credential, vault: AzureKeyVaultEmulatorOptions = {}): Promise<{ emulator: AzureKeyVaultEmulator; provider: Provider; raw: SecretClient }> {
  const emulator = await startAzureKeyVaultEmulator(vault);
  emulators.push(emulator);
  const provider = create('kv', {
    vault_url: emulator.url, ca_file: 'emulator-ca.pem', disable_challenge_resource_verification: true,
    retry_base_ms: 1, timeout_ms: 2_000, poll_interval_ms: 1, ...extra,
  }, { baseDir: dir, env: {} }, { credential: cred });
  // What `az keyvault secret set` would do: writes that bypass lockbox (no lockbox-* tags).
  const raw = new SecretClient(emulator.url, credential, { disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 }, tlsOptions: { ca: emulator.ca } });
  return { emulator, provider, raw };
}

/** Asserts a LockboxError with this code whose message matches and holds none of the canaries. */
async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp, canaries: string[] = []): Promise<LockboxError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => { caught = error; return true; });
  assert.ok(caught instanceof LockboxError, `expected a LockboxError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  const printed = `${caught.describe()}\n${inspect(caught, { depth: 10, showHidden: true })}`;
  for (const canary of canaries) assert.ok(!printed.includes(canary), 'a value leaked into the error (message, hint or cause)');
  return caught;
}

providerContract('azure (emulator)', async (seed) => {
  const { provider } = await setup();
  for (const [name, value] of Object.entries(seed)) await provider.set!({ name }, new SecretValue(value));
  return { provider };
});

describe('azure provider: names', () => {
  it('maps {prefix}{tenant}-{name} with "/", "." and "_" as "-" (seed 002\'s layout) and keeps tenants apart', async () => {
    const { emulator, provider } = await setup({ prefix: 'dativo-' });
    await provider.set!({ name: 'stripe_api_key', scope: 'acme' }, new SecretValue('canary-acme-stripe'));
    await provider.set!({ name: 'db/password' }, new SecretValue('canary-global-db'));
    assert.deepEqual(emulator.store.names().live.sort(), ['dativo-acme-stripe-api-key', 'dativo-db-password']);
    assert.equal((await provider.get({ name: 'stripe_api_key', scope: 'acme' }))?.value.reveal(), 'canary-acme-stripe');
    assert.equal(await provider.get({ name: 'stripe_api_key' }), null, 'the global name is another secret');
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-global-db');
  });

  it('refuses a second name that maps to the same Key Vault name, naming both (NAME_UNMAPPABLE)', async () => {
    const { provider } = await setup();
    await provider.set!({ name: 'db/password' }, new SecretValue('canary-first'));
    for (const other of [{ name: 'db.password' }, { name: 'DB_password' }, { name: 'password', scope: 'db' }]) {
      const error = await rejectsWith(provider.set!(other, new SecretValue('canary-second')), 'NAME_UNMAPPABLE', /"db-password", which already holds lockbox secret "db\/password"/i, ['canary-first', 'canary-second']);
      assert.match(error.message, new RegExp(`secret "${other.name}"`));
      await rejectsWith(provider.get(other), 'NAME_UNMAPPABLE', /already holds lockbox secret "db\/password"/, ['canary-first']);
    }
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-first', 'the first secret is untouched');
  });

  it('refuses names longer than Key Vault\'s 127 characters with NAME_UNMAPPABLE', async () => {
    const { provider } = await setup({ prefix: 'p-' });
    await rejectsWith(provider.get({ name: 'a'.repeat(126) }), 'NAME_UNMAPPABLE', /128 characters; Key Vault names are at most 127/);
  });

  it('reads and lists secrets written outside lockbox (az keyvault secret set) by reversing the mapping', async () => {
    const { provider, raw } = await setup({ prefix: 'dativo-' });
    await raw.setSecret('dativo-acme-hubspot-api-key', 'canary-hubspot');
    await raw.setSecret('other-app-secret', 'not-ours');
    assert.equal((await provider.get({ name: 'hubspot-api-key', scope: 'acme' }))?.value.reveal(), 'canary-hubspot');
    assert.equal((await provider.get({ name: 'hubspot_api_key', scope: 'acme' }))?.value.reveal(), 'canary-hubspot', 'the seed\'s snake_case name maps to it');
    assert.deepEqual((await provider.list!('', 'acme')).map((l) => l.name), ['hubspot-api-key']);
    assert.deepEqual((await provider.list!()).map((l) => l.name), ['acme-hubspot-api-key']);
  });

  it('lists original lockbox names from the tags, per tenant and under a prefix', async () => {
    const { provider } = await setup({ prefix: 'app-' });
    await provider.set!({ name: 'db/password', scope: 'acme' }, new SecretValue('a'));
    await provider.set!({ name: 'db.user', scope: 'acme' }, new SecretValue('b'));
    await provider.set!({ name: 'api_key', scope: 'beta' }, new SecretValue('c'));
    await provider.set!({ name: 'shared/token' }, new SecretValue('d'));
    assert.deepEqual((await provider.list!('', 'acme')).map((l) => l.name), ['db.user', 'db/password']);
    assert.deepEqual((await provider.list!('db/', 'acme')).map((l) => l.name), ['db/password']);
    assert.deepEqual((await provider.list!('', 'beta')).map((l) => [l.name, l.scope]), [['api_key', 'beta']]);
    assert.deepEqual((await provider.list!()).map((l) => l.name), ['shared/token']);
  });

  it('lists more secrets than one page (follows nextLink), and a failed page is retried without gaps or duplicates', async () => {
    const { emulator, provider, raw } = await setup({ retries: 1 });
    const names = Array.from({ length: 30 }, (_, i) => `bulk-${String(i).padStart(2, '0')}`);
    for (const name of names) await raw.setSecret(name, 'v');
    assert.deepEqual((await provider.list!('bulk-')).map((l) => l.name), names);
    emulator.resetRequests();
    emulator.failNext(500, 1, { after: 1 });
    assert.deepEqual((await provider.list!('bulk-')).map((l) => l.name), names);
    assert.equal(emulator.requests, 4, 'page 1, page 2 (500), then page 1 and page 2 again');
  });
});

describe('azure provider: versions, tags, soft delete', () => {
  it('maps Key Vault version ids to versions: current = newest enabled, previous = the enabled one before', async () => {
    const { provider, raw } = await setup();
    const ids: string[] = [];
    for (const value of ['v1', 'v2', 'v3']) ids.push((await provider.set!({ name: 'rotating' }, new SecretValue(value))).version);
    assert.ok(ids.every((id) => /^[0-9a-f]{32}$/.test(id)));
    assert.deepEqual((await provider.versions!({ name: 'rotating' })).map((v) => [v.version, v.labels]), [[ids[0], []], [ids[1], ['previous']], [ids[2], ['current']]]);
    assert.equal((await provider.get({ name: 'rotating', version: 'previous' }))?.value.reveal(), 'v2');
    const first = await provider.get({ name: 'rotating', version: ids[0]! });
    assert.equal(first?.value.reveal(), 'v1');
    assert.deepEqual(first?.metadata.labels, []);
    assert.equal(await provider.get({ name: 'rotating', version: 'pending' }), null, 'Key Vault has no pending version');
    assert.equal(await provider.get({ name: 'rotating', version: '7' }), null, 'not a Key Vault version id');
    await raw.updateSecretProperties('rotating', ids[2]!, { enabled: false });
    const current = await provider.get({ name: 'rotating' });
    assert.equal(current?.value.reveal(), 'v2', 'a disabled newest version gives way to the newest enabled one');
    assert.equal(current?.metadata.version, ids[1]);
    assert.equal((await provider.get({ name: 'rotating', version: 'previous' }))?.value.reveal(), 'v1');
  });

  it('refuses pending writes and single-version deletes with CAPABILITY', async () => {
    const { provider } = await setup();
    await rejectsWith(provider.set!({ name: 'x' }, new SecretValue('canary-p'), { pending: true }), 'CAPABILITY', /does not support pending versions/, ['canary-p']);
    await provider.set!({ name: 'x' }, new SecretValue('v'));
    await rejectsWith(provider.delete!({ name: 'x' }, { mode: 'destroy', version: 'abc' }), 'CAPABILITY', /deleting a single version/);
  });

  it('round-trips tags and contentType; lockbox-* tags are reserved', async () => {
    const { provider, raw } = await setup();
    const written = await provider.set!({ name: 'cfg', scope: 'acme' }, new SecretValue('{}'), { tags: { team: 'core', 'content-type': 'application/json' } });
    assert.deepEqual(written.tags, { team: 'core', 'content-type': 'application/json' });
    const stored = await raw.getSecret('acme-cfg');
    assert.equal(stored.properties.contentType, 'application/json');
    assert.equal(stored.properties.tags?.['lockbox-name'], 'cfg');
    assert.equal(stored.properties.tags?.['lockbox-tenant'], 'acme');
    assert.deepEqual((await provider.get({ name: 'cfg', scope: 'acme' }))?.metadata.tags, { team: 'core', 'content-type': 'application/json' });
    await rejectsWith(provider.set!({ name: 'cfg' }, new SecretValue('v'), { tags: { 'lockbox-name': 'x' } }), 'INVALID_INPUT', /tag "lockbox-name" is reserved/);
  });

  it('soft delete, undelete, and a write to a soft-deleted name that names the choice', async () => {
    const { emulator, provider } = await setup();
    await provider.set!({ name: 'db/password' }, new SecretValue('canary-old'));
    await provider.delete!({ name: 'db/password' });
    assert.equal(await provider.get({ name: 'db/password' }), null);
    assert.deepEqual(emulator.store.names().deleted, ['db-password']);
    const error = await rejectsWith(provider.set!({ name: 'db/password' }, new SecretValue('canary-new')), 'CONFLICT',
      /"db-password" is soft-deleted \(deleted but recoverable\).*recovered or purged/, ['canary-old', 'canary-new']);
    assert.match(error.hint ?? '', /lockbox undelete.*lockbox delete --destroy/);
    await provider.undelete!({ name: 'db/password' });
    assert.equal((await provider.get({ name: 'db/password' }))?.value.reveal(), 'canary-old');
    await rejectsWith(provider.undelete!({ name: 'db/password' }), 'NOT_FOUND', /"db\/password" \(soft-deleted\) not found/);
  });

  it('destroy purges (live or already soft-deleted) so the name can be reused with a fresh history', async () => {
    const { emulator, provider } = await setup();
    await provider.set!({ name: 'a' }, new SecretValue('1'));
    await provider.delete!({ name: 'a' }, { mode: 'destroy' });
    await provider.set!({ name: 'b' }, new SecretValue('2'));
    await provider.delete!({ name: 'b' });
    await provider.delete!({ name: 'b' }, { mode: 'destroy' });
    assert.deepEqual(emulator.store.names(), { live: [], deleted: [] });
    await provider.set!({ name: 'a' }, new SecretValue('3'));
    assert.equal((await provider.versions!({ name: 'a' })).length, 1);
    await rejectsWith(provider.delete!({ name: 'missing' }), 'NOT_FOUND', /"missing" not found/);
    await rejectsWith(provider.delete!({ name: 'missing' }, { mode: 'destroy' }), 'NOT_FOUND', /"missing" not found/);
  });

  it('waits while Key Vault finishes a delete or a recover asynchronously', async () => {
    const { emulator, provider } = await setup({}, credential, { transitionReads: 3 });
    await provider.set!({ name: 'slow' }, new SecretValue('canary-slow'));
    await provider.delete!({ name: 'slow' }, { mode: 'destroy' }); // purge only once the deletion shows
    assert.deepEqual(emulator.store.names(), { live: [], deleted: [] });
    await provider.set!({ name: 'slow' }, new SecretValue('canary-slow'));
    await provider.delete!({ name: 'slow' });
    await provider.undelete!({ name: 'slow' });
    assert.equal((await provider.get({ name: 'slow' }))?.value.reveal(), 'canary-slow', 'readable as soon as undelete returns');
  });
});

describe('azure provider: round trips and failures', () => {
  it('getMany is one GET per secret (no batch API in Key Vault), in order, null for missing', async () => {
    const { emulator, provider } = await setup();
    for (let i = 0; i < 12; i++) await provider.set!({ name: `many/${i}` }, new SecretValue(`value-${i}`));
    emulator.resetRequests();
    const refs = [...Array.from({ length: 12 }, (_, i) => ({ name: `many/${i}` })), { name: 'many/missing' }];
    const records = await provider.getMany!(refs);
    assert.equal(emulator.requests, 13);
    assert.deepEqual(records.map((r) => r?.value.reveal() ?? null), [...Array.from({ length: 12 }, (_, i) => `value-${i}`), null]);
  });

  it('401 is AUTH_FAILED, not transient, not retried (the SDK re-answers the challenge once)', async () => {
    const { emulator, provider } = await setup({ retries: 2 });
    await provider.set!({ name: 's' }, new SecretValue('canary-401'));
    emulator.resetRequests();
    emulator.failNext(401, 2);
    const error = await rejectsWith(provider.get({ name: 's' }), 'AUTH_FAILED', /get "s" failed with HTTP 401: Unauthorized: AKV10032/, ['canary-401']);
    assert.equal(error.transient, false);
    assert.match(error.hint ?? '', /az account show/);
    assert.equal(emulator.requests, 2);
  });

  it('403 is PERMISSION_DENIED, not transient, not retried', async () => {
    const { emulator, provider } = await setup({ retries: 2 });
    await provider.set!({ name: 's' }, new SecretValue('canary-403'));
    emulator.resetRequests();
    emulator.failNext(403);
    const error = await rejectsWith(provider.get({ name: 's' }), 'PERMISSION_DENIED', /HTTP 403: Forbidden: .*does not have secrets get permission/, ['canary-403']);
    assert.equal(error.transient, false);
    assert.match(error.hint ?? '', /az keyvault set-policy .*--secret-permissions get list/);
    assert.equal(emulator.requests, 1);
  });

  it('429 and 5xx are retried with backoff, then THROTTLED / PROVIDER_UNAVAILABLE (transient)', async () => {
    const { emulator, provider } = await setup({ retries: 2 });
    await provider.set!({ name: 's' }, new SecretValue('canary-5xx'));
    emulator.resetRequests();
    emulator.failNext(429, 2);
    assert.equal((await provider.get({ name: 's' }))?.value.reveal(), 'canary-5xx', 'two throttles, then the third try succeeds');
    assert.equal(emulator.requests, 3);
    for (const [status, code] of [[429, 'THROTTLED'], [500, 'PROVIDER_UNAVAILABLE'], [503, 'PROVIDER_UNAVAILABLE']] as const) {
      emulator.resetRequests();
      emulator.failNext(status, 3);
      const error = await rejectsWith(provider.get({ name: 's' }), code, new RegExp(`HTTP ${status}`), ['canary-5xx']);
      assert.equal(error.transient, true);
      assert.equal(emulator.requests, 3, `${status}: one try and two retries`);
    }
  });

  it('a slow vault is TIMEOUT (transient), retried once per retry', async () => {
    const { emulator, provider } = await setup({ timeout_ms: 100, retries: 1 });
    await provider.health();
    emulator.resetRequests();
    emulator.setDelay(1_000);
    const error = await rejectsWith(provider.get({ name: 's' }), 'TIMEOUT', /get "s" timed out after 100 ms/);
    assert.equal(error.transient, true);
    assert.equal(emulator.requests, 2);
    emulator.setDelay(0);
  });

  it('a value above Key Vault\'s 25,600 characters is VALUE_TOO_LARGE, without the value in the message', async () => {
    const { provider } = await setup();
    const big = `canary-big-${'x'.repeat(25_600)}`;
    await rejectsWith(provider.set!({ name: 'big' }, new SecretValue(big)), 'VALUE_TOO_LARGE', /at most 25,600 characters/, [big, 'canary-big']);
    assert.equal(await provider.get({ name: 'big' }), null);
  });

  it('a credential that cannot get a token is AUTH_FAILED with seed 002\'s checks', async () => {
    const failing: AzureCredential = { getToken: async () => { throw Object.assign(new Error('EnvironmentCredential is unavailable'), { name: 'CredentialUnavailableError' }); } };
    const { provider } = await setup({}, failing);
    await rejectsWith(provider.get({ name: 's' }), 'AUTH_FAILED', /no Azure credential could get a token \(CredentialUnavailableError\)/);
    const health = await provider.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /az account show/);
  });

  it('keeps the SDK\'s challenge-resource check unless disable_challenge_resource_verification is set', async () => {
    const { provider } = await setup({ disable_challenge_resource_verification: false });
    const error = await rejectsWith(provider.get({ name: 's' }), 'AUTH_FAILED', /challenge names a resource that does not match the domain of vault_url/);
    assert.match(error.hint ?? '', /disable_challenge_resource_verification: true/);
  });

  it('an untrusted TLS certificate is PROVIDER_ERROR pointing at ca_file; an unreadable ca_file is CONFIG_INVALID', async () => {
    const { provider: untrusted } = await setup({ ca_file: undefined });
    const error = await rejectsWith(untrusted.get({ name: 's' }), 'PROVIDER_ERROR', /TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    assert.match(error.hint ?? '', /ca_file/);
    const { provider: missing } = await setup({ ca_file: 'no-such-ca.pem' });
    await rejectsWith(missing.get({ name: 's' }), 'CONFIG_INVALID', /ca_file ".*no-such-ca\.pem" cannot be read \(ENOENT\)/);
  });

  it('health: ready with a latency; down with seed 002\'s advice for 401/403 and for an unreachable vault', async () => {
    const { emulator, provider } = await setup({ retries: 0 });
    const ready = await provider.health();
    assert.equal(ready.status, 'ready');
    assert.equal(typeof ready.latencyMs, 'number');
    emulator.failNext(403);
    const denied = await provider.health();
    assert.equal(denied.status, 'down');
    assert.match(denied.message ?? '', /PERMISSION_DENIED|HTTP 403/);
    assert.match(denied.message ?? '', /az keyvault secret show/);
    emulator.failNext(429);
    assert.equal((await provider.health()).status, 'degraded');
    await emulator.close();
    const down = await provider.health();
    assert.equal(down.status, 'down');
    assert.match(down.message ?? '', /unavailable.*verify network connectivity/);
  });

  it('validates lockbox.yaml options strictly', () => {
    const base = { vault_url: 'https://my-vault.vault.azure.net/' };
    assert.equal(optionsSchema.parse(base).prefix, '');
    assert.throws(() => optionsSchema.parse({ vault_url: 'http://my-vault.vault.azure.net/' }), /vault_url must be an https:\/\/ URL/);
    assert.throws(() => optionsSchema.parse({ ...base, prefix: 'bad_prefix' }), /prefix may contain only letters, digits and/);
    assert.throws(() => optionsSchema.parse({ ...base, layout: 'document' }), /per-secret/);
    assert.throws(() => optionsSchema.parse({ ...base, region: 'x' }), /Unrecognized key/);
  });
});
