/** Statistics (seed 003): per provider and operation counts, errors, cache hit rate, latency histograms, Prometheus text. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATENCY_BUCKETS_SECONDS } from '../../src/manager/metrics.js';
import { SecretManager } from '../../src/manager/secret-manager.js';
import { create as memory } from '../../src/providers/memory.js';
import type { Provider } from '../../src/types.js';

const CANARY = 'canary-metrics-value-44c2';

function flaky(): Provider {
  const inner = memory('flaky', { secrets: { 'a/b': CANARY } });
  return { ...inner, id: 'flaky', type: 'memory', capabilities: inner.capabilities, health: inner.health.bind(inner),
    get: async (ref) => { if (ref.name === 'boom') throw new Error('bad'); return inner.get(ref); } };
}

describe('manager metrics', () => {
  it('counts per provider and operation, errors, cache hits, and latency histograms', async () => {
    const manager = new SecretManager({ providers: [flaky(), memory('mem', { secrets: { 'db/password': CANARY } })] });
    for (let i = 0; i < 5; i++) await manager.get('db/password');
    await manager.set('x/y', CANARY, { provider: 'mem' });
    await assert.rejects(manager.get('boom'));
    const m = manager.metrics();
    assert.equal(m.operations.get, 6);
    assert.equal(m.operations.set, 1);
    const mem = m.providers.mem!;
    assert.equal(mem.operations.get!.calls, 1, 'one miss reached the provider; four were cache hits');
    assert.equal(mem.operations.set!.calls, 1);
    assert.equal(m.providers.flaky!.operations.get!.errors, 1);
    assert.equal(mem.cache!.hits, 4);
    assert.equal(mem.cache!.hitRate, 0.8);
    const histogram = mem.operations.get!.latency;
    assert.equal(histogram.count, 1);
    assert.equal(histogram.buckets.length, LATENCY_BUCKETS_SECONDS.length + 1);
    assert.equal(histogram.buckets.reduce((a, b) => a + b, 0), 1);
    await manager.dispose();
  });

  it('exports the Prometheus text format with provider/operation labels only — no names, no values', async () => {
    const manager = new SecretManager({ providers: [memory('mem', { secrets: { 'db/password': CANARY } })] });
    await manager.get('db/password');
    await manager.get('db/password');
    const text = manager.metricsText();
    assert.match(text, /^# HELP lockbox_operations_total /m);
    assert.match(text, /^# TYPE lockbox_provider_latency_seconds histogram$/m);
    assert.match(text, /^lockbox_operations_total\{operation="get"\} 2$/m);
    assert.match(text, /^lockbox_provider_calls_total\{provider="mem",operation="get"\} 1$/m);
    assert.match(text, /^lockbox_provider_latency_seconds_bucket\{provider="mem",operation="get",le="\+Inf"\} 1$/m);
    assert.match(text, /^lockbox_provider_latency_seconds_count\{provider="mem",operation="get"\} 1$/m);
    assert.match(text, /^lockbox_cache_hits_total\{provider="mem"\} 1$/m);
    assert.match(text, /^lockbox_cache_hit_ratio\{provider="mem"\} 0.5$/m);
    // Bucket counts are cumulative and end at the total.
    const buckets = [...text.matchAll(/^lockbox_provider_latency_seconds_bucket\{provider="mem",operation="get",le="[^"]+"\} (\d+)$/gm)].map((x) => Number(x[1]));
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b));
    assert.ok(!text.includes(CANARY));
    assert.ok(!text.includes('db/password'), 'secret names are not metric labels');
    for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [0-9.e+-]+)$/, line);
    await manager.dispose();
  });
});
