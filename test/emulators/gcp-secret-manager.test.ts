/**
 * The Secret Manager emulator against the documented REST API v1, over raw HTTP: paths and
 * verbs, proto3 JSON bodies, Google's error body, pagination, filters, version states.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  GCP_ACCESSOR_TOKEN, GCP_ADMIN_TOKEN, GCP_DENIED_TOKEN, GCP_PROJECT_ID, GCP_PROJECT_NUMBER, startGcpSecretManagerEmulator,
  type GcpSecretManagerEmulator,
} from './gcp-secret-manager.js';
import { crc32cOf } from './gcp-secret-manager-store.js';

let emulator: GcpSecretManagerEmulator;
const P = `/v1/projects/${GCP_PROJECT_ID}`;
const INT_ENUMS = '$alt=json%3Benum-encoding=int';

before(async () => { emulator = await startGcpSecretManagerEmulator({ defaultPageSize: 2 }); });
after(async () => { await emulator.close(); });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- replies are JSON, inspected field by field
type JsonBody = Record<string, any>;
interface Reply { status: number; body: JsonBody }

async function api(path: string, init: { method?: string; body?: unknown; token?: string | null } = {}): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = init.token === undefined ? GCP_ADMIN_TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${emulator.url}${path}`, {
    method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: await response.json() as JsonBody };
}

let counter = 0;
async function createSecret(body: Record<string, unknown> = {}): Promise<string> {
  const id = `s${++counter}-${Date.now()}`;
  const reply = await api(`${P}/secrets?secretId=${id}`, { method: 'POST', body: { replication: { automatic: {} }, ...body } });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return id;
}

const addVersion = (id: string, value: string): Promise<Reply> =>
  api(`${P}/secrets/${id}:addVersion`, { method: 'POST', body: { payload: { data: Buffer.from(value).toString('base64') } } });

function assertError(reply: Reply, code: number, status: string, message?: RegExp): void {
  assert.equal(reply.status, code);
  assert.equal(reply.body.error.code, code);
  assert.equal(reply.body.error.status, status);
  assert.equal(typeof reply.body.error.message, 'string');
  if (message) assert.match(reply.body.error.message, message);
}

describe('gcp secret manager emulator: authentication and permissions', () => {
  it('answers 401 UNAUTHENTICATED without a known bearer token', async () => {
    assertError(await api(`${P}/secrets`, { token: null }), 401, 'UNAUTHENTICATED', /invalid authentication credentials/);
    assertError(await api(`${P}/secrets`, { token: 'expired-token' }), 401, 'UNAUTHENTICATED');
  });

  it('lets an accessor token access versions but nothing else, and a denied token nothing', async () => {
    const id = await createSecret();
    await addVersion(id, 'canary-accessor');
    const accessed = await api(`${P}/secrets/${id}/versions/latest:access`, { token: GCP_ACCESSOR_TOKEN });
    assert.equal(accessed.status, 200);
    assertError(await api(`${P}/secrets/${id}`, { token: GCP_ACCESSOR_TOKEN }), 403, 'PERMISSION_DENIED', /secretmanager\.secrets\.get/);
    assertError(await api(`${P}/secrets/${id}/versions/latest:access`, { token: GCP_DENIED_TOKEN }), 403, 'PERMISSION_DENIED', /secretmanager\.versions\.access/);
  });

  it('denies other projects and serves the project by number too', async () => {
    assertError(await api('/v1/projects/someone-else/secrets'), 403, 'PERMISSION_DENIED');
    assert.equal((await api(`/v1/projects/${GCP_PROJECT_NUMBER}/secrets`)).status, 200);
  });
});

describe('gcp secret manager emulator: secrets and versions', () => {
  it('creates a secret, adds versions and accesses them by number and latest with a CRC32C', async () => {
    const id = await createSecret({ labels: { team: 'payments' }, annotations: { 'lockbox-name': 'stripe/api-key' } });
    const secret = await api(`${P}/secrets/${id}`);
    assert.equal(secret.body.name, `projects/${GCP_PROJECT_NUMBER}/secrets/${id}`);
    assert.deepEqual(secret.body.replication, { automatic: {} });
    assert.deepEqual(secret.body.labels, { team: 'payments' });
    assert.deepEqual(secret.body.annotations, { 'lockbox-name': 'stripe/api-key' });
    assert.match(secret.body.createTime, /^\d{4}-\d\d-\d\dT/);
    const first = await addVersion(id, 'one');
    assert.equal(first.body.name, `projects/${GCP_PROJECT_NUMBER}/secrets/${id}/versions/1`);
    assert.equal(first.body.state, 'ENABLED');
    await addVersion(id, 'two');
    const latest = await api(`${P}/secrets/${id}/versions/latest:access?${INT_ENUMS}`);
    assert.equal(latest.body.name, `projects/${GCP_PROJECT_NUMBER}/secrets/${id}/versions/2`);
    assert.equal(Buffer.from(latest.body.payload.data, 'base64').toString(), 'two');
    assert.equal(latest.body.payload.dataCrc32c, String(crc32cOf(Buffer.from('two'))));
    const one = await api(`${P}/secrets/${id}/versions/1:access`);
    assert.equal(Buffer.from(one.body.payload.data, 'base64').toString(), 'one');
  });

  it('computes CRC32C (Castagnoli) like the service', () => {
    assert.equal(crc32cOf(Buffer.from('123456789')), 0xe3069283);
  });

  it('refuses duplicate, malformed and replication-less creates', async () => {
    const id = await createSecret();
    assertError(await api(`${P}/secrets?secretId=${id}`, { method: 'POST', body: { replication: { automatic: {} } } }), 409, 'ALREADY_EXISTS', /already exists/);
    assertError(await api(`${P}/secrets?secretId=a.b`, { method: 'POST', body: { replication: { automatic: {} } } }), 400, 'INVALID_ARGUMENT');
    assertError(await api(`${P}/secrets?secretId=no-replication`, { method: 'POST', body: {} }), 400, 'INVALID_ARGUMENT', /replication/);
    assertError(await api(`${P}/secrets?secretId=bad-label`, { method: 'POST', body: { replication: { automatic: {} }, labels: { Team: 'x' } } }), 400, 'INVALID_ARGUMENT', /label/);
  });

  it('answers 404 NOT_FOUND for missing secrets, secrets without versions and missing versions', async () => {
    assertError(await api(`${P}/secrets/never-made/versions/latest:access`), 404, 'NOT_FOUND', /not found or has no versions/);
    const id = await createSecret();
    assertError(await api(`${P}/secrets/${id}/versions/latest:access`), 404, 'NOT_FOUND', /has no versions/);
    await addVersion(id, 'x');
    assertError(await api(`${P}/secrets/${id}/versions/9:access`), 404, 'NOT_FOUND', /versions\/9\] not found/);
    assertError(await api(`${P}/secrets/never-made`), 404, 'NOT_FOUND');
  });

  it('rejects payloads over 64 KiB and checksum mismatches with 400 INVALID_ARGUMENT', async () => {
    const id = await createSecret();
    assertError(await addVersion(id, 'x'.repeat(65_537)), 400, 'INVALID_ARGUMENT', /64KiB/);
    assert.equal((await addVersion(id, 'x'.repeat(65_536))).status, 200);
    const bad = await api(`${P}/secrets/${id}:addVersion`, { method: 'POST', body: { payload: { data: Buffer.from('v').toString('base64'), dataCrc32c: '1' } } });
    assertError(bad, 400, 'INVALID_ARGUMENT', /[Cc]hecksum/);
  });

  it('disables, enables and destroys versions; latest follows the newest version whatever its state', async () => {
    const id = await createSecret();
    await addVersion(id, 'one');
    await addVersion(id, 'two');
    const disabled = await api(`${P}/secrets/${id}/versions/2:disable?${INT_ENUMS}`, { method: 'POST', body: {} });
    assert.equal(disabled.body.state, 2, 'enum-encoding=int gives numbers');
    assertError(await api(`${P}/secrets/${id}/versions/latest:access`), 400, 'FAILED_PRECONDITION', /versions\/2\] is in DISABLED state/);
    assert.equal((await api(`${P}/secrets/${id}/versions/1:access`)).status, 200);
    assert.equal((await api(`${P}/secrets/${id}/versions/2:enable`, { method: 'POST', body: {} })).body.state, 'ENABLED');
    const destroyed = await api(`${P}/secrets/${id}/versions/1:destroy`, { method: 'POST', body: {} });
    assert.equal(destroyed.body.state, 'DESTROYED');
    assert.match(destroyed.body.destroyTime, /^\d{4}-/);
    assertError(await api(`${P}/secrets/${id}/versions/1:access`), 400, 'FAILED_PRECONDITION', /DESTROYED/);
    assertError(await api(`${P}/secrets/${id}/versions/1:enable`, { method: 'POST', body: {} }), 400, 'FAILED_PRECONDITION');
    assert.equal((await api(`${P}/secrets/${id}/versions/latest`)).body.name.endsWith('/versions/2'), true);
  });

  it('lists versions newest first, filters by state and pages with tokens', async () => {
    const id = await createSecret();
    for (const v of ['a', 'b', 'c']) await addVersion(id, v);
    await api(`${P}/secrets/${id}/versions/2:disable`, { method: 'POST', body: {} });
    const first = await api(`${P}/secrets/${id}/versions`);
    assert.deepEqual(first.body.versions.map((v: { name: string }) => v.name.split('/').at(-1)), ['3', '2']);
    assert.equal(first.body.totalSize, 3);
    const second = await api(`${P}/secrets/${id}/versions?pageToken=${first.body.nextPageToken}`);
    assert.deepEqual(second.body.versions.map((v: { name: string }) => v.name.split('/').at(-1)), ['1']);
    assert.equal(second.body.nextPageToken, undefined);
    const enabled = await api(`${P}/secrets/${id}/versions?filter=${encodeURIComponent('state:ENABLED')}&pageSize=10`);
    assert.deepEqual(enabled.body.versions.map((v: { name: string }) => v.name.split('/').at(-1)), ['3', '1']);
  });

  it('updates labels and annotations under an update mask, guarded by the etag', async () => {
    const id = await createSecret({ labels: { a: 'b' } });
    const before = await api(`${P}/secrets/${id}`);
    const updated = await api(`${P}/secrets/${id}?updateMask=annotations`, { method: 'PATCH', body: { annotations: { note: 'x' }, labels: { ignored: 'y' } } });
    assert.deepEqual(updated.body.annotations, { note: 'x' });
    assert.deepEqual(updated.body.labels, { a: 'b' }, 'fields outside the mask are untouched');
    assert.notEqual(updated.body.etag, before.body.etag);
    assertError(await api(`${P}/secrets/${id}?updateMask=labels`, { method: 'PATCH', body: { labels: {}, etag: before.body.etag } }), 409, 'ABORTED');
    assertError(await api(`${P}/secrets/${id}`, { method: 'PATCH', body: {} }), 400, 'INVALID_ARGUMENT', /update_mask/);
  });

  it('deletes a secret for good', async () => {
    const id = await createSecret();
    await addVersion(id, 'gone');
    const deleted = await api(`${P}/secrets/${id}`, { method: 'DELETE' });
    assert.deepEqual([deleted.status, deleted.body], [200, {}]);
    assertError(await api(`${P}/secrets/${id}/versions/1:access`), 404, 'NOT_FOUND');
  });
});

describe('gcp secret manager emulator: listing secrets', () => {
  it('pages newest first with page tokens, filters by name substring and labels', async () => {
    const stamp = `pg${Date.now()}`;
    const ids: string[] = [];
    for (const [i, team] of ['red', 'blue', 'red'].entries()) {
      const id = `${stamp}-${i}`;
      ids.push(id);
      assert.equal((await api(`${P}/secrets?secretId=${id}`, { method: 'POST', body: { replication: { automatic: {} }, labels: { team } } })).status, 200);
    }
    const filter = encodeURIComponent(`name:"${stamp}"`);
    const first = await api(`${P}/secrets?filter=${filter}`);
    assert.deepEqual(first.body.secrets.map((s: { name: string }) => s.name.split('/').at(-1)), [ids[2], ids[1]]);
    assert.equal(first.body.totalSize, undefined, 'totalSize is 0 (omitted) when a filter is set');
    const second = await api(`${P}/secrets?filter=${filter}&pageToken=${first.body.nextPageToken}`);
    assert.deepEqual(second.body.secrets.map((s: { name: string }) => s.name.split('/').at(-1)), [ids[0]]);
    assert.equal(second.body.nextPageToken, undefined);
    const red = await api(`${P}/secrets?pageSize=10&filter=${encodeURIComponent(`name:${stamp} AND labels.team=red`)}`);
    assert.deepEqual(red.body.secrets.map((s: { name: string }) => s.name.split('/').at(-1)), [ids[2], ids[0]]);
    const either = await api(`${P}/secrets?pageSize=10&filter=${encodeURIComponent(`name:${stamp}-0 OR name:${stamp}-1`)}`);
    assert.equal(either.body.secrets.length, 2);
  });

  it('rejects a page token issued for another filter and an unknown filter field', async () => {
    const first = await api(`${P}/secrets?pageSize=1`);
    assert.ok(first.body.nextPageToken);
    assertError(await api(`${P}/secrets?pageSize=1&filter=name:x&pageToken=${first.body.nextPageToken}`), 400, 'INVALID_ARGUMENT', /page token/);
    assertError(await api(`${P}/secrets?filter=${encodeURIComponent('colour:red')}`), 400, 'INVALID_ARGUMENT', /filter/);
  });
});

describe('gcp secret manager emulator: faults and counters', () => {
  beforeEach(() => emulator.resetRequests());

  it('counts requests by RPC and injects failures with Google error bodies', async () => {
    emulator.failNext(503, 1, { rpc: 'ListSecrets' });
    emulator.failNext(429);
    assertError(await api(`${P}/secrets/x/versions/latest:access`), 429, 'RESOURCE_EXHAUSTED');
    assertError(await api(`${P}/secrets`), 503, 'UNAVAILABLE');
    assert.equal((await api(`${P}/secrets`)).status, 200);
    assert.equal(emulator.requests, 3);
    assert.deepEqual(emulator.calls, ['AccessSecretVersion', 'ListSecrets', 'ListSecrets']);
  });

  it('answers unknown paths with 404 and a Google error body', async () => {
    assertError(await api('/v1/projects/x/nothing-here'), 404, 'NOT_FOUND');
  });
});
