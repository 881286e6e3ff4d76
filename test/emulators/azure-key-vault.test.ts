/**
 * The Key Vault emulator against the documented REST behaviour, with raw HTTPS requests (no SDK):
 * the 401 challenge, api-version, status codes and error bodies, version ids, paging with
 * nextLink, disabled versions, soft delete / recover / purge, the size limit and fault injection.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startAzureKeyVaultEmulator, type AzureKeyVaultEmulator } from './azure-key-vault.js';

let emulator: AzureKeyVaultEmulator;
before(async () => { emulator = await startAzureKeyVaultEmulator(); });
after(async () => { await emulator.close(); });

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }

/** One raw request; `path` may be absolute (a nextLink). Authenticated unless token is null. */
function call(method: string, path: string, options: { body?: unknown; token?: string | null; apiVersion?: string | null; on?: AzureKeyVaultEmulator } = {}): Promise<Reply> {
  const target = options.on ?? emulator;
  const url = new URL(path, target.url);
  const apiVersion = options.apiVersion === undefined ? '7.4' : options.apiVersion;
  if (apiVersion !== null && !url.searchParams.has('api-version')) url.searchParams.set('api-version', apiVersion);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const token = options.token === undefined ? 'test-token' : options.token;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, ca: target.ca,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function errorOf(reply: Reply): { code?: string; message?: string; innererror?: { code?: string } } {
  return (reply.body.error ?? {}) as { code?: string; message?: string; innererror?: { code?: string } };
}

function versionOf(reply: Reply): string {
  return String(reply.body.id).split('/').at(-1)!;
}

describe('Key Vault emulator: authentication and api-version', () => {
  it('answers a request without a bearer token with the 401 challenge the SDK expects', async () => {
    const reply = await call('GET', '/secrets/anything', { token: null });
    assert.equal(reply.status, 401);
    assert.match(String(reply.headers['www-authenticate']), /^Bearer authorization="https:\/\/login\.microsoftonline\.com\/[^"]+", resource="https:\/\/vault\.azure\.net"$/);
    assert.equal(errorOf(reply).code, 'Unauthorized');
  });

  it('requires a known api-version, also when the key arrives percent-encoded as the SDK sends it', async () => {
    assert.equal(errorOf(await call('GET', '/secrets', { apiVersion: null })).code, 'BadParameter');
    const unknown = await call('GET', '/secrets', { apiVersion: '1.0' });
    assert.equal(unknown.status, 400);
    assert.match(errorOf(unknown).message ?? '', /version \(1\.0\) is not recognized/);
    assert.equal((await call('GET', '/secrets?api%2Dversion=2025-07-01', { apiVersion: null })).status, 200);
  });
});

describe('Key Vault emulator: secrets and versions', () => {
  it('PUT creates versions with 32-hex ids; GET answers the newest, or a named version; names ignore case', async () => {
    const first = await call('PUT', '/secrets/App-Secret', { body: { value: 'one', contentType: 'text/plain', tags: { team: 'core' } } });
    assert.equal(first.status, 200);
    assert.equal(first.body.value, 'one');
    assert.match(String(first.body.id), new RegExp(`^${emulator.url}/secrets/App-Secret/[0-9a-f]{32}$`));
    const attributes = first.body.attributes as Record<string, unknown>;
    assert.equal(attributes.enabled, true);
    assert.ok(Number.isInteger(attributes.created), 'created is unix seconds');
    assert.equal(attributes.recoveryLevel, 'Recoverable+Purgeable');
    const second = await call('PUT', '/secrets/app-secret', { body: { value: 'two' } });
    const latest = await call('GET', '/secrets/APP-SECRET/');
    assert.equal(latest.body.value, 'two');
    assert.equal(versionOf(latest), versionOf(second));
    const old = await call('GET', `/secrets/app-secret/${versionOf(first)}`);
    assert.deepEqual([old.body.value, old.body.contentType, old.body.tags], ['one', 'text/plain', { team: 'core' }]);
  });

  it('lists versions by id order (not by creation) with per-version ids and no values', async () => {
    await call('PUT', '/secrets/versioned', { body: { value: 'a' } });
    await call('PUT', '/secrets/versioned', { body: { value: 'b' } });
    await call('PUT', '/secrets/versioned', { body: { value: 'c' } });
    const reply = await call('GET', '/secrets/versioned/versions');
    const items = reply.body.value as Array<Record<string, unknown>>;
    const ids = items.map((i) => String(i.id).split('/').at(-1)!);
    assert.equal(items.length, 3);
    assert.deepEqual(ids, [...ids].sort());
    assert.ok(items.every((i) => !('value' in i)));
    assert.deepEqual((await call('GET', '/secrets/never-written/versions')).body.value, []);
  });

  it('answers 404 SecretNotFound and 400 BadParameter in the KeyVaultError shape', async () => {
    const missing = await call('GET', '/secrets/nope');
    assert.equal(missing.status, 404);
    assert.equal(errorOf(missing).code, 'SecretNotFound');
    assert.match(errorOf(missing).message ?? '', /A secret with \(name\/id\) nope was not found in this key vault/);
    assert.equal((await call('GET', '/secrets/versioned/0123456789abcdef0123456789abcdef')).status, 404);
    const badName = await call('PUT', '/secrets/bad_name', { body: { value: 'x' } });
    assert.deepEqual([badName.status, errorOf(badName).code], [400, 'BadParameter']);
    const noValue = await call('PUT', '/secrets/no-value', { body: {} });
    assert.deepEqual([noValue.status, errorOf(noValue).code], [400, 'BadParameter']);
  });

  it('refuses values over 25,600 characters with 400 BadParameter / SecretTooLarge', async () => {
    assert.equal((await call('PUT', '/secrets/limit', { body: { value: 'x'.repeat(25_600) } })).status, 200);
    const reply = await call('PUT', '/secrets/too-big', { body: { value: 'x'.repeat(25_601) } });
    assert.equal(reply.status, 400);
    assert.equal(errorOf(reply).code, 'BadParameter');
    assert.equal(errorOf(reply).innererror?.code, 'SecretTooLarge');
    assert.match(errorOf(reply).message ?? '', /maximum permitted length of 25600 characters/);
  });

  it('PATCH disables a version: the versionless GET is then 403 SecretDisabled; other versions still read', async () => {
    const v1 = await call('PUT', '/secrets/toggled', { body: { value: 'old' } });
    const v2 = await call('PUT', '/secrets/toggled', { body: { value: 'new' } });
    const patched = await call('PATCH', `/secrets/toggled/${versionOf(v2)}`, { body: { attributes: { enabled: false }, tags: { state: 'off' } } });
    assert.equal(patched.status, 200);
    assert.equal((patched.body.attributes as Record<string, unknown>).enabled, false);
    assert.ok(!('value' in patched.body));
    const denied = await call('GET', '/secrets/toggled');
    assert.deepEqual([denied.status, errorOf(denied).code, errorOf(denied).innererror?.code], [403, 'Forbidden', 'SecretDisabled']);
    assert.equal((await call('GET', `/secrets/toggled/${versionOf(v1)}`)).body.value, 'old');
  });

  it('still returns an expired secret (exp is informational in Key Vault)', async () => {
    await call('PUT', '/secrets/expired', { body: { value: 'late', attributes: { exp: 1_000 } } });
    const reply = await call('GET', '/secrets/expired');
    assert.equal(reply.status, 200);
    assert.equal((reply.body.attributes as Record<string, unknown>).exp, 1_000);
  });
});

describe('Key Vault emulator: paging', () => {
  it('pages GET /secrets by maxresults (default 25) with an opaque $skiptoken in nextLink, null at the end', async () => {
    const local = await startAzureKeyVaultEmulator();
    try {
      for (let i = 0; i < 30; i++) await call('PUT', `/secrets/page-${String(i).padStart(2, '0')}`, { body: { value: 'v' }, on: local });
      const first = await call('GET', '/secrets', { on: local });
      assert.equal((first.body.value as unknown[]).length, 25);
      assert.match(String(first.body.nextLink), new RegExp(`^${local.url}/secrets\\?api-version=7\\.4&%24skiptoken=[\\w-]+&maxresults=25$`));
      const second = await call('GET', String(first.body.nextLink), { on: local });
      assert.equal((second.body.value as unknown[]).length, 5);
      assert.equal(second.body.nextLink, null);
      const names = [...first.body.value as Array<{ id: string }>, ...second.body.value as Array<{ id: string }>].map((i) => i.id.split('/').at(-1));
      assert.equal(new Set(names).size, 30);
      assert.equal(((await call('GET', '/secrets?maxresults=10', { on: local })).body.value as unknown[]).length, 10);
      assert.equal((await call('GET', '/secrets?maxresults=26', { on: local })).status, 400);
    } finally {
      await local.close();
    }
  });
});

describe('Key Vault emulator: soft delete, recover, purge', () => {
  it('DELETE soft-deletes; the name then answers 409 ObjectIsDeletedButRecoverable until recovered or purged', async () => {
    await call('PUT', '/secrets/doomed', { body: { value: 'keep-me', tags: { a: 'b' } } });
    const deleted = await call('DELETE', '/secrets/doomed');
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.recoveryId, `${emulator.url}/deletedsecrets/doomed`);
    assert.ok(Number.isInteger(deleted.body.deletedDate) && Number.isInteger(deleted.body.scheduledPurgeDate));
    assert.equal((await call('GET', '/secrets/doomed')).status, 404);
    assert.equal((await call('DELETE', '/secrets/doomed')).status, 404);
    const conflict = await call('PUT', '/secrets/doomed', { body: { value: 'x' } });
    assert.deepEqual([conflict.status, errorOf(conflict).code, errorOf(conflict).innererror?.code], [409, 'Conflict', 'ObjectIsDeletedButRecoverable']);
    assert.match(errorOf(conflict).message ?? '', /deleted but recoverable state.*can only be recovered or purged/);
    assert.equal((await call('GET', '/deletedsecrets/doomed')).body.recoveryId, `${emulator.url}/deletedsecrets/doomed`);
    assert.ok((await call('GET', '/deletedsecrets')).body.value);
    const recovered = await call('POST', '/deletedsecrets/doomed/recover');
    assert.equal(recovered.status, 200);
    assert.equal((await call('GET', '/secrets/doomed')).body.value, 'keep-me');
    assert.equal((await call('GET', '/deletedsecrets/doomed')).status, 404);
  });

  it('purge (DELETE /deletedsecrets/{name}) answers 204 and frees the name for a fresh history', async () => {
    await call('PUT', '/secrets/purged', { body: { value: 'one' } });
    assert.equal((await call('DELETE', '/deletedsecrets/purged')).status, 404, 'only soft-deleted secrets can be purged');
    await call('DELETE', '/secrets/purged');
    assert.equal((await call('DELETE', '/deletedsecrets/purged')).status, 204);
    assert.equal((await call('POST', '/deletedsecrets/purged/recover')).status, 404);
    assert.equal((await call('PUT', '/secrets/purged', { body: { value: 'two' } })).status, 200);
    assert.equal(((await call('GET', '/secrets/purged/versions')).body.value as unknown[]).length, 1);
  });
});

describe('Key Vault emulator: fault injection and request counting', () => {
  it('counts every request and injects 401/403/429/500 on authenticated ones, then recovers', async () => {
    await call('PUT', '/secrets/faulty', { body: { value: 'v' } });
    emulator.resetRequests();
    emulator.failNext(429, 1, { retryAfterSeconds: 7 });
    const throttled = await call('GET', '/secrets/faulty');
    assert.deepEqual([throttled.status, throttled.headers['retry-after'], errorOf(throttled).code], [429, '7', 'Throttled']);
    emulator.failNext(401);
    const unauthorized = await call('GET', '/secrets/faulty');
    assert.equal(unauthorized.status, 401);
    assert.match(String(unauthorized.headers['www-authenticate']), /^Bearer authorization=/);
    emulator.failNext(403);
    assert.equal(errorOf(await call('GET', '/secrets/faulty')).innererror?.code, 'AccessDenied');
    emulator.failNext(500, 1, { after: 1 });
    assert.equal((await call('GET', '/secrets/faulty')).status, 200);
    assert.equal(errorOf(await call('GET', '/secrets/faulty')).code, 'InternalServerError');
    assert.equal((await call('GET', '/secrets/faulty')).status, 200);
    assert.equal(emulator.requests, 6);
    assert.equal(emulator.tokens.at(-1), 'test-token');
  });
});
