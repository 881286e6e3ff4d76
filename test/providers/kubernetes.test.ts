/**
 * The kubernetes provider through the official @kubernetes/client-node against the emulator in
 * test/emulators/kubernetes.ts: the shared contract, the layouts and name mapping, versions,
 * optimistic concurrency, getMany round trips, and every failure users meet (401, 403, 429,
 * 5xx, timeouts, unreachable servers, values too large, names that cannot be mapped).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { LockboxError } from '../../src/errors.js';
import { create, createWithClient, type KubernetesOptions } from '../../src/providers/kubernetes.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider } from '../../src/types.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes.js';
import { providerContract } from './contract.js';

let emulator: KubernetesEmulator;
let namespaceCounter = 0;
const FAST = { retry_base_ms: 1, timeout_ms: 2_000 } as const;

before(async () => { emulator = await startKubernetesEmulator({ tokens: { 'test-token': '*', 'get-only': ['get'] } }); });
after(async () => { await emulator.close(); });

/** A KubeConfig built from an object, pointing at the emulator over http with a bearer token. */
function kubeConfig(namespace: string, token = 'test-token', server = emulator.url): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'emulator', server, skipTLSVerify: true }],
    users: [{ name: 'lockbox', token }],
    contexts: [{ name: 'test', cluster: 'emulator', user: 'lockbox', namespace }],
    currentContext: 'test',
  });
  return config;
}

function fresh(options: KubernetesOptions = {}, token?: string): { provider: Provider; namespace: string } {
  const namespace = `ns-${++namespaceCounter}`;
  return { provider: createWithClient('k8s', { ...FAST, ...options }, kubeConfig(namespace, token)), namespace };
}

const value = (text: string): SecretValue => new SecretValue(text);
const b64 = (text: string): string => Buffer.from(text).toString('base64');

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp, canary?: string): Promise<LockboxError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => { caught = error; return true; });
  assert.ok(caught instanceof LockboxError, `expected a LockboxError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  if (canary) {
    assert.ok(!caught.message.includes(canary) && !String(caught.hint).includes(canary), 'the value leaked into the error');
    assert.ok(!(caught.stack ?? '').includes(canary), 'the value leaked into the stack');
  }
  return caught;
}

providerContract('kubernetes (emulator)', async (seed) => {
  const { provider } = fresh();
  for (const [name, text] of Object.entries(seed)) await provider.set!({ name }, value(text));
  return { provider };
});

describe('kubernetes provider: per-secret layout and name mapping', () => {
  it('stores one Secret per secret: folded name, base64 value in key "value", labels and annotations with the original name and tenant', async () => {
    const { provider, namespace } = fresh();
    await provider.set!({ name: 'db/password' }, value('canary-global-1'));
    await provider.set!({ name: 'db/password', scope: 'acme' }, value('canary-acme-1'), { tags: { owner: 'team-a' } });
    const global = emulator.secret(namespace, 'lockbox-db-password');
    assert.equal(global?.data?.value, b64('canary-global-1'));
    assert.equal(global?.metadata.labels?.['app.kubernetes.io/managed-by'], 'lockbox');
    assert.equal(global?.metadata.labels?.['lockbox.dev/tenant'], undefined);
    assert.equal(global?.metadata.annotations?.['lockbox.dev/name'], 'db/password');
    const tenant = emulator.secret(namespace, 'lockbox-acme.db-password');
    assert.equal(tenant?.data?.value, b64('canary-acme-1'));
    assert.equal(tenant?.metadata.labels?.['lockbox.dev/tenant'], 'acme');
    assert.equal(tenant?.metadata.annotations?.['lockbox.dev/tenant'], 'acme');
    const record = await provider.get({ name: 'db/password', scope: 'acme' });
    assert.equal(record?.value.reveal(), 'canary-acme-1');
    assert.deepEqual(record?.metadata.tags, { owner: 'team-a' });
    assert.deepEqual((await provider.list!('', 'acme')).map((l) => l.name), ['db/password']);
    assert.deepEqual((await provider.list!('db/')).map((l) => [l.name, l.scope]), [['db/password', undefined]]);
  });

  it('refuses a second name that folds to the same Secret with NAME_UNMAPPABLE naming both, and reads it as missing', async () => {
    const { provider } = fresh({ layout: 'per-secret' });
    await provider.set!({ name: 'db-password' }, value('canary-first'));
    await rejectsWith(provider.set!({ name: 'DB_PASSWORD' }, value('canary-second')), 'NAME_UNMAPPABLE',
      /secret name "DB_PASSWORD" cannot be mapped to a Kubernetes Secret: it maps to the Secret "lockbox-db-password", which already holds the lockbox secret "db-password"/, 'canary-second');
    assert.equal(await provider.get({ name: 'DB_PASSWORD' }), null);
    assert.equal((await provider.get({ name: 'db-password' }))?.value.reveal(), 'canary-first');
  });

  it('refuses names that cannot become a DNS-1123 Secret name, and tenants that cannot be a label value', async () => {
    const { provider } = fresh({ layout: 'per-secret' });
    await rejectsWith(provider.set!({ name: 'trailing-' }, value('canary-x')), 'NAME_UNMAPPABLE', /maps to the Secret name "lockbox-trailing-", but a Secret name is a DNS-1123 subdomain/, 'canary-x');
    await rejectsWith(provider.get({ name: 'x'.repeat(260) }), 'NAME_UNMAPPABLE', /at most 253 characters/);
    await rejectsWith(provider.set!({ name: 'ok', scope: `t${'a'.repeat(63)}` }, value('canary-y')), 'NAME_UNMAPPABLE', /a tenant must be a Kubernetes label value/, 'canary-y');
  });

  it('will not overwrite a Secret lockbox did not create (ALREADY_EXISTS) and does not read it as a lockbox secret', async () => {
    const { provider, namespace } = fresh({ layout: 'per-secret' });
    emulator.seed(namespace, { metadata: { name: 'lockbox-tls' }, data: { value: b64('foreign') } });
    assert.equal(await provider.get({ name: 'tls' }), null);
    await rejectsWith(provider.set!({ name: 'tls' }, value('canary-tls')), 'ALREADY_EXISTS', /the Secret "lockbox-tls" exists and was not created by lockbox/, 'canary-tls');
    assert.equal(emulator.secret(namespace, 'lockbox-tls')?.data?.value, b64('foreign'));
  });

  it('keeps current, previous and pending versions with numeric ids; promote makes pending current', async () => {
    const { provider, namespace } = fresh();
    const ref = { name: 'api/key' };
    await provider.set!(ref, value('v1'));
    await provider.set!(ref, value('v2'));
    const third = await provider.set!(ref, value('v3'));
    assert.equal(third.version, '3');
    assert.deepEqual((await provider.versions!(ref)).map((v) => [v.version, v.labels]), [['2', ['previous']], ['3', ['current']]]);
    assert.equal(await provider.get({ ...ref, version: '1' }), null, 'Kubernetes keeps one previous version only');
    assert.equal((await provider.get({ ...ref, version: '2' }))?.value.reveal(), 'v2');
    const staged = await provider.set!(ref, value('v4'), { pending: true });
    assert.deepEqual(staged.labels, ['pending']);
    assert.equal((await provider.get(ref))?.value.reveal(), 'v3');
    assert.equal((await provider.get({ ...ref, version: 'pending' }))?.value.reveal(), 'v4');
    assert.deepEqual(Object.keys(emulator.secret(namespace, 'lockbox-api-key')?.data ?? {}).sort(), ['pending', 'previous', 'value']);
    const promoted = await provider.promote!(ref, '4');
    assert.deepEqual([promoted.version, promoted.labels], ['4', ['current']]);
    assert.equal((await provider.get(ref))?.value.reveal(), 'v4');
    assert.equal((await provider.get({ ...ref, version: 'previous' }))?.value.reveal(), 'v3');
    assert.equal(await provider.get({ ...ref, version: 'pending' }), null);
    await provider.delete!(ref, { mode: 'destroy', version: 'previous' });
    assert.deepEqual((await provider.versions!(ref)).map((v) => v.version), ['4']);
  });

  it('keeps no previous value with keep_previous: false, and drops it when value and previous would pass 1 MiB', async () => {
    const { provider, namespace } = fresh({ keep_previous: false });
    await provider.set!({ name: 'a' }, value('one'));
    await provider.set!({ name: 'a' }, value('two'));
    assert.deepEqual(Object.keys(emulator.secret(namespace, 'lockbox-a')?.data ?? {}), ['value']);
    assert.equal(await provider.get({ name: 'a', version: 'previous' }), null);
    const big = fresh();
    await big.provider.set!({ name: 'b' }, value('x'.repeat(600 * 1024)));
    await big.provider.set!({ name: 'b' }, value('y'.repeat(600 * 1024)));
    assert.deepEqual(Object.keys(emulator.secret(big.namespace, 'lockbox-b')?.data ?? {}), ['value']);
  });

  it('deletes for real: the Secret is gone, a second delete is NOT_FOUND, and there is no undelete', async () => {
    const { provider, namespace } = fresh();
    await provider.set!({ name: 'gone' }, value('v'));
    await provider.delete!({ name: 'gone' });
    assert.equal(emulator.secret(namespace, 'lockbox-gone'), undefined);
    await rejectsWith(provider.delete!({ name: 'gone' }), 'NOT_FOUND', /secret gone not found/);
    assert.equal(provider.undelete, undefined);
  });
});

describe('kubernetes provider: document and auto layouts', () => {
  function seedDocuments(namespace: string): void {
    emulator.seed(namespace, { metadata: { name: 'app-secrets' }, data: { DB_PASSWORD: b64('canary-global-doc'), api_key: b64('k1') } });
    emulator.seed(namespace, { metadata: { name: 'acme' }, data: { DB_PASSWORD: b64('canary-acme-doc') } });
  }

  it('reads keys of existing Secrets (made by kubectl or Helm): the global document and one per tenant', async () => {
    const { provider, namespace } = fresh({ layout: 'document', prefix: '', global_document: 'app-secrets' });
    seedDocuments(namespace);
    assert.equal((await provider.get({ name: 'DB_PASSWORD' }))?.value.reveal(), 'canary-global-doc');
    assert.equal((await provider.get({ name: 'DB_PASSWORD', scope: 'acme' }))?.value.reveal(), 'canary-acme-doc');
    assert.equal(await provider.get({ name: 'api_key', scope: 'acme' }), null, 'no fallback inside the provider');
    assert.deepEqual((await provider.list!()).map((l) => l.name), ['DB_PASSWORD', 'api_key']);
    assert.equal(provider.capabilities.versions, false);
    assert.equal(provider.versions, undefined);
    await rejectsWith(provider.get({ name: 'db/password' }), 'NAME_UNMAPPABLE', /a key of a tenant document Secret allows only letters, digits, "-", "_" and "." \(no "\/"\)/);
  });

  it('writes one key of the document, keeping the other keys, and deletes one key', async () => {
    const { provider, namespace } = fresh({ layout: 'document', prefix: '', global_document: 'app-secrets' });
    seedDocuments(namespace);
    const meta = await provider.set!({ name: 'new_key' }, value('canary-new'));
    assert.equal(meta.version, emulator.secret(namespace, 'app-secrets')?.metadata.resourceVersion);
    assert.deepEqual(Object.keys(emulator.secret(namespace, 'app-secrets')?.data ?? {}).sort(), ['DB_PASSWORD', 'api_key', 'new_key']);
    await provider.set!({ name: 'token', scope: 'globex' }, value('canary-globex'));
    assert.equal(emulator.secret(namespace, 'globex')?.metadata.annotations?.['lockbox.dev/tenant'], 'globex');
    await provider.delete!({ name: 'api_key' });
    assert.deepEqual(Object.keys(emulator.secret(namespace, 'app-secrets')?.data ?? {}).sort(), ['DB_PASSWORD', 'new_key']);
    await rejectsWith(provider.set!({ name: 'e' }, value('canary-e'), { expiresAt: new Date(Date.now() + 60_000) }), 'CAPABILITY', /expiry \(expiresAt\) in layout "document"/, 'canary-e');
  });

  it('auto reads per-secret first, then the tenant document; writes go per-secret; list is the union', async () => {
    const { provider, namespace } = fresh({ layout: 'auto' });
    emulator.seed(namespace, { metadata: { name: 'lockbox-acme' }, data: { stripe_key: b64('canary-doc-stripe'), shared: b64('from-doc') } });
    await provider.set!({ name: 'shared', scope: 'acme' }, value('from-per-secret'));
    await provider.set!({ name: 'db/password', scope: 'acme' }, value('canary-db'));
    assert.equal((await provider.get({ name: 'stripe_key', scope: 'acme' }))?.value.reveal(), 'canary-doc-stripe');
    assert.equal((await provider.get({ name: 'shared', scope: 'acme' }))?.value.reveal(), 'from-per-secret');
    assert.equal((await provider.get({ name: 'db/password', scope: 'acme' }))?.value.reveal(), 'canary-db');
    assert.deepEqual((await provider.list!('', 'acme')).map((l) => l.name), ['db/password', 'shared', 'stripe_key']);
    assert.deepEqual((await provider.versions!({ name: 'stripe_key', scope: 'acme' })).map((v) => v.labels), [['current']]);
    assert.equal(await provider.get({ name: 'value', scope: 'acme' }), null);
  });

  it('auto does not read a per-secret Secret as a tenant document', async () => {
    const { provider } = fresh({ layout: 'auto' });
    await provider.set!({ name: 'acme' }, value('canary-global-acme'));
    assert.equal(await provider.get({ name: 'value', scope: 'acme' }), null, 'the global secret "acme" (Secret lockbox-acme) is not the document of tenant acme');
    assert.deepEqual(await provider.list!('', 'acme'), []);
  });
});

describe('kubernetes provider: getMany and list round trips', () => {
  it('getMany of 100 names of one tenant is one LIST; names missing per-secret cost one document GET (auto)', async () => {
    const { provider, namespace } = fresh();
    const names = Array.from({ length: 100 }, (_, i) => `svc/key-${i}`);
    for (const name of names) await provider.set!({ name, scope: 'acme' }, value(`v-${name}`));
    emulator.seed(namespace, { metadata: { name: 'lockbox-acme' }, data: { only_in_doc: b64('doc-value') } });
    emulator.resetRequests();
    const records = await provider.getMany!(names.map((name) => ({ name, scope: 'acme' })));
    assert.equal(emulator.requests, 1, emulator.log.join('\n'));
    assert.deepEqual(records.map((r) => r?.value.reveal()), names.map((name) => `v-${name}`));
    emulator.resetRequests();
    const mixed = await provider.getMany!([...names.slice(0, 20), 'only_in_doc', 'missing'].map((name) => ({ name, scope: 'acme' })));
    assert.equal(emulator.requests, 2, emulator.log.join('\n'));
    assert.equal(mixed[20]?.value.reveal(), 'doc-value');
    assert.equal(mixed[21], null);
  });

  it('getMany of a few names is one GET each (at most 10 in flight), the document read once', async () => {
    const { provider } = fresh({ layout: 'document' });
    for (const name of ['a', 'b', 'c']) await provider.set!({ name }, value(name));
    emulator.resetRequests();
    const records = await provider.getMany!(['a', 'b', 'c', 'd'].map((name) => ({ name })));
    assert.deepEqual(records.map((r) => r?.value.reveal() ?? null), ['a', 'b', 'c', null]);
    assert.equal(emulator.requests, 1, 'one GET of the global document');
  });

  it('lists page by page with limit/continue (501 Secrets: 2 requests)', async () => {
    const { provider, namespace } = fresh({ layout: 'per-secret' });
    for (let i = 0; i < 501; i++) {
      const name = `n${String(i).padStart(3, '0')}`;
      emulator.seed(namespace, {
        metadata: {
          name: `lockbox-${name}`, labels: { 'app.kubernetes.io/managed-by': 'lockbox', 'lockbox.dev/layout': 'per-secret' },
          annotations: { 'lockbox.dev/name': name, 'lockbox.dev/versions': JSON.stringify({ current: { version: '1', updatedAt: new Date().toISOString(), tags: {} } }) },
        },
        data: { value: b64('v') },
      });
    }
    emulator.resetRequests();
    const listed = await provider.list!();
    assert.equal(listed.length, 501);
    assert.equal(emulator.requests, 2);
    assert.match(emulator.log[0]!, /limit=500/);
    assert.match(emulator.log[1]!, /continue=/);
  });
});

describe('kubernetes provider: concurrency and failures', () => {
  it('re-reads and retries a write that lost a race (409 Conflict), and reports CONFLICT when it keeps losing', async () => {
    const { provider } = fresh();
    await provider.set!({ name: 'c' }, value('one'));
    emulator.resetRequests();
    emulator.failNext(409, 1, 'PUT');
    assert.equal((await provider.set!({ name: 'c' }, value('two'))).version, '2');
    assert.equal(emulator.requests, 4, 'read, PUT (409), read, PUT');
    emulator.failNext(409, 10, 'PUT');
    await rejectsWith(provider.set!({ name: 'c' }, value('canary-lost')), 'CONFLICT', /update Secret "lockbox-c" failed with HTTP 409/, 'canary-lost');
  });

  it('serialises concurrent writers through resourceVersion: every write lands as its own version', async () => {
    const { provider, namespace } = fresh();
    const other = createWithClient('k8s-2', FAST, kubeConfig(namespace));
    await provider.set!({ name: 'race' }, value('start'));
    const metas = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? provider : other).set!({ name: 'race' }, value(`w${i}`))));
    assert.deepEqual(metas.map((m) => Number(m.version)).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7]);
  });

  it('401 is AUTH_FAILED, not retried and not transient; health says to check authentication', async () => {
    const { provider } = fresh({}, 'expired-token');
    emulator.resetRequests();
    const error = await rejectsWith(provider.get({ name: 'x' }), 'AUTH_FAILED', /read Secret "lockbox-x" failed with HTTP 401/);
    assert.equal(error.transient, false);
    assert.equal(emulator.requests, 1);
    const health = await provider.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', /authentication failed: check authentication \(credentials, service accounts\)/);
  });

  it('403 is PERMISSION_DENIED and not transient; health names the namespace and `kubectl auth can-i`', async () => {
    const { provider, namespace } = fresh({}, 'get-only');
    const error = await rejectsWith(provider.list!(), 'PERMISSION_DENIED', /list Secrets failed with HTTP 403: Forbidden: secrets is forbidden/);
    assert.equal(error.transient, false);
    await rejectsWith(provider.set!({ name: 'x' }, value('canary-403')), 'PERMISSION_DENIED', /HTTP 403/, 'canary-403');
    const health = await provider.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', new RegExp(`permission denied: .*namespace "${namespace}".*kubectl auth can-i list secrets -n ${namespace}`));
  });

  it('429 and 5xx are retried (then THROTTLED / PROVIDER_UNAVAILABLE, transient)', async () => {
    const { provider } = fresh({ retries: 2 });
    await provider.set!({ name: 'r' }, value('ok'));
    emulator.resetRequests();
    emulator.failNext(429, 2);
    assert.equal((await provider.get({ name: 'r' }))?.value.reveal(), 'ok');
    assert.equal(emulator.requests, 3);
    emulator.resetRequests();
    emulator.failNext(429, 3);
    assert.equal((await rejectsWith(provider.get({ name: 'r' }), 'THROTTLED', /HTTP 429: TooManyRequests/)).transient, true);
    assert.equal(emulator.requests, 3);
    emulator.resetRequests();
    emulator.failNext(500, 3);
    assert.equal((await rejectsWith(provider.get({ name: 'r' }), 'PROVIDER_UNAVAILABLE', /HTTP 500: InternalError/)).transient, true);
    assert.equal(emulator.requests, 3);
    emulator.failNext(429, 1);
    assert.equal((await provider.health()).status, 'ready', 'health retries a throttled probe too');
  });

  it('a slow API server is TIMEOUT (transient); an unreachable one is PROVIDER_UNAVAILABLE; health says to verify network connectivity', async () => {
    const { provider } = fresh({ timeout_ms: 50, retries: 0 });
    emulator.delayMs = 300;
    try {
      assert.equal((await rejectsWith(provider.get({ name: 'slow' }), 'TIMEOUT', /read Secret "lockbox-slow" timed out after 50 ms/)).transient, true);
    } finally {
      emulator.delayMs = 0;
    }
    const closed = await startKubernetesEmulator();
    const url = closed.url;
    await closed.close();
    const unreachable = createWithClient('k8s', { ...FAST, retries: 0 }, kubeConfig('default', 'test-token', url));
    assert.equal((await rejectsWith(unreachable.get({ name: 'x' }), 'PROVIDER_UNAVAILABLE', /unavailable: read Secret "lockbox-x" failed \(ECONNREFUSED\)/)).transient, true);
    const health = await unreachable.health();
    assert.equal(health.status, 'down');
    assert.match(health.message ?? '', new RegExp(`cannot reach the Kubernetes API server at ${url}: verify network connectivity`));
  });

  it('a value past 1 MiB is VALUE_TOO_LARGE (422 from the API), a body past 3 MiB too (413), the value never in the message', async () => {
    const { provider } = fresh();
    const large = `canary-large-${'x'.repeat(1024 * 1024)}`;
    await rejectsWith(provider.set!({ name: 'big' }, value(large)), 'VALUE_TOO_LARGE', /create Secret "lockbox-big" failed with HTTP 422: the Secret's data would exceed Kubernetes' 1 MiB limit/, 'canary-large-');
    const huge = `canary-huge-${'y'.repeat(3 * 1024 * 1024)}`;
    await rejectsWith(provider.set!({ name: 'huge' }, value(huge)), 'VALUE_TOO_LARGE', /HTTP 413: RequestEntityTooLarge/, 'canary-huge-');
  });
});

describe('kubernetes provider: configuration', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'lockbox-k8s-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('loads a kubeconfig file (relative to the config directory) and picks the named context and its namespace', async () => {
    await writeFile(join(dir, 'kubeconfig.yaml'), [
      'apiVersion: v1', 'kind: Config', 'current-context: broken',
      'clusters:', `- name: emulator`, `  cluster: { server: "${emulator.url}", insecure-skip-tls-verify: true }`,
      'users:', '- name: good', '  user: { token: test-token }', '- name: bad', '  user: { token: nope }',
      'contexts:', '- name: broken', '  context: { cluster: emulator, user: bad }',
      '- name: team', '  context: { cluster: emulator, user: good, namespace: team-ns }', '',
    ].join('\n'));
    const provider = create('k8s', { ...FAST, kubeconfig: 'kubeconfig.yaml', context: 'team' }, { baseDir: dir, env: {} });
    await provider.set!({ name: 'from-file' }, value('v'));
    assert.ok(emulator.secret('team-ns', 'lockbox-from-file'), 'written in the context namespace');
    assert.equal((await provider.health()).status, 'ready');
    const wrongContext = create('k8s', { ...FAST, kubeconfig: 'kubeconfig.yaml', context: 'nope' }, { baseDir: dir, env: {} });
    await rejectsWith(wrongContext.get({ name: 'x' }), 'INVALID_INPUT', /the kubeconfig has no context "nope" \(contexts: broken, team\)/);
    const missing = create('k8s', { kubeconfig: 'missing.yaml' }, { baseDir: dir, env: {} });
    await rejectsWith(missing.get({ name: 'x' }), 'INVALID_INPUT', /cannot load the Kubernetes configuration: ENOENT/);
    assert.match((await missing.health()).message ?? '', /ENOENT/);
  });

  it('refuses bad options with INVALID_INPUT: unknown keys, in_cluster with kubeconfig, in_cluster outside a pod', async () => {
    assert.throws(() => create('k8s', { nope: 1 } as KubernetesOptions), (e: unknown) => e instanceof LockboxError && e.code === 'INVALID_INPUT' && /Unrecognized key/.test(e.message));
    assert.throws(() => create('k8s', { in_cluster: true, kubeconfig: 'x' }), /in_cluster and kubeconfig cannot both be set/);
    assert.throws(() => create('k8s', { prefix: 'Upper-' }), /prefix: lowercase letters, digits/);
    const outside = create('k8s', { in_cluster: true }, { baseDir: dir, env: {} });
    await rejectsWith(outside.get({ name: 'x' }), 'INVALID_INPUT', /in_cluster is set but KUBERNETES_SERVICE_HOST is not/);
  });
});
