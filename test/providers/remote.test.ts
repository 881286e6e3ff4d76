/**
 * The plumbing every network provider shares (src/providers/remote.ts): SDK_MISSING naming the
 * package, retries of transient failures only, TIMEOUT, the HTTP status → code mapping, and
 * what the cache does with each class: stale for 429/5xx/timeouts, never for 401/403.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LockboxError } from '../../src/errors.js';
import { CachedProvider } from '../../src/manager/cache.js';
import { callRemote, httpStatusError, loadSdk } from '../../src/providers/remote.js';
import { SecretValue } from '../../src/secret-value.js';
import type { Provider, SecretRecord } from '../../src/types.js';

const FAST = { timeout_ms: 200, retries: 2, retry_base_ms: 1 };

describe('remote provider plumbing', () => {
  it('names the package to install when an optional SDK is missing (SDK_MISSING)', async () => {
    await assert.rejects(loadSdk('@lockbox-test/no-such-sdk', 'cloud', () => import('@lockbox-test/no-such-sdk' as string)), (error: LockboxError) => {
      assert.equal(error.code, 'SDK_MISSING');
      assert.equal(error.message, 'provider "cloud" needs the package @lockbox-test/no-such-sdk, which is not installed');
      assert.equal(error.hint, 'npm install @lockbox-test/no-such-sdk');
      return true;
    });
  });

  it('retries 429 and 5xx, then fails with THROTTLED / PROVIDER_UNAVAILABLE (transient)', async () => {
    for (const [status, code] of [[429, 'THROTTLED'], [503, 'PROVIDER_UNAVAILABLE']] as const) {
      let calls = 0;
      await assert.rejects(callRemote('cloud', 'GetSecret', FAST, async () => { calls++; throw Object.assign(new Error('x'), { statusCode: status }); }), (error: LockboxError) => {
        assert.equal(error.code, code);
        assert.equal(error.transient, true);
        assert.match(error.message, new RegExp(`provider "cloud": GetSecret failed with HTTP ${status}`));
        return true;
      });
      assert.equal(calls, 3, `${status}: one call and two retries`);
    }
  });

  it('does not retry 401/403 and never marks them transient', async () => {
    for (const [status, code] of [[401, 'AUTH_FAILED'], [403, 'PERMISSION_DENIED']] as const) {
      let calls = 0;
      await assert.rejects(callRemote('cloud', 'GetSecret', FAST, async () => { calls++; throw Object.assign(new Error('x'), { status }); }), (error: LockboxError) => {
        assert.equal(error.code, code);
        assert.equal(error.transient, false);
        return true;
      });
      assert.equal(calls, 1);
    }
  });

  it('succeeds after a transient failure within the retry budget', async () => {
    let calls = 0;
    const value = await callRemote('cloud', 'GetSecret', FAST, async () => { if (++calls < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' }); return 'ok'; });
    assert.equal(value, 'ok');
    assert.equal(calls, 3);
  });

  it('times a slow call out with TIMEOUT and aborts its signal', async () => {
    let aborted = false;
    await assert.rejects(callRemote('cloud', 'GetSecret', { ...FAST, retries: 0, timeout_ms: 20 }, (signal) => new Promise((resolve) => {
      signal.addEventListener('abort', () => { aborted = true; });
      setTimeout(resolve, 200);
    })), (error: LockboxError) => {
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(error.message, 'provider "cloud": GetSecret timed out after 20 ms');
      assert.equal(error.transient, true);
      return true;
    });
    assert.equal(aborted, true);
  });

  it('maps 413 to VALUE_TOO_LARGE and 409 to CONFLICT', () => {
    assert.equal(httpStatusError('cloud', 'PutSecret', 413).code, 'VALUE_TOO_LARGE');
    assert.equal(httpStatusError('cloud', 'PutSecret', 409).code, 'CONFLICT');
    assert.equal(httpStatusError('cloud', 'PutSecret', 418).code, 'PROVIDER_ERROR');
  });

  it('the cache answers a 429/5xx with the stale value but never a 401/403', async () => {
    let failWith: unknown;
    const record: SecretRecord = { provider: 'cloud', value: new SecretValue('canary-remote-1'), metadata: { name: 'db/pw', version: '1', labels: ['current'], createdAt: new Date(0), updatedAt: new Date(0), tags: {} } };
    const backend: Provider = {
      id: 'cloud', type: 'test', capabilities: { write: false, delete: false, list: false, versions: false, watch: false },
      get: async () => { if (failWith) throw failWith; return record; },
      health: async () => ({ provider: 'cloud', status: 'ready', latencyMs: 0 }),
    };
    let now = 0;
    const cache = new CachedProvider(backend, { ttlMs: 10, staleIfErrorMs: 60_000, now: () => now });
    await cache.get({ name: 'db/pw' });
    now = 1_000;
    failWith = httpStatusError('cloud', 'GetSecret', 503);
    assert.equal((await cache.get({ name: 'db/pw' }))?.value.reveal(), 'canary-remote-1', '503: stale value');
    failWith = httpStatusError('cloud', 'GetSecret', 429);
    assert.equal((await cache.get({ name: 'db/pw' }))?.value.reveal(), 'canary-remote-1', '429: stale value');
    failWith = httpStatusError('cloud', 'GetSecret', 401);
    await assert.rejects(cache.get({ name: 'db/pw' }), { code: 'AUTH_FAILED' });
    failWith = httpStatusError('cloud', 'GetSecret', 403);
    await assert.rejects(cache.get({ name: 'db/pw' }), { code: 'PERMISSION_DENIED' });
  });
});
