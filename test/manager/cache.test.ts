import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LockboxError, ProviderUnavailableError } from '../../src/errors.js';
import { CachedProvider } from '../../src/manager/cache.js';
import { SecretValue } from '../../src/secret-value.js';
import { flaky, manualClock } from './helpers.js';

describe('cache wrapper', () => {
  it('serves repeat reads from the cache within the TTL and refetches after it', async () => {
    const clock = manualClock();
    const inner = flaky('p', { a: 'one' });
    const cache = new CachedProvider(inner, { ttlMs: 1000, now: clock.now });
    assert.equal((await cache.get({ name: 'a' }))?.value.reveal(), 'one');
    assert.equal((await cache.get({ name: 'a' }))?.value.reveal(), 'one');
    assert.equal(inner.calls, 1);
    clock.advance(1001);
    await cache.get({ name: 'a' });
    assert.equal(inner.calls, 2);
    assert.deepEqual({ hits: cache.counters.hits, misses: cache.counters.misses }, { hits: 1, misses: 2 });
  });

  it('keys entries by scope, name and version', async () => {
    const inner = flaky('p', { a: 'one' });
    const cache = new CachedProvider(inner);
    await inner.set!({ name: 'a' }, new SecretValue('two'));
    await inner.set!({ name: 'a', scope: 't1' }, new SecretValue('tenant'));
    assert.equal((await cache.get({ name: 'a' }))?.value.reveal(), 'two');
    assert.equal((await cache.get({ name: 'a', version: '1' }))?.value.reveal(), 'one');
    assert.equal((await cache.get({ name: 'a', scope: 't1' }))?.value.reveal(), 'tenant');
    assert.equal(inner.calls, 3);
  });

  it('collapses concurrent misses into one provider call (single-flight)', async () => {
    const inner = flaky('p', { a: 'one' });
    inner.delayMs = 20;
    const cache = new CachedProvider(inner);
    const results = await Promise.all(Array.from({ length: 25 }, () => cache.get({ name: 'a' })));
    assert.equal(inner.calls, 1);
    assert.ok(results.every((r) => r?.value.reveal() === 'one'));
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const inner = flaky('p', { a: '1111', b: '2222', c: '3333' });
    const cache = new CachedProvider(inner, { maxEntries: 2 });
    await cache.get({ name: 'a' });
    await cache.get({ name: 'b' });
    await cache.get({ name: 'a' }); // a is used again, so b is the least recent
    await cache.get({ name: 'c' });
    assert.equal(cache.counters.entries, 2);
    assert.equal(cache.counters.evictions, 1);
    const before = inner.calls;
    await cache.get({ name: 'a' });
    assert.equal(inner.calls, before, 'a stayed cached');
    await cache.get({ name: 'b' });
    assert.equal(inner.calls, before + 1, 'b was evicted');
  });

  it('serves a stale value on a transient failure within the window, and not after it', async () => {
    const clock = manualClock();
    const inner = flaky('p', { a: 'one' });
    const cache = new CachedProvider(inner, { ttlMs: 1000, staleIfErrorMs: 5000, now: clock.now });
    await cache.get({ name: 'a' });
    inner.failWith = new ProviderUnavailableError('p', 'connection refused');
    clock.advance(2000);
    assert.equal((await cache.get({ name: 'a' }))?.value.reveal(), 'one');
    assert.equal(cache.counters.stale, 1);
    clock.advance(5000);
    await assert.rejects(cache.get({ name: 'a' }), (error: LockboxError) => error.code === 'PROVIDER_UNAVAILABLE');
  });

  it('treats HTTP 5xx/429 and network errno codes as transient, other failures as final', async () => {
    const clock = manualClock();
    const inner = flaky('p', { a: 'one' });
    const cache = new CachedProvider(inner, { ttlMs: 10, now: clock.now });
    await cache.get({ name: 'a' });
    for (const failure of [{ status: 503 }, { statusCode: 429 }, Object.assign(new Error('x'), { code: 'ECONNRESET' })]) {
      inner.failWith = failure;
      clock.advance(20);
      assert.equal((await cache.get({ name: 'a' }))?.value.reveal(), 'one');
    }
    for (const failure of [{ status: 403 }, new LockboxError('INVALID_INPUT', 'access denied')]) {
      inner.failWith = failure;
      clock.advance(20);
      await assert.rejects(cache.get({ name: 'a' }), (error: unknown) => error === failure);
    }
  });

  it('never serves a stale value once the provider says not-found', async () => {
    const clock = manualClock();
    const inner = flaky('p', { a: 'one' });
    const cache = new CachedProvider(inner, { ttlMs: 10, now: clock.now });
    await cache.get({ name: 'a' });
    await inner.delete!({ name: 'a' });
    clock.advance(20);
    assert.equal(await cache.get({ name: 'a' }), null);
  });

  it('invalidates every cached version of a secret written through it', async () => {
    const inner = flaky('p', { a: 'one' });
    const cache = new CachedProvider(inner);
    await cache.get({ name: 'a' });
    await cache.get({ name: 'a', version: 'previous' });
    await cache.set!({ name: 'a' }, new SecretValue('two'));
    assert.equal((await cache.get({ name: 'a' }))?.value.reveal(), 'two');
    assert.equal((await cache.get({ name: 'a', version: 'previous' }))?.value.reveal(), 'one');
    await cache.delete!({ name: 'a' });
    assert.equal(await cache.get({ name: 'a' }), null);
  });

  it('a write drops only the written secret\'s entries (every version, its tenant), also after evictions; setMany too', async () => {
    const inner = flaky('p', { a: 'one', b: 'bee', c: 'sea' });
    await inner.set!({ name: 'a', scope: 't1' }, new SecretValue('tenant-a'));
    await inner.set!({ name: 'b', scope: 't1' }, new SecretValue('tenant-b'));
    inner.setMany = async (entries) => { const written = []; for (const e of entries) written.push(await inner.set!(e.ref, e.value, e.opts)); return written; };
    const cache = new CachedProvider(inner, { maxEntries: 6 });
    const reads = [{ name: 'a' }, { name: 'a', version: '1' }, { name: 'a', scope: 't1' }, { name: 'b' }, { name: 'b', scope: 't1' }, { name: 'c', version: '1' }];
    for (const ref of reads) await cache.get(ref);
    const before = inner.calls;
    await cache.set!({ name: 'a', scope: 't1' }, new SecretValue('tenant-a2'));
    assert.equal((await cache.get({ name: 'a', scope: 't1' }))?.value.reveal(), 'tenant-a2');
    assert.equal(inner.calls, before + 1, 'only the written tenant entry was fetched again');
    for (const ref of [{ name: 'a' }, { name: 'a', version: '1' }, { name: 'b', scope: 't1' }, { name: 'c', version: '1' }]) await cache.get(ref);
    assert.equal(inner.calls, before + 1, 'the other entries were kept');
    await cache.setMany!([{ ref: { name: 'a' }, value: new SecretValue('two') }, { ref: { name: 'b', scope: 't1' }, value: new SecretValue('tenant-b2') }]);
    assert.equal((await cache.get({ name: 'a' }))?.value.reveal(), 'two');
    assert.equal((await cache.get({ name: 'a', version: '1' }))?.value.reveal(), 'one');
    assert.equal((await cache.get({ name: 'b', scope: 't1' }))?.value.reveal(), 'tenant-b2');
    assert.equal(inner.calls, before + 4, 'setMany dropped a (both versions) and t1/b, nothing else');
    // Evict everything by reading other names, then write: nothing stale comes back.
    for (let i = 0; i < 12; i++) await cache.get({ name: `x${i}`, scope: 't9' });
    assert.ok(cache.counters.evictions > 0);
    await inner.set!({ name: 'c' }, new SecretValue('sea-2'));
    await cache.set!({ name: 'c' }, new SecretValue('sea-3'));
    assert.equal((await cache.get({ name: 'c', version: '1' }))?.value.reveal(), 'sea');
    assert.equal(cache.counters.entries <= 6, true);
  });

  it('does not serve a value past its expiresAt', async () => {
    const clock = manualClock(Date.now());
    const inner = flaky('p');
    const cache = new CachedProvider(inner, { now: clock.now });
    await inner.set!({ name: 'e' }, new SecretValue('short-lived'), { expiresAt: new Date(clock.now() + 1000) });
    assert.ok(await cache.get({ name: 'e' }));
    clock.advance(1500);
    await cache.get({ name: 'e' });
    assert.equal(inner.calls, 2, 'an expired entry is fetched again');
  });
});
