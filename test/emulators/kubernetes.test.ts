/**
 * The Kubernetes emulator against the documented API behaviour, over raw HTTP (fetch): Status
 * bodies, create/read/replace/patch/delete of Secrets, resourceVersion conflicts, label
 * selectors, limit/continue pagination, validation (names, keys, base64, 1 MiB), auth and faults.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startKubernetesEmulator, type KubernetesEmulator } from './kubernetes.js';

let emulator: KubernetesEmulator;
let namespaceCounter = 0;
before(async () => { emulator = await startKubernetesEmulator({ tokens: { 'test-token': '*', 'reader': ['get'] } }); });
after(async () => { await emulator.close(); });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are inspected field by field
type Json = Record<string, any>;

const b64 = (text: string): string => Buffer.from(text).toString('base64');

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, token = 'test-token'): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetch(`${emulator.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : { text }, headers: response.headers };
}

function freshNamespace(): string {
  return `ns-${++namespaceCounter}`;
}

function secret(name: string, data: Record<string, string> = { value: b64('v') }, labels: Record<string, string> = {}): unknown {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, labels }, data };
}

function assertStatus(body: Json, code: number, reason: string): void {
  assert.equal(body.kind, 'Status');
  assert.equal(body.apiVersion, 'v1');
  assert.equal(body.status, 'Failure');
  assert.equal(body.code, code);
  assert.equal(body.reason, reason);
  assert.equal(typeof body.message, 'string');
}

describe('kubernetes emulator', () => {
  it('answers /version, /readyz, /livez and /healthz without credentials', async () => {
    const version = await fetch(`${emulator.url}/version`);
    assert.equal(version.status, 200);
    assert.match((await version.json() as { gitVersion: string }).gitVersion, /^v1\.\d+/);
    for (const path of ['/readyz', '/livez', '/healthz']) {
      const response = await fetch(`${emulator.url}${path}`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'ok');
    }
  });

  it('rejects a missing or unknown bearer token with 401 Unauthorized and a token without the verb with 403 Forbidden', async () => {
    const ns = freshNamespace();
    const none = await fetch(`${emulator.url}/api/v1/namespaces/${ns}/secrets`);
    assert.equal(none.status, 401);
    assertStatus(await none.json() as Json, 401, 'Unauthorized');
    assertStatus((await api('GET', `/api/v1/namespaces/${ns}/secrets`, undefined, {}, 'wrong')).body, 401, 'Unauthorized');
    const forbidden = await api('GET', `/api/v1/namespaces/${ns}/secrets`, undefined, {}, 'reader');
    assertStatus(forbidden.body, 403, 'Forbidden');
    assert.match(forbidden.body.message, /cannot list resource "secrets" in API group "" in the namespace "ns-\d+"/);
    assert.equal((await api('GET', `/api/v1/namespaces/${ns}/secrets/missing`, undefined, {}, 'reader')).status, 404, 'get is allowed for reader');
  });

  it('creates a Secret (201) with server fields, folds stringData into data, and answers 409 AlreadyExists for a second create', async () => {
    const ns = freshNamespace();
    const created = await api('POST', `/api/v1/namespaces/${ns}/secrets`, { metadata: { name: 'app' }, stringData: { password: 'p' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.kind, 'Secret');
    assert.equal(created.body.type, 'Opaque');
    assert.equal(created.body.metadata.namespace, ns);
    assert.match(created.body.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(created.body.metadata.resourceVersion, /^\d+$/);
    assert.match(created.body.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(created.body.data, { password: b64('p') });
    assert.equal(created.body.stringData, undefined);
    const read = await api('GET', `/api/v1/namespaces/${ns}/secrets/app`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data, { password: b64('p') });
    const again = await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('app'));
    assertStatus(again.body, 409, 'AlreadyExists');
    assert.equal(again.body.message, 'secrets "app" already exists');
    assert.deepEqual(again.body.details, { name: 'app', kind: 'secrets' });
  });

  it('answers 404 NotFound with the documented Status for a missing Secret and an unknown path', async () => {
    const missing = await api('GET', `/api/v1/namespaces/${freshNamespace()}/secrets/nope`);
    assertStatus(missing.body, 404, 'NotFound');
    assert.equal(missing.body.message, 'secrets "nope" not found');
    assert.deepEqual(missing.body.details, { name: 'nope', kind: 'secrets' });
    assertStatus((await api('GET', '/api/v1/pods')).body, 404, 'NotFound');
  });

  it('replaces with optimistic concurrency: a stale resourceVersion is 409 Conflict, the current one bumps it', async () => {
    const ns = freshNamespace();
    const created = (await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('app'))).body;
    const rv = created.metadata.resourceVersion as string;
    const updated = await api('PUT', `/api/v1/namespaces/${ns}/secrets/app`, { ...created, data: { value: b64('two') } });
    assert.equal(updated.status, 200);
    assert.ok(Number(updated.body.metadata.resourceVersion) > Number(rv));
    assert.equal(updated.body.metadata.uid, created.metadata.uid);
    const stale = await api('PUT', `/api/v1/namespaces/${ns}/secrets/app`, { ...created, data: { value: b64('three') } });
    assertStatus(stale.body, 409, 'Conflict');
    assert.match(stale.body.message, /the object has been modified; please apply your changes to the latest version and try again/);
    assert.equal(emulator.secret(ns, 'app')?.data?.value, b64('two'), 'the stale write changed nothing');
    const unconditional = await api('PUT', `/api/v1/namespaces/${ns}/secrets/app`, secret('app', { value: b64('four') }));
    assert.equal(unconditional.status, 200, 'a PUT without resourceVersion is unconditional');
    assertStatus((await api('PUT', `/api/v1/namespaces/${ns}/secrets/other`, secret('other'))).body, 404, 'NotFound');
    assertStatus((await api('PUT', `/api/v1/namespaces/${ns}/secrets/app`, secret('else'))).body, 400, 'BadRequest');
  });

  it('filters lists with label selectors (=, !=, !key, in, notin, exists)', async () => {
    const ns = freshNamespace();
    await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('a', undefined, { app: 'x', tier: 'db' }));
    await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('b', undefined, { app: 'x' }));
    await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('c', undefined, { app: 'y', tier: 'web' }));
    const names = async (selector: string): Promise<string[]> => {
      const answer = await api('GET', `/api/v1/namespaces/${ns}/secrets?labelSelector=${encodeURIComponent(selector)}`);
      assert.equal(answer.body.kind, 'SecretList');
      return (answer.body.items as Array<{ metadata: { name: string } }>).map((item) => item.metadata.name);
    };
    assert.deepEqual(await names('app=x'), ['a', 'b']);
    assert.deepEqual(await names('app=x,!tier'), ['b']);
    assert.deepEqual(await names('app!=x'), ['c']);
    assert.deepEqual(await names('tier in (db,web)'), ['a', 'c']);
    assert.deepEqual(await names('tier notin (db)'), ['b', 'c']);
    assert.deepEqual(await names('tier'), ['a', 'c']);
    assertStatus((await api('GET', `/api/v1/namespaces/${ns}/secrets?labelSelector=${encodeURIComponent('a b c')}`)).body, 400, 'BadRequest');
  });

  it('paginates with limit/continue in name order, and answers 410 Expired for a continue token older than a compaction', async () => {
    const ns = freshNamespace();
    for (const name of ['e', 'a', 'd', 'c', 'b']) await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret(name));
    const first = await api('GET', `/api/v1/namespaces/${ns}/secrets?limit=2`);
    assert.deepEqual(first.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['a', 'b']);
    assert.equal(first.body.metadata.remainingItemCount, 3);
    const token = first.body.metadata.continue as string;
    const second = await api('GET', `/api/v1/namespaces/${ns}/secrets?limit=2&continue=${encodeURIComponent(token)}`);
    assert.deepEqual(second.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['c', 'd']);
    const third = await api('GET', `/api/v1/namespaces/${ns}/secrets?limit=2&continue=${encodeURIComponent(second.body.metadata.continue)}`);
    assert.deepEqual(third.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['e']);
    assert.equal(third.body.metadata.continue, undefined, 'the last page has no continue token');
    assertStatus((await api('GET', `/api/v1/namespaces/${ns}/secrets?limit=2&continue=garbage`)).body, 400, 'BadRequest');
    emulator.compact();
    assertStatus((await api('GET', `/api/v1/namespaces/${ns}/secrets?limit=2&continue=${encodeURIComponent(token)}`)).body, 410, 'Expired');
  });

  it('validates names, data keys and base64, and limits data to 1 MiB (422 FieldValueTooLong) and bodies to 3 MiB (413)', async () => {
    const ns = freshNamespace();
    const badName = await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('Bad_Name'));
    assertStatus(badName.body, 422, 'Invalid');
    assert.equal(badName.body.details.causes[0].field, 'metadata.name');
    assertStatus((await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('k', { 'a/b': b64('x') }))).body, 422, 'Invalid');
    assertStatus((await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('k', { key: 'not base64!' }))).body, 400, 'BadRequest');
    const tooLong = await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('big', { value: Buffer.alloc(1024 * 1024 + 1, 97).toString('base64') }));
    assertStatus(tooLong.body, 422, 'Invalid');
    assert.equal(tooLong.body.message, 'Secret "big" is invalid: data: Too long: must have at most 1048576 bytes');
    assert.deepEqual(tooLong.body.details.causes, [{ reason: 'FieldValueTooLong', message: 'Too long: must have at most 1048576 bytes', field: 'data' }]);
    const exact = await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('exact', { value: Buffer.alloc(1024 * 1024, 97).toString('base64') }));
    assert.equal(exact.status, 201, 'exactly 1 MiB is accepted');
    const huge = await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('huge', { value: Buffer.alloc(3 * 1024 * 1024, 97).toString('base64') }));
    assertStatus(huge.body, 413, 'RequestEntityTooLarge');
  });

  it('patches with merge, strategic merge and JSON patches; 415 for other media types; 409 for a stale resourceVersion in the patch', async () => {
    const ns = freshNamespace();
    const created = (await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('app', { a: b64('1'), b: b64('2') }))).body;
    const merged = await api('PATCH', `/api/v1/namespaces/${ns}/secrets/app`, { data: { b: null, c: b64('3') } }, { 'content-type': 'application/merge-patch+json' });
    assert.deepEqual(merged.body.data, { a: b64('1'), c: b64('3') });
    const strategic = await api('PATCH', `/api/v1/namespaces/${ns}/secrets/app`, { metadata: { labels: { x: 'y' } } }, { 'content-type': 'application/strategic-merge-patch+json' });
    assert.deepEqual(strategic.body.metadata.labels, { x: 'y' });
    const json = await api('PATCH', `/api/v1/namespaces/${ns}/secrets/app`, [{ op: 'replace', path: '/data/a', value: b64('9') }, { op: 'remove', path: '/data/c' }], { 'content-type': 'application/json-patch+json' });
    assert.deepEqual(json.body.data, { a: b64('9') });
    assertStatus((await api('PATCH', `/api/v1/namespaces/${ns}/secrets/app`, {}, { 'content-type': 'text/plain' })).body, 415, 'UnsupportedMediaType');
    const stale = await api('PATCH', `/api/v1/namespaces/${ns}/secrets/app`, { metadata: { resourceVersion: created.metadata.resourceVersion }, data: { a: null } }, { 'content-type': 'application/merge-patch+json' });
    assertStatus(stale.body, 409, 'Conflict');
  });

  it('refuses to change the data of an immutable Secret', async () => {
    const ns = freshNamespace();
    const created = (await api('POST', `/api/v1/namespaces/${ns}/secrets`, { ...secret('frozen') as object, immutable: true })).body;
    const changed = await api('PUT', `/api/v1/namespaces/${ns}/secrets/frozen`, { ...created, data: { value: b64('other') } });
    assertStatus(changed.body, 422, 'Invalid');
    assert.match(changed.body.message, /field is immutable when `immutable` is set/);
  });

  it('deletes for real (200 Status Success), honours preconditions (409) and answers 404 for a missing Secret', async () => {
    const ns = freshNamespace();
    const created = (await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('app'))).body;
    const stale = await api('DELETE', `/api/v1/namespaces/${ns}/secrets/app`, { preconditions: { resourceVersion: '1' } });
    assertStatus(stale.body, 409, 'Conflict');
    assert.match(stale.body.message, /Precondition failed: ResourceVersion in precondition: 1/);
    const deleted = await api('DELETE', `/api/v1/namespaces/${ns}/secrets/app`, { preconditions: { uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion } });
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.status, 'Success');
    assert.deepEqual(deleted.body.details, { name: 'app', kind: 'secrets', uid: created.metadata.uid });
    assert.equal(emulator.secret(ns, 'app'), undefined);
    assertStatus((await api('DELETE', `/api/v1/namespaces/${ns}/secrets/app`)).body, 404, 'NotFound');
  });

  it('injects faults (429 with Retry-After, 500, 503), counts requests and delays answers', async () => {
    const ns = freshNamespace();
    emulator.resetRequests();
    emulator.failNext(429);
    const throttled = await api('GET', `/api/v1/namespaces/${ns}/secrets`);
    assertStatus(throttled.body, 429, 'TooManyRequests');
    assert.equal(throttled.headers.get('retry-after'), '1');
    emulator.failNext(500);
    assertStatus((await api('GET', `/api/v1/namespaces/${ns}/secrets`)).body, 500, 'InternalError');
    emulator.failNext(503, 1, 'POST');
    assert.equal((await api('GET', `/api/v1/namespaces/${ns}/secrets`)).status, 200, 'a method-bound fault waits for its method');
    assertStatus((await api('POST', `/api/v1/namespaces/${ns}/secrets`, secret('x'))).body, 503, 'ServiceUnavailable');
    assert.equal(emulator.requests, 4);
    assert.deepEqual(emulator.log.at(-1), `POST /api/v1/namespaces/${ns}/secrets`);
    emulator.resetRequests();
    assert.equal(emulator.requests, 0);
    emulator.delayMs = 30;
    const controller = AbortSignal.timeout(5);
    await assert.rejects(fetch(`${emulator.url}/version`, { signal: controller }), { name: 'TimeoutError' });
    emulator.delayMs = 0;
  });
});
