/**
 * The gcp provider through the official @google-cloud/secret-manager client (REST transport)
 * against the in-process emulator, with a static fake token: the shared contract, both layouts,
 * tenant vs global, versions and labels, name mapping, and every failure of issue 4.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { loadSecretManagerSdk, parseEndpoint } from '../../src/providers/gcp-client.js';
import { create, type GcpOptions } from '../../src/providers/gcp.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider } from '../../src/types.js';
import { staticTokenAuthClient } from '../emulators/gcp-auth.js';
import {
  GCP_ACCESSOR_TOKEN, GCP_DENIED_TOKEN, GCP_PROJECT_ID, startGcpSecretManagerEmulator, type GcpSecretManagerEmulator,
} from '../emulators/gcp-secret-manager.js';
import { providerContract } from './contract.js';

let emulator: GcpSecretManagerEmulator;
const providers: Provider[] = [];
let counter = 0;

before(async () => { emulator = await startGcpSecretManagerEmulator(); });
after(async () => {
  for (const p of providers) await p.dispose?.();
  await emulator.close();
});

/** A provider on its own prefix (so tests never see each other's secrets). */
function gcp(options: GcpOptions = {}, token?: string): Provider & { prefix: string } {
  const prefix = options.prefix ?? `t${++counter}-`;
  const provider = create('gcp-test', {
    project_id: GCP_PROJECT_ID, api_endpoint: emulator.url, fallback: true, retry_base_ms: 1, timeout_ms: 3000, ...options, prefix,
  }, { baseDir: process.cwd(), env: {} }, { authClient: staticTokenAuthClient(token) });
  providers.push(provider);
  return Object.assign(provider, { prefix });
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp, transient = false, canary?: string): Promise<LockboxError> {
  let caught: unknown;
  await promise.then(() => assert.fail(`expected ${code}`), (error: unknown) => { caught = error; });
  assert.ok(caught instanceof LockboxError, `expected a LockboxError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  assert.equal(caught.transient, transient);
  if (canary) assert.ok(!`${caught.message} ${caught.hint ?? ''} ${caught.stack ?? ''}`.includes(canary), 'the value leaked into the error');
  return caught;
}

const count = (rpc: string): number => emulator.calls.filter((c) => c === rpc).length;
const value = (text: string): SecretValue => new SecretValue(text);

providerContract('gcp (emulator)', async (seed) => {
  const provider = gcp();
  for (const [name, text] of Object.entries(seed)) await provider.set!({ name }, value(text));
  return { provider };
});

describe('gcp provider: names and layouts', () => {
  it('maps per-secret names to {prefix}{tenant}-{name} and keeps the lockbox name in annotations', async () => {
    const p = gcp({ prefix: `dativo${++counter}-` });
    await p.set!({ name: 'stripe/api-key', scope: 'acme' }, value('canary-stripe'));
    await p.set!({ name: 'app.config/db' }, value('canary-global'));
    const tenant = emulator.inspect(`${p.prefix}acme-stripe-api-key`);
    assert.deepEqual(tenant?.annotations, { 'lockbox-name': 'stripe/api-key', 'lockbox-tenant': 'acme' });
    assert.ok(emulator.inspect(`${p.prefix}app_config-db`));
    assert.deepEqual((await p.list!('', 'acme')).map((l) => [l.name, l.scope]), [['stripe/api-key', 'acme']]);
    assert.deepEqual((await p.list!()).map((l) => l.name), ['app.config/db'], 'tenant secrets stay out of the global list');
    assert.equal((await p.get({ name: 'stripe/api-key', scope: 'acme' }))?.value.reveal(), 'canary-stripe');
    assert.equal(await p.get({ name: 'stripe/api-key' }), null, 'the global name is another secret');
  });

  it('reads secrets created with gcloud as seed 002 names them, and lists them by stripping the prefix', async () => {
    const p = gcp({ prefix: `dativo${++counter}-`, layout: 'per-secret' });
    emulator.seed(`${p.prefix}acme-stripe_api_key`, 'sk_live_canary');
    const record = await p.get({ name: 'stripe_api_key', scope: 'acme' });
    assert.equal(record?.value.reveal(), 'sk_live_canary');
    assert.equal(record?.metadata.version, '1');
    assert.deepEqual(record?.metadata.labels, ['current']);
    assert.deepEqual((await p.list!('', 'acme')).map((l) => l.name), ['stripe_api_key']);
  });

  it('refuses two names that map to one secret id, and ids over 255 characters (NAME_UNMAPPABLE)', async () => {
    const p = gcp();
    await p.set!({ name: 'db/user' }, value('canary-one'));
    await rejectsWith(p.set!({ name: 'db-user' }, value('canary-two')), 'NAME_UNMAPPABLE', /"db-user" \(global\).*secret id "t\d+-db-user", which already holds secret "db\/user"/, false, 'canary-two');
    await rejectsWith(p.get({ name: 'db-user' }), 'NAME_UNMAPPABLE', /already holds secret "db\/user"/);
    await rejectsWith(p.set!({ name: `long/${'x'.repeat(300)}` }, value('v')), 'NAME_UNMAPPABLE', /secret id of 3\d\d characters; Secret Manager allows 255/);
    assert.equal((await p.get({ name: 'db/user' }))?.value.reveal(), 'canary-one');
  });

  it('document layout: one JSON secret per tenant, global secrets in the global document', async () => {
    const p = gcp({ layout: 'document' });
    emulator.seed(`${p.prefix}acme`, JSON.stringify({ stripe_api_key: 'canary-doc-stripe', port: 5432 }));
    emulator.seed(`${p.prefix}global`, JSON.stringify({ shared: 'canary-shared' }));
    const record = await p.get({ name: 'stripe_api_key', scope: 'acme' });
    assert.equal(record?.value.reveal(), 'canary-doc-stripe');
    assert.deepEqual([record?.metadata.version, record?.metadata.labels], ['1', ['current']]);
    assert.equal((await p.get({ name: 'port', scope: 'acme' }))?.value.reveal(), '5432');
    assert.equal((await p.get({ name: 'shared' }))?.value.reveal(), 'canary-shared');
    assert.equal(await p.get({ name: 'shared', scope: 'acme' }), null);
    const written = await p.set!({ name: 'db/password', scope: 'acme' }, value('canary-new'));
    assert.equal(written.version, '2');
    const stored = JSON.parse(emulator.inspect(`${p.prefix}acme`)!.versions.at(-1)!.data!.toString()) as Record<string, unknown>;
    assert.deepEqual(stored, { 'db/password': 'canary-new', port: '5432', stripe_api_key: 'canary-doc-stripe' });
    assert.deepEqual((await p.list!('', 'acme')).map((l) => l.name), ['db/password', 'port', 'stripe_api_key']);
    assert.equal(await p.get({ name: 'db/password', scope: 'acme', version: '1' }), null, 'version 1 of the document has no such key');
    assert.equal((await p.get({ name: 'stripe_api_key', scope: 'acme', version: 'previous' }))?.metadata.version, '1');
    assert.deepEqual((await p.versions!({ name: 'port', scope: 'acme' })).map((v) => [v.version, v.labels]), [['1', ['previous']], ['2', ['current']]]);
    await p.delete!({ name: 'port', scope: 'acme' });
    assert.equal(await p.get({ name: 'port', scope: 'acme' }), null);
    await rejectsWith(p.undelete!({ name: 'port', scope: 'acme' }), 'CAPABILITY', /undelete in the document layout/);
    await rejectsWith(p.delete!({ name: 'stripe_api_key', scope: 'acme' }, { mode: 'destroy' }), 'CAPABILITY', /destroying one key/);
    await rejectsWith(p.set!({ name: 'x', scope: 'acme' }, value('v'), { tags: { a: 'b' } }), 'CAPABILITY', /tags in the document layout/);
  });

  it('auto layout: reads per-secret first, then the tenant document; writes go per-secret', async () => {
    const p = gcp();
    emulator.seed(`${p.prefix}acme`, JSON.stringify({ a: 'canary-doc-a', b: 'canary-doc-b' }));
    emulator.seed(`${p.prefix}acme-a`, 'canary-own-a');
    assert.equal((await p.get({ name: 'a', scope: 'acme' }))?.value.reveal(), 'canary-own-a');
    assert.equal((await p.get({ name: 'b', scope: 'acme' }))?.value.reveal(), 'canary-doc-b');
    await p.set!({ name: 'b', scope: 'acme' }, value('canary-own-b'));
    assert.ok(emulator.inspect(`${p.prefix}acme-b`), 'the write made a per-secret secret');
    assert.equal((await p.get({ name: 'b', scope: 'acme' }))?.value.reveal(), 'canary-own-b');
    assert.deepEqual((await p.list!('', 'acme')).map((l) => l.name), ['a', 'b']);
  });

  it('a tenant document that is not a JSON object is TENANT_DOCUMENT_INVALID, without its content', async () => {
    const p = gcp({ layout: 'document' });
    emulator.seed(`${p.prefix}acme`, '["canary-array-item"]');
    emulator.seed(`${p.prefix}beta`, 'canary-not-json');
    await rejectsWith(p.get({ name: 'x', scope: 'acme' }), 'TENANT_DOCUMENT_INVALID', /tenant document "t\d+-acme" is invalid: it is JSON array, not an object/, false, 'canary-array-item');
    await rejectsWith(p.get({ name: 'x', scope: 'beta' }), 'TENANT_DOCUMENT_INVALID', /it is not JSON/, false, 'canary-not-json');
  });
});

describe('gcp provider: versions, labels, delete', () => {
  it('maps numbered versions and latest to current/previous; previous skips disabled versions; no pending', async () => {
    const p = gcp();
    for (const v of ['v1', 'v2', 'v3']) await p.set!({ name: 'rotating' }, value(v));
    emulator.inspect(`${p.prefix}rotating`)!.versions[1]!.state = 'DISABLED';
    assert.equal((await p.get({ name: 'rotating', version: 'previous' }))?.value.reveal(), 'v1');
    assert.equal((await p.get({ name: 'rotating', version: '2' })), null, 'a disabled version reads as not found');
    assert.equal((await p.get({ name: 'rotating', version: '3' }))?.value.reveal(), 'v3');
    assert.equal(await p.get({ name: 'rotating', version: 'pending' }), null);
    assert.equal(await p.get({ name: 'rotating', version: 'nope' }), null);
    const versions = await p.versions!({ name: 'rotating' });
    assert.deepEqual(versions.map((v) => [v.version, v.labels, v.deletedAt !== undefined]), [['1', ['previous'], false], ['2', [], true], ['3', ['current'], false]]);
    await rejectsWith(p.set!({ name: 'rotating' }, value('canary-pending'), { pending: true }), 'CAPABILITY', /pending versions/, false, 'canary-pending');
  });

  it('soft delete disables the versions, undelete enables them, destroy removes for good', async () => {
    const p = gcp();
    await p.set!({ name: 'tmp', scope: 'acme' }, value('one'));
    await p.set!({ name: 'tmp', scope: 'acme' }, value('two'));
    await p.delete!({ name: 'tmp', scope: 'acme' });
    const stored = emulator.inspect(`${p.prefix}acme-tmp`)!;
    assert.deepEqual(stored.versions.map((v) => v.state), ['DISABLED', 'DISABLED']);
    assert.equal(await p.get({ name: 'tmp', scope: 'acme' }), null);
    assert.deepEqual(await p.list!('', 'acme'), []);
    assert.ok((await p.versions!({ name: 'tmp', scope: 'acme' })).every((v) => v.deletedAt instanceof Date));
    await p.undelete!({ name: 'tmp', scope: 'acme' });
    assert.equal((await p.get({ name: 'tmp', scope: 'acme', version: 'previous' }))?.value.reveal(), 'one');
    await p.delete!({ name: 'tmp', scope: 'acme' }, { mode: 'destroy', version: '1' });
    assert.equal((await p.versions!({ name: 'tmp', scope: 'acme' }))[0]?.destroyed, true);
    await p.delete!({ name: 'tmp', scope: 'acme' }, { mode: 'destroy' });
    assert.equal(emulator.inspect(`${p.prefix}acme-tmp`), undefined);
    await rejectsWith(p.delete!({ name: 'tmp', scope: 'acme' }), 'NOT_FOUND', /"tmp" \(tenant "acme"\) not found/);
    await rejectsWith(p.undelete!({ name: 'tmp', scope: 'acme' }), 'NOT_FOUND', /not found/);
  });

  it('stores tags as labels and refuses tags that are not valid labels', async () => {
    const p = gcp();
    const meta = await p.set!({ name: 'tagged' }, value('v'), { tags: { team: 'payments' } });
    assert.deepEqual(meta.tags, { team: 'payments' });
    assert.deepEqual(emulator.inspect(`${p.prefix}tagged`)?.labels, { team: 'payments' });
    assert.deepEqual((await p.get({ name: 'tagged' }))?.metadata.tags, { team: 'payments' });
    await rejectsWith(p.set!({ name: 'tagged' }, value('v'), { tags: { Team: 'x' } }), 'INVALID_INPUT', /tag key "Team" cannot be a Google Secret Manager label/);
  });
});

describe('gcp provider: round trips', () => {
  beforeEach(() => emulator.resetRequests());

  it('getMany reads per-secret secrets with at most 10 in flight, and each tenant document once', async () => {
    const p = gcp();
    const names = Array.from({ length: 25 }, (_, i) => `bulk/${i}`);
    for (const name of names) emulator.seed(`${p.prefix}${name.replace('/', '-')}`, `canary-${name}`);
    emulator.resetRequests();
    const records = await p.getMany!(names.map((name) => ({ name })));
    assert.deepEqual(records.map((r) => r?.value.reveal()), names.map((n) => `canary-${n}`));
    assert.equal(count('AccessSecretVersion'), 25);
    assert.ok(emulator.peakInFlight <= 20, `at most 10 secrets (2 RPCs each) in flight, saw ${emulator.peakInFlight}`);

    const doc = gcp({ layout: 'document' });
    emulator.seed(`${doc.prefix}acme`, JSON.stringify(Object.fromEntries(names.map((n) => [n, `canary-${n}`]))));
    emulator.resetRequests();
    const fromDocument = await doc.getMany!(names.map((name) => ({ name, scope: 'acme' })));
    assert.equal(fromDocument[24]?.value.reveal(), 'canary-bulk/24');
    assert.equal(emulator.requests, 1, 'one tenant document, one round trip');
  });

  it('list follows page tokens', async () => {
    const p = gcp({ layout: 'per-secret' });
    for (let i = 0; i < 510; i++) emulator.seed(`${p.prefix}many-${i}`, 'v', { annotations: { 'lockbox-name': `many/${i}` } });
    emulator.resetRequests();
    assert.equal((await p.list!('many/')).length, 510);
    assert.equal(count('ListSecrets'), 2);
  });

  it('with access-only credentials (secretAccessor) reads still work and metadata is skipped after the first refusal', async () => {
    const admin = gcp();
    await admin.set!({ name: 'app/key' }, value('canary-accessor'));
    const reader = gcp({ prefix: admin.prefix }, GCP_ACCESSOR_TOKEN);
    emulator.resetRequests();
    assert.equal((await reader.get({ name: 'app/key' }))?.value.reveal(), 'canary-accessor');
    assert.equal((await reader.get({ name: 'app/key' }))?.value.reveal(), 'canary-accessor');
    assert.deepEqual(emulator.calls.filter((c) => c === 'GetSecret').length, 1);
    const health = await reader.health();
    assert.equal(health.status, 'degraded');
    assert.match(health.message ?? '', /cannot list secrets in project "lockbox-test".*gcloud secrets versions access latest --secret=/);
  });
});

describe('gcp provider: failures', () => {
  beforeEach(() => emulator.resetRequests());

  it('invalid credentials (401) are AUTH_FAILED and 403 PERMISSION_DENIED, never retried nor transient', async () => {
    const expired = gcp({ retries: 3 }, 'expired-token');
    await rejectsWith(expired.get({ name: 'x' }), 'AUTH_FAILED', /UNAUTHENTICATED/);
    assert.equal(count('AccessSecretVersion'), 1);
    const health = await expired.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /gcloud auth list/);
    emulator.resetRequests();
    const denied = gcp({ retries: 3 }, GCP_DENIED_TOKEN);
    const error = await rejectsWith(denied.get({ name: 'x' }), 'PERMISSION_DENIED', /PERMISSION_DENIED.*secretmanager\.versions\.access/);
    assert.match(error.hint ?? '', /roles\/secretmanager\.secretAccessor/);
    assert.equal(count('AccessSecretVersion'), 1);
  });

  it('throttling (429) and 5xx are retried, then THROTTLED / PROVIDER_UNAVAILABLE (transient)', async () => {
    const p = gcp({ retries: 2 });
    await p.set!({ name: 'busy' }, value('canary-busy'));
    emulator.resetRequests();
    emulator.failNext(429, 2, { rpc: 'AccessSecretVersion' });
    assert.equal((await p.get({ name: 'busy' }))?.value.reveal(), 'canary-busy');
    assert.equal(count('AccessSecretVersion'), 3, 'two 429s, then success');
    emulator.resetRequests();
    emulator.failNext(429, 3, { rpc: 'AccessSecretVersion' });
    await rejectsWith(p.get({ name: 'busy' }), 'THROTTLED', /RESOURCE_EXHAUSTED/, true, 'canary-busy');
    assert.equal(count('AccessSecretVersion'), 3);
    for (const status of [500, 503]) {
      emulator.resetRequests();
      emulator.failNext(status, 3, { rpc: 'AccessSecretVersion' });
      await rejectsWith(p.get({ name: 'busy' }), 'PROVIDER_UNAVAILABLE', /INTERNAL|UNAVAILABLE/, true);
      assert.equal(count('AccessSecretVersion'), 3);
    }
  });

  it('a slow answer is TIMEOUT (transient)', async () => {
    const p = gcp({ timeout_ms: 100, retries: 0 });
    emulator.delayNext(1_000, 2);
    await rejectsWith(p.get({ name: 'slow' }), 'TIMEOUT', /timed out after 100 ms/, true);
  });

  it('an unreachable endpoint is PROVIDER_UNAVAILABLE (transient) and health says to verify connectivity', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const p = gcp({ api_endpoint: `http://127.0.0.1:${port}`, retries: 1 });
    await rejectsWith(p.get({ name: 'x' }), 'PROVIDER_UNAVAILABLE', /unavailable/, true);
    const health = await p.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /verify network connectivity/);
  });

  it('a value over 64 KiB is VALUE_TOO_LARGE before anything is sent, in both layouts', async () => {
    const big = `canary-big-${'x'.repeat(65_536)}`;
    const p = gcp();
    await rejectsWith(p.set!({ name: 'big' }, value(big)), 'VALUE_TOO_LARGE', /secret "big" is 65547 bytes; Google Secret Manager stores at most 65536 bytes/, false, big);
    assert.equal(count('AddSecretVersion'), 0);
    const doc = gcp({ layout: 'document' });
    await doc.set!({ name: 'half', scope: 'acme' }, value('y'.repeat(40_000)));
    await rejectsWith(doc.set!({ name: 'other', scope: 'acme' }, value(`canary-${'z'.repeat(30_000)}`)), 'VALUE_TOO_LARGE', /tenant document "t\d+-acme"/, false, 'canary-');
  });

  it('needs a project: CONFIG_INVALID without project_id or GCP_PROJECT_ID; the variable is enough', () => {
    assert.throws(() => create('gcp-x', {}, { baseDir: '.', env: {} }), (error: unknown) =>
      error instanceof LockboxError && error.code === 'CONFIG_INVALID' && /set project_id in lockbox.yaml or the GCP_PROJECT_ID environment variable/.test(error.message));
    assert.equal(create('gcp-x', {}, { baseDir: '.', env: { GCP_PROJECT_ID: 'my-project-123' } }).type, 'gcp');
    assert.throws(() => create('gcp-x', { project_id: 'p', layuot: 'document' } as GcpOptions, { baseDir: '.', env: {} }), /layuot/);
  });

  it('api_endpoint takes a host, host:port or URL (gax apiEndpoint / port / protocol)', () => {
    assert.deepEqual(parseEndpoint('g', 'secretmanager.googleapis.com', false), { apiEndpoint: 'secretmanager.googleapis.com' });
    assert.deepEqual(parseEndpoint('g', 'private.googleapis.com:8443', false), { apiEndpoint: 'private.googleapis.com', port: 8443 });
    assert.deepEqual(parseEndpoint('g', 'http://127.0.0.1:8085', true), { apiEndpoint: '127.0.0.1', port: 8085, protocol: 'http' });
    assert.throws(() => parseEndpoint('g', 'ftp://host', true), /must use http or https/);
  });

  it('a plain-http endpoint without fallback is CONFIG_INVALID on first use', async () => {
    const p = gcp({ fallback: false });
    await rejectsWith(p.get({ name: 'x' }), 'CONFIG_INVALID', /plain http, which only the REST transport can use: set fallback: true/);
  });

  it('a missing SDK is SDK_MISSING naming the package to install', async () => {
    const missing = '@google-cloud/secret-manager-not-installed';
    const error = await rejectsWith(loadSecretManagerSdk('gcp-x', () => import(missing)), 'SDK_MISSING', /needs the package @google-cloud\/secret-manager, which is not installed/);
    assert.equal(error.hint, 'npm install @google-cloud/secret-manager');
  });
});
