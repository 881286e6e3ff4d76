/**
 * The `aws` provider through the official @aws-sdk/client-secrets-manager against the emulator
 * in test/emulators (never a stubbed SDK): the shared contract, both layouts, tenants, versions
 * and labels, batching, binary secrets, and every bad input of issue 4 that applies.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LockboxError } from '../../src/errors.js';
import { create, createWithClient, type AwsOptions } from '../../src/providers/aws.js';
import { SecretValue } from '../../src/secret-value.js';
import { DENIED_ACCESS_KEY_ID, EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY } from '../emulators/aws-json.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../emulators/aws-secrets-manager.js';
import { providerContract } from './contract.js';

const CANARY = 'canary-aws-7d41c';
const emulators: SecretsManagerEmulator[] = [];
after(async () => { for (const e of emulators) await e.close(); });

async function setup(options: AwsOptions = {}, accessKeyId = EMULATOR_ACCESS_KEY_ID) {
  const emulator = await startSecretsManagerEmulator();
  emulators.push(emulator);
  const client = new SecretsManagerClient({
    region: 'us-east-1', endpoint: emulator.url, maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey: EMULATOR_SECRET_ACCESS_KEY },
  });
  const provider = createWithClient('aws-test', { retry_base_ms: 1, timeout_ms: 2_000, ...options }, client);
  return { emulator, provider };
}

function rejectsWith(code: string, message: RegExp, transient = false) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    assert.equal(error.transient, transient);
    assert.ok(!error.message.includes(CANARY) && !(error.hint ?? '').includes(CANARY), 'a value leaked into an error');
    return true;
  };
}

for (const layout of ['auto', 'per-secret'] as const) {
  providerContract(`aws (emulator, layout ${layout})`, async (seed) => {
    const { provider } = await setup({ layout, prefix: 'lockbox/' });
    for (const [name, value] of Object.entries(seed)) await provider.set({ name }, new SecretValue(value));
    return { provider };
  });
}

describe('aws provider: per-secret names', () => {
  it('maps tenant and global secrets to {prefix}{tenant}/{name} and {prefix}{name}, tagged with their owner', async () => {
    const { emulator, provider } = await setup({ prefix: 'dativo/' });
    await provider.set({ scope: 'acme', name: 'stripe_api_key' }, new SecretValue(CANARY));
    await provider.set({ name: 'db/password' }, new SecretValue('global-pass'));
    assert.equal(emulator.inspect('dativo/acme/stripe_api_key')?.versions[0]?.secretString, CANARY);
    assert.deepEqual(emulator.inspect('dativo/acme/stripe_api_key')?.tags, { 'lockbox:scope': 'acme' });
    assert.deepEqual(emulator.inspect('dativo/db/password')?.tags, { 'lockbox:scope': '' });
    assert.equal((await provider.get({ scope: 'acme', name: 'stripe_api_key' }))?.value.reveal(), CANARY);
    assert.equal(await provider.get({ name: 'stripe_api_key' }), null, 'the tenant secret is not global');
  });

  it('reads and lists secrets made with the AWS CLI (seed 002, option 2)', async () => {
    const { emulator, provider } = await setup({ prefix: 'dativo/', layout: 'per-secret' });
    emulator.seed('dativo/acme/stripe_api_key', 'sk_live_1');
    emulator.seed('dativo/acme/database_password', 'secret123');
    emulator.seed('dativo/other/x', 'y');
    assert.equal((await provider.get({ scope: 'acme', name: 'database_password' }))?.value.reveal(), 'secret123');
    assert.deepEqual((await provider.list('', 'acme')).map((l) => l.name), ['database_password', 'stripe_api_key']);
    assert.deepEqual((await provider.list('stripe', 'acme')).map((l) => [l.name, l.scope]), [['stripe_api_key', 'acme']]);
  });

  it('refuses a global name that would land on a tenant secret (NAME_UNMAPPABLE) and keeps both apart in listings', async () => {
    const { provider } = await setup({ prefix: 'p/' });
    await provider.set({ scope: 'acme', name: 'x' }, new SecretValue('tenant-value'));
    await assert.rejects(provider.set({ name: 'acme/x' }, new SecretValue(CANARY)),
      rejectsWith('NAME_UNMAPPABLE', /global secret "acme\/x" cannot be mapped: the AWS secret "p\/acme\/x" already holds a secret of tenant "acme"/));
    await assert.rejects(provider.delete({ name: 'acme/x' }), rejectsWith('NAME_UNMAPPABLE', /p\/acme\/x/));
    await provider.set({ name: 'shared' }, new SecretValue('g'));
    assert.deepEqual((await provider.list()).map((l) => l.name), ['shared'], 'tenant secrets are not listed as global ones');
    assert.equal((await provider.get({ scope: 'acme', name: 'x' }))?.value.reveal(), 'tenant-value');
  });

  it('refuses names longer than AWS allows once prefixed (NAME_UNMAPPABLE)', async () => {
    const { provider } = await setup({ prefix: 'p'.repeat(200) });
    await assert.rejects(provider.get({ name: 'n'.repeat(400) }), rejectsWith('NAME_UNMAPPABLE', /more than AWS's 512/));
  });

  it('lists user tags (not lockbox\'s own) and the current version id', async () => {
    const { provider } = await setup();
    const written = await provider.set({ name: 'tagged' }, new SecretValue('v'), { tags: { team: 'payments' } });
    const [listing] = await provider.list('tagged');
    assert.deepEqual(listing?.tags, { team: 'payments' });
    assert.equal(listing?.version, written.version);
  });
});

describe('aws provider: tenant documents (seed 002, option 1)', () => {
  it('reads keys of {prefix}{tenant} and of the global document, and lists them', async () => {
    const { emulator, provider } = await setup({ prefix: 'dativo/', layout: 'document' });
    emulator.seed('dativo/acme', JSON.stringify({ stripe_api_key: CANARY, port: 5432 }));
    emulator.seed('dativo/global', JSON.stringify({ shared: 's' }));
    assert.equal((await provider.get({ scope: 'acme', name: 'stripe_api_key' }))?.value.reveal(), CANARY);
    assert.equal((await provider.get({ scope: 'acme', name: 'port' }))?.value.reveal(), '5432');
    assert.equal((await provider.get({ name: 'shared' }))?.value.reveal(), 's');
    assert.equal(await provider.get({ scope: 'acme', name: 'missing' }), null);
    assert.equal(await provider.get({ scope: 'nobody', name: 'x' }), null);
    assert.deepEqual((await provider.list('', 'acme')).map((l) => l.name), ['port', 'stripe_api_key']);
  });

  it('writes one key at a time into the document; versions and labels are the document\'s', async () => {
    const { emulator, provider } = await setup({ layout: 'document' });
    const first = await provider.set({ scope: 'acme', name: 'a' }, new SecretValue('1'));
    const second = await provider.set({ scope: 'acme', name: 'b' }, new SecretValue('2'));
    assert.deepEqual(JSON.parse(emulator.inspect('acme')!.versions.at(-1)!.secretString!), { a: '1', b: '2' });
    assert.deepEqual(emulator.inspect('acme')?.tags, { 'lockbox:document': 'acme' });
    assert.equal((await provider.get({ scope: 'acme', name: 'a' }))?.metadata.version, second.version);
    assert.equal(await provider.get({ scope: 'acme', name: 'b', version: 'previous' }), null);
    assert.equal((await provider.get({ scope: 'acme', name: 'a', version: first.version }))?.value.reveal(), '1');
    assert.deepEqual((await provider.versions({ scope: 'acme', name: 'a' })).map((v) => v.labels), [['previous'], ['current']]);
    await provider.delete({ scope: 'acme', name: 'a' });
    assert.deepEqual(JSON.parse(emulator.inspect('acme')!.versions.at(-1)!.secretString!), { b: '2' });
    assert.equal(await provider.get({ scope: 'acme', name: 'a' }), null);
  });

  it('says what it cannot do in the document layout (CAPABILITY)', async () => {
    const { provider } = await setup({ layout: 'document' });
    await provider.set({ name: 'k' }, new SecretValue('v'));
    await assert.rejects(provider.delete({ name: 'k' }, { mode: 'destroy' }), rejectsWith('CAPABILITY', /destroy in the document layout/));
    await assert.rejects(provider.undelete({ name: 'k' }), rejectsWith('CAPABILITY', /undelete in the document layout/));
    await assert.rejects(provider.set({ name: 'k' }, new SecretValue('v'), { expiresAt: new Date(Date.now() + 60_000) }),
      rejectsWith('CAPABILITY', /expiresAt in the document layout/));
  });

  it('refuses a tenant named like the global document (NAME_UNMAPPABLE)', async () => {
    const { provider } = await setup({ layout: 'document', prefix: 'p/' });
    await assert.rejects(provider.get({ scope: 'global', name: 'x' }), rejectsWith('NAME_UNMAPPABLE', /tenant document "p\/global" is the global document/));
  });

  it('rejects a tenant document that is not a JSON object (TENANT_DOCUMENT_INVALID), never echoing it', async () => {
    const { emulator, provider } = await setup({ layout: 'document' });
    emulator.seed('acme', JSON.stringify([CANARY]));
    emulator.seed('beta', `not json ${CANARY}`);
    await assert.rejects(provider.get({ scope: 'acme', name: 'x' }), rejectsWith('TENANT_DOCUMENT_INVALID', /tenant document "acme" is invalid: it is JSON array, not an object/));
    await assert.rejects(provider.get({ scope: 'beta', name: 'x' }), rejectsWith('TENANT_DOCUMENT_INVALID', /"beta" is invalid: it is not JSON/));
    await assert.rejects(provider.set({ scope: 'acme', name: 'x' }, new SecretValue('v')), rejectsWith('TENANT_DOCUMENT_INVALID', /"acme"/));
  });
});

describe('aws provider: layout auto', () => {
  it('reads per-secret first, then the tenant document; writes go per-secret', async () => {
    const { emulator, provider } = await setup();
    emulator.seed('acme', JSON.stringify({ only_in_doc: 'doc-value', both: 'doc-both' }));
    await provider.set({ scope: 'acme', name: 'both' }, new SecretValue('per-secret-both'));
    assert.equal((await provider.get({ scope: 'acme', name: 'only_in_doc' }))?.value.reveal(), 'doc-value');
    assert.equal((await provider.get({ scope: 'acme', name: 'both' }))?.value.reveal(), 'per-secret-both');
    assert.ok(emulator.inspect('acme/both'), 'the write went per-secret');
    assert.deepEqual((await provider.list('', 'acme')).map((l) => l.name), ['both', 'only_in_doc']);
  });

  it('a soft-deleted per-secret secret hides the document\'s older value', async () => {
    const { emulator, provider } = await setup();
    emulator.seed('acme', JSON.stringify({ k: 'doc-value' }));
    await provider.set({ scope: 'acme', name: 'k' }, new SecretValue('v'));
    await provider.delete({ scope: 'acme', name: 'k' });
    assert.equal(await provider.get({ scope: 'acme', name: 'k' }), null);
  });
});

describe('aws provider: versions and labels', () => {
  it('maps AWSCURRENT/AWSPREVIOUS/AWSPENDING to current/previous/pending; versions are VersionIds', async () => {
    const { emulator, provider } = await setup();
    const v1 = await provider.set({ name: 'rot' }, new SecretValue('one'));
    const v2 = await provider.set({ name: 'rot' }, new SecretValue('two'));
    const v3 = await provider.set({ name: 'rot' }, new SecretValue('three-pending'), { pending: true });
    assert.match(v1.version, /^[0-9a-f-]{36}$/);
    assert.deepEqual(v3.labels, ['pending']);
    assert.deepEqual(emulator.inspect('rot')?.versions.map((v) => [v.id, v.stages]),
      [[v1.version, ['AWSPREVIOUS']], [v2.version, ['AWSCURRENT']], [v3.version, ['AWSPENDING']]]);
    assert.equal((await provider.get({ name: 'rot' }))?.value.reveal(), 'two');
    assert.equal((await provider.get({ name: 'rot', version: 'previous' }))?.value.reveal(), 'one');
    assert.equal((await provider.get({ name: 'rot', version: 'pending' }))?.value.reveal(), 'three-pending');
    assert.deepEqual((await provider.get({ name: 'rot', version: v2.version }))?.metadata.labels, ['current']);
    assert.equal(await provider.get({ name: 'rot', version: '3' }), null, 'a number is no AWS version');
    assert.equal(await provider.get({ name: 'rot', version: '00000000-0000-4000-8000-000000000000' }), null);
    assert.deepEqual((await provider.versions({ name: 'rot' })).map((v) => [v.version, v.labels]),
      [[v1.version, ['previous']], [v2.version, ['current']], [v3.version, ['pending']]]);
  });

  it('soft delete, undelete, destroy (scheduled deletion reads as not found)', async () => {
    const { emulator, provider } = await setup({ recovery_window_days: 7 });
    await provider.set({ name: 'gone' }, new SecretValue('v'));
    await provider.delete({ name: 'gone' });
    assert.equal(emulator.inspect('gone')?.deleted, true);
    assert.equal(await provider.get({ name: 'gone' }), null);
    assert.deepEqual(await provider.getMany([{ name: 'gone' }]), [null]);
    await provider.undelete({ name: 'gone' });
    assert.equal((await provider.get({ name: 'gone' }))?.value.reveal(), 'v');
    await provider.delete({ name: 'gone' }, { mode: 'destroy' });
    assert.equal(emulator.inspect('gone'), undefined);
    await assert.rejects(provider.undelete({ name: 'gone' }), rejectsWith('NOT_FOUND', /secret gone not found/));
    await assert.rejects(provider.delete({ name: 'gone' }), rejectsWith('NOT_FOUND', /secret gone not found/));
    await assert.rejects(provider.delete({ name: 'x' }, { mode: 'destroy', version: 'v1' }), rejectsWith('CAPABILITY', /destroying one version/));
  });

  it('set on a soft-deleted secret restores it with the new value', async () => {
    const { provider } = await setup();
    await provider.set({ name: 'again' }, new SecretValue('old'));
    await provider.delete({ name: 'again' });
    await provider.set({ name: 'again' }, new SecretValue('new'));
    assert.equal((await provider.get({ name: 'again' }))?.value.reveal(), 'new');
  });
});

describe('aws provider: getMany', () => {
  it('uses one BatchGetSecretValue per 20 secrets, then one for the tenant documents of the misses', async () => {
    const { emulator, provider } = await setup();
    for (let i = 0; i < 45; i++) emulator.seed(`s${i}`, `value-${i}`);
    emulator.seed('acme', JSON.stringify({ in_doc: 'from-doc' }));
    emulator.resetRequests();
    const refs = [...Array.from({ length: 45 }, (_, i) => ({ name: `s${i}` })), { name: 'nope' }, { scope: 'acme', name: 'in_doc' }];
    const records = await provider.getMany(refs);
    assert.deepEqual(records.map((r) => r?.value.reveal() ?? null), [...Array.from({ length: 45 }, (_, i) => `value-${i}`), null, 'from-doc']);
    assert.equal(emulator.requests, 4, '46 per-secret ids in 3 batches, then 1 batch of tenant documents');
    assert.deepEqual(emulator.operations, ['BatchGetSecretValue', 'BatchGetSecretValue', 'BatchGetSecretValue', 'BatchGetSecretValue']);
  });

  it('reads other versions one by one and keeps the order', async () => {
    const { provider } = await setup({ layout: 'per-secret' });
    await provider.set({ name: 'a' }, new SecretValue('a1'));
    await provider.set({ name: 'a' }, new SecretValue('a2'));
    const records = await provider.getMany([{ name: 'a', version: 'previous' }, { name: 'a' }, { name: 'missing' }]);
    assert.deepEqual(records.map((r) => r?.value.reveal() ?? null), ['a1', 'a2', null]);
  });
});

describe('aws provider: binary secrets', () => {
  it('returns SecretBinary as base64 text by default, or as UTF-8 with binary_encoding utf8', async () => {
    const { emulator, provider } = await setup({ layout: 'per-secret' });
    emulator.seed('cert', Buffer.from('-----BEGIN CERT-----'));
    emulator.seed('raw', Buffer.from([0xff, 0xfe, 0x00]));
    assert.equal((await provider.get({ name: 'cert' }))?.value.reveal(), Buffer.from('-----BEGIN CERT-----').toString('base64'));
    assert.equal((await provider.get({ name: 'raw' }))?.value.reveal(), '//4A');
    const utf8 = createWithClient('aws-utf8', { binary_encoding: 'utf8', layout: 'per-secret' }, new SecretsManagerClient({
      region: 'us-east-1', endpoint: emulator.url, credentials: { accessKeyId: EMULATOR_ACCESS_KEY_ID, secretAccessKey: 'x' },
    }));
    assert.equal((await utf8.get({ name: 'cert' }))?.value.reveal(), '-----BEGIN CERT-----');
    await assert.rejects(utf8.get({ name: 'raw' }), rejectsWith('PROVIDER_ERROR', /binary secret "raw" is not valid UTF-8/));
  });
});

describe('aws provider: failures', () => {
  it('bad credentials are AUTH_FAILED, never retried or transient', async () => {
    const { emulator, provider } = await setup({ retries: 3 }, 'AKIDUNKNOWN');
    await assert.rejects(provider.get({ name: 'x' }), rejectsWith('AUTH_FAILED', /GetSecretValue "x" failed: UnrecognizedClientException/));
    assert.equal(emulator.requests, 1);
  });

  it('a denied principal is PERMISSION_DENIED, never retried or transient', async () => {
    const { emulator, provider } = await setup({ retries: 3 }, DENIED_ACCESS_KEY_ID);
    await assert.rejects(provider.set({ name: 'x' }, new SecretValue(CANARY)), rejectsWith('PERMISSION_DENIED', /DescribeSecret "x" failed: AccessDeniedException/));
    assert.equal(emulator.requests, 1);
  });

  for (const [status, code, type] of [[429, 'THROTTLED', 'ThrottlingException'], [500, 'PROVIDER_UNAVAILABLE', 'InternalServiceError'], [503, 'PROVIDER_UNAVAILABLE', 'ServiceUnavailable']] as const) {
    it(`HTTP-${status}-like ${type} is retried, then ${code} (transient)`, async () => {
      const { emulator, provider } = await setup({ retries: 2 });
      emulator.seed('k', 'v');
      emulator.resetRequests();
      emulator.failNext(status, 2);
      assert.equal((await provider.get({ name: 'k' }))?.value.reveal(), 'v');
      assert.equal(emulator.requests, 3, 'two failures, then success');
      emulator.resetRequests();
      emulator.failNext(status, 3);
      await assert.rejects(provider.get({ name: 'k' }), rejectsWith(code, new RegExp(`GetSecretValue "k" failed: ${type}`), true));
      assert.equal(emulator.requests, 3, 'one try and two retries');
    });
  }

  it('a slow answer is TIMEOUT (transient)', async () => {
    const { emulator, provider } = await setup({ timeout_ms: 100, retries: 0 });
    emulator.delayNext(1_000);
    await assert.rejects(provider.get({ name: 'k' }), rejectsWith('TIMEOUT', /GetSecretValue "k" timed out after 100 ms/, true));
  });

  it('a value over 65,536 bytes is VALUE_TOO_LARGE (the service\'s ValidationException)', async () => {
    const { provider } = await setup();
    const big = new SecretValue(CANARY + 'x'.repeat(65_537));
    await assert.rejects(provider.set({ name: 'big' }, big), rejectsWith('VALUE_TOO_LARGE', /CreateSecret "big" failed: ValidationException: .*65536/));
    await provider.set({ name: 'big' }, new SecretValue('small'));
    await assert.rejects(provider.set({ name: 'big' }, big), rejectsWith('VALUE_TOO_LARGE', /PutSecretValue "big" failed/));
  });

  it('a missing SDK is SDK_MISSING naming the package', async () => {
    const missing = '@aws-sdk/lockbox-no-such-package';
    const provider = create('aws-nosdk', {}, undefined, { importSdk: () => import(missing) });
    await assert.rejects(provider.get({ name: 'x' }), rejectsWith('SDK_MISSING', /needs the package @aws-sdk\/client-secrets-manager, which is not installed/));
  });
});

describe('aws provider: health and client', () => {
  it('is ready with a latency, or down with seed 002\'s advice', async () => {
    const { provider } = await setup();
    const ready = await provider.health();
    assert.equal(ready.status, 'ready');
    assert.equal(typeof ready.latencyMs, 'number');
    const auth = await (await setup({}, 'AKIDUNKNOWN')).provider.health();
    assert.equal(auth.status, 'down');
    assert.match(auth.message ?? '', /authentication failed: check credentials .*aws sts get-caller-identity/);
    const denied = await (await setup({ prefix: 'dativo/' }, DENIED_ACCESS_KEY_ID)).provider.health();
    assert.match(denied.message ?? '', /permission denied: grant secretsmanager:GetSecretValue and secretsmanager:ListSecrets on .*secret:dativo\/\*.*aws secretsmanager get-secret-value --secret-id dativo\/global/);
    const { emulator } = await setup();
    await emulator.close();
    const offline = create('aws-offline', { region_name: 'us-east-1', endpoint: emulator.url, retries: 0 }, undefined, {
      client: new SecretsManagerClient({ region: 'us-east-1', endpoint: emulator.url, credentials: { accessKeyId: EMULATOR_ACCESS_KEY_ID, secretAccessKey: 'x' } }),
    });
    const down = await offline.health();
    assert.equal(down.status, 'down');
    assert.match(down.message ?? '', /cannot reach AWS Secrets Manager at http:\/\/127\.0\.0\.1:\d+: verify network connectivity/);
  });

  it('builds its own client from region_name and endpoint with SDK retries off (maxAttempts 1)', async () => {
    const emulator = await startSecretsManagerEmulator();
    emulators.push(emulator);
    emulator.seed('k', 'v');
    await withEnv({ AWS_ACCESS_KEY_ID: EMULATOR_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: EMULATOR_SECRET_ACCESS_KEY }, async () => {
      const provider = create('aws-own', { region_name: 'eu-west-1', endpoint: emulator.url, retries: 0 });
      assert.equal((await provider.get({ name: 'k' }))?.value.reveal(), 'v');
      emulator.resetRequests();
      emulator.failNext(500);
      await assert.rejects(provider.get({ name: 'k' }), rejectsWith('PROVIDER_UNAVAILABLE', /InternalServiceError/, true));
      assert.equal(emulator.requests, 1, 'the SDK did not retry on its own');
      await provider.dispose();
    });
  });

  it('no region is CONFIG_INVALID; no credentials in the default chain is AUTH_FAILED', async () => {
    const emulator = await startSecretsManagerEmulator();
    emulators.push(emulator);
    const empty = {
      AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_CONFIG_FILE: '/nonexistent/lockbox-aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/lockbox-aws-credentials', AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    };
    await withEnv(empty, async () => {
      await assert.rejects(create('aws-noregion', { endpoint: emulator.url }).get({ name: 'k' }),
        rejectsWith('CONFIG_INVALID', /provider "aws-noregion": no AWS region: set region_name in lockbox.yaml, or AWS_REGION/));
      const anonymous = create('aws-nocreds', { endpoint: emulator.url, region_name: 'us-east-1', retries: 3 });
      await assert.rejects(anonymous.get({ name: 'k' }), rejectsWith('AUTH_FAILED', /GetSecretValue "k" failed: CredentialsProviderError/));
      assert.match((await anonymous.health()).message ?? '', /aws sts get-caller-identity/);
    });
    assert.equal(emulator.requests, 0, 'nothing unsigned was sent');
  });
});

async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  for (const [key, value] of Object.entries(vars)) restoreEnv(key, value);
  try {
    await fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) restoreEnv(key, value);
  }
}

function restoreEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}
