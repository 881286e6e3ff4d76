/**
 * The Vault emulator against Vault's documented HTTP API (raw fetch): KV v2 versions and
 * check-and-set, soft delete/undelete/destroy, LIST, metadata, token/AppRole/Kubernetes auth
 * with TTLs and renewal, namespaces, sys/health, error bodies and fault injection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVaultEmulator, type VaultEmulator } from './vault.js';

interface Answer { status: number; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

const clock = { now: Date.parse('2030-01-01T00:00:00Z') };
let vault: VaultEmulator;

before(async () => {
  vault = await startVaultEmulator({
    now: () => clock.now,
    approle: { roleId: 'role-1', secretId: 'secret-1', tokenTtl: 60, tokenMaxTtl: 90 },
    kubernetes: { role: 'app', jwt: 'header.payload.sig', tokenTtl: 30, renewable: false },
    maxRequestBytes: 4096,
  });
});
after(async () => { await vault.close(); });

async function call(method: string, path: string, options: { token?: string | null; body?: unknown; namespace?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== null) headers['X-Vault-Token'] = options.token ?? vault.rootToken;
  if (options.namespace) headers['X-Vault-Namespace'] = options.namespace;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${vault.url}/v1/${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

describe('vault emulator: KV v2', () => {
  it('writes versions with check-and-set and reads any version', async () => {
    const first = await call('POST', 'secret/data/kv/a', { body: { options: { cas: 0 }, data: { v: 'one' } } });
    assert.equal(first.status, 200);
    assert.equal(first.body.data.version, 1);
    assert.equal(first.body.data.deletion_time, '');
    const stale = await call('POST', 'secret/data/kv/a', { body: { options: { cas: 0 }, data: { v: 'two' } } });
    assert.equal(stale.status, 400);
    assert.deepEqual(stale.body, { errors: ['check-and-set parameter did not match the current version'] });
    assert.equal((await call('POST', 'secret/data/kv/a', { body: { options: { cas: 1 }, data: { v: 'two' } } })).body.data.version, 2);
    const latest = await call('GET', 'secret/data/kv/a');
    assert.deepEqual(latest.body.data.data, { v: 'two' });
    assert.equal(latest.body.data.metadata.version, 2);
    assert.deepEqual((await call('GET', 'secret/data/kv/a?version=1')).body.data.data, { v: 'one' });
    const meta = await call('GET', 'secret/metadata/kv/a');
    assert.equal(meta.body.data.current_version, 2);
    assert.deepEqual(Object.keys(meta.body.data.versions), ['1', '2']);
    assert.deepEqual(await call('GET', 'secret/data/kv/none'), { status: 404, body: { errors: [] } });
    assert.deepEqual(await call('POST', 'secret/data/kv/a', { body: { nodata: true } }), { status: 400, body: { errors: ['no data provided'] } });
  });

  it('soft-deletes, undeletes and destroys versions; metadata delete removes everything', async () => {
    await call('POST', 'secret/data/kv/d', { body: { data: { v: '1' } } });
    await call('POST', 'secret/data/kv/d', { body: { data: { v: '2' } } });
    assert.equal((await call('DELETE', 'secret/data/kv/d')).status, 204);
    const deleted = await call('GET', 'secret/data/kv/d');
    assert.equal(deleted.status, 404, 'a deleted version reads as 404');
    assert.equal(deleted.body.data.data, null);
    assert.notEqual(deleted.body.data.metadata.deletion_time, '');
    assert.equal((await call('POST', 'secret/undelete/kv/d', { body: { versions: [2] } })).status, 204);
    assert.deepEqual((await call('GET', 'secret/data/kv/d')).body.data.data, { v: '2' });
    assert.equal((await call('POST', 'secret/destroy/kv/d', { body: { versions: [1] } })).status, 204);
    const destroyed = await call('GET', 'secret/data/kv/d?version=1');
    assert.equal(destroyed.status, 404);
    assert.equal(destroyed.body.data.metadata.destroyed, true);
    assert.deepEqual(await call('POST', 'secret/delete/kv/d', { body: {} }), { status: 400, body: { errors: ['no version number provided'] } });
    assert.equal((await call('DELETE', 'secret/metadata/kv/d')).status, 204);
    assert.deepEqual(await call('GET', 'secret/metadata/kv/d'), { status: 404, body: { errors: [] } });
  });

  it('keeps at most 10 versions per key', async () => {
    for (let i = 1; i <= 12; i++) await call('POST', 'secret/data/kv/many', { body: { data: { i: String(i) } } });
    const meta = await call('GET', 'secret/metadata/kv/many');
    assert.equal(meta.body.data.current_version, 12);
    assert.equal(meta.body.data.oldest_version, 3);
    assert.equal((await call('GET', 'secret/data/kv/many?version=1')).status, 404);
  });

  it('lists keys of a folder with sub-folders suffixed "/", 404 when empty', async () => {
    await call('POST', 'secret/data/tree/x', { body: { data: { a: '1' } } });
    await call('POST', 'secret/data/tree/x/y', { body: { data: { a: '1' } } });
    await call('POST', 'secret/data/tree/z', { body: { data: { a: '1' } } });
    const listed = await call('GET', 'secret/metadata/tree/?list=true');
    assert.deepEqual(listed.body.data.keys, ['x', 'x/', 'z']);
    assert.deepEqual(await call('GET', 'secret/metadata/empty/?list=true'), { status: 404, body: { errors: [] } });
  });

  it('stores custom_metadata and returns it with every data read', async () => {
    await call('POST', 'secret/data/kv/cm', { body: { data: { a: '1' } } });
    assert.equal((await call('POST', 'secret/metadata/kv/cm', { body: { custom_metadata: { owner: 'team' } } })).status, 204);
    assert.deepEqual((await call('GET', 'secret/data/kv/cm')).body.data.metadata.custom_metadata, { owner: 'team' });
  });

  it('answers 413 for a body over the size limit and 404 for an unmounted path', async () => {
    const big = await call('POST', 'secret/data/kv/big', { body: { data: { v: 'x'.repeat(5000) } } });
    assert.deepEqual(big, { status: 413, body: { errors: ['http: request body too large'] } });
    const unmounted = await call('GET', 'other/data/x');
    assert.equal(unmounted.status, 404);
    assert.match(unmounted.body.errors[0], /no handler for route/);
  });

  it('isolates data by X-Vault-Namespace', async () => {
    await call('POST', 'secret/data/ns-secret', { body: { data: { a: 'team-a' } }, namespace: 'team-a' });
    assert.equal((await call('GET', 'secret/data/ns-secret', { namespace: 'team-a' })).status, 200);
    assert.equal((await call('GET', 'secret/data/ns-secret')).status, 404);
    assert.equal((await call('GET', 'secret/data/ns-secret', { namespace: 'team-b' })).status, 404);
  });
});

describe('vault emulator: auth', () => {
  it('answers 403 "permission denied" without a valid token or outside the token\'s paths', async () => {
    assert.deepEqual(await call('GET', 'secret/data/kv/a', { token: null }), { status: 403, body: { errors: ['permission denied'] } });
    assert.equal((await call('GET', 'secret/data/kv/a', { token: 'hvs.bogus' })).status, 403);
    const limited = vault.createToken({ ttl: 600, allowedPaths: ['secret/data/team/'] });
    assert.equal((await call('GET', 'secret/data/kv/a', { token: limited })).status, 403);
    assert.equal((await call('GET', 'secret/data/team/x', { token: limited })).status, 404);
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: limited })).status, 200);
  });

  it('logs in with AppRole and refuses wrong credentials with 400', async () => {
    const login = await call('POST', 'auth/approle/login', { token: null, body: { role_id: 'role-1', secret_id: 'secret-1' } });
    assert.equal(login.status, 200);
    assert.match(login.body.auth.client_token, /^hvs\./);
    assert.equal(login.body.auth.lease_duration, 60);
    assert.equal(login.body.auth.renewable, true);
    const wrong = await call('POST', 'auth/approle/login', { token: null, body: { role_id: 'role-1', secret_id: 'nope' } });
    assert.deepEqual(wrong, { status: 400, body: { errors: ['invalid role or secret ID'] } });
  });

  it('logs in with Kubernetes auth: the configured JWT only', async () => {
    const login = await call('POST', 'auth/kubernetes/login', { token: null, body: { role: 'app', jwt: 'header.payload.sig' } });
    assert.equal(login.status, 200);
    assert.equal(login.body.auth.renewable, false);
    assert.deepEqual(await call('POST', 'auth/kubernetes/login', { token: null, body: { role: 'app', jwt: 'forged' } }), { status: 403, body: { errors: ['permission denied'] } });
    assert.equal((await call('POST', 'auth/kubernetes/login', { token: null, body: { role: 'other', jwt: 'header.payload.sig' } })).status, 400);
  });

  it('expires tokens after their TTL, renews renewable ones up to the max TTL', async () => {
    const start = clock.now;
    const token = (await call('POST', 'auth/approle/login', { token: null, body: { role_id: 'role-1', secret_id: 'secret-1' } })).body.auth.client_token;
    clock.now = start + 50_000;
    assert.equal((await call('GET', 'auth/token/lookup-self', { token })).body.data.ttl, 10);
    const renewed = await call('POST', 'auth/token/renew-self', { token, body: {} });
    assert.equal(renewed.body.auth.lease_duration, 40, 'capped at max TTL 90 s from issue');
    assert.match(renewed.body.warnings[0], /capped/);
    clock.now = start + 89_000;
    assert.equal((await call('GET', 'secret/data/kv/a', { token })).status, 200);
    clock.now = start + 91_000;
    assert.equal((await call('GET', 'secret/data/kv/a', { token })).status, 403, 'expired');
    const k8s = (await call('POST', 'auth/kubernetes/login', { token: null, body: { role: 'app', jwt: 'header.payload.sig' } })).body.auth.client_token;
    assert.deepEqual(await call('POST', 'auth/token/renew-self', { token: k8s, body: {} }), { status: 400, body: { errors: ['lease is not renewable'] } });
    clock.now = start;
  });
});

describe('vault emulator: sys/health and faults', () => {
  it('reports node state with Vault\'s status codes', async () => {
    const active = await call('GET', 'sys/health', { token: null });
    assert.equal(active.status, 200);
    assert.equal(active.body.sealed, false);
    vault.state = 'standby';
    assert.equal((await call('GET', 'sys/health', { token: null })).status, 429);
    assert.equal((await call('GET', 'sys/health?standbyok=true', { token: null })).status, 200);
    vault.state = 'sealed';
    assert.equal((await call('GET', 'sys/health', { token: null })).status, 503);
    assert.deepEqual(await call('GET', 'secret/data/kv/a'), { status: 503, body: { errors: ['Vault is sealed'] } });
    vault.state = 'uninitialized';
    assert.equal((await call('GET', 'sys/health', { token: null })).status, 501);
    vault.state = 'active';
  });

  it('injects failures with Vault error bodies and counts requests', async () => {
    vault.resetRequests();
    vault.failNext(429, 2);
    assert.deepEqual(await call('GET', 'secret/data/kv/a'), { status: 429, body: { errors: ['request path "secret/data/kv/a": rate limit quota exceeded'] } });
    assert.equal((await call('GET', 'secret/data/kv/a')).status, 429);
    assert.equal((await call('GET', 'secret/data/kv/a')).status, 200);
    vault.failNext(500, 1, { path: 'kv/other' });
    assert.equal((await call('GET', 'secret/data/kv/a')).status, 200, 'path filter: not this path');
    assert.deepEqual(await call('GET', 'secret/data/kv/other'), { status: 500, body: { errors: ['internal error'] } });
    assert.equal(vault.requests, 5);
    assert.deepEqual(vault.log.map((entry) => entry.path), Array(4).fill('secret/data/kv/a').concat('secret/data/kv/other'));
  });
});
