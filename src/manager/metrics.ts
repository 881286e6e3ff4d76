import type { Provider } from '../types.js';
import type { CacheCounters } from './cache.js';

/** Upper bounds of the latency histogram buckets, in seconds (Prometheus `le`). */
export const LATENCY_BUCKETS_SECONDS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** A latency histogram: counts per bucket (cumulative counts are computed on export), sum and count. */
export interface LatencyHistogram {
  /** Calls whose duration fell at or under each bound of LATENCY_BUCKETS_SECONDS (not cumulative); the last slot is +Inf. */
  buckets: number[];
  sumSeconds: number;
  count: number;
}

/** One provider × operation. */
export interface OperationStats { calls: number; errors: number; latency: LatencyHistogram }

/** What `manager.metrics()` returns. Labels are provider ids and operation names — never secret names or values. */
export interface MetricsSnapshot {
  /** Calls per manager operation (get, set, list, …). */
  operations: Record<string, number>;
  /** Per provider: calls that reached it, failures, total time, per-operation stats and its cache. */
  providers: Record<string, {
    calls: number; errors: number; totalMs: number;
    operations: Record<string, OperationStats>;
    cache?: CacheCounters & { hitRate: number };
  }>;
  /** Cache counters summed over providers, with the hit rate (0..1). */
  cache: CacheCounters & { hitRate: number };
}

/** Counters behind `manager.metrics()` and `manager.metricsText()`. */
export class ManagerMetrics {
  /** Gets answered by the manager's cache fast path (added to operations.get). */
  fastGets = 0;
  readonly #operations: Record<string, number> = Object.create(null);
  readonly #providers = new Map<string, Map<string, OperationStats>>();

  count(operation: string): void {
    this.#operations[operation] = (this.#operations[operation] ?? 0) + 1;
  }

  /** Runs one manager operation, counting it (gets are counted by the caller, hits included). */
  op<T>(operation: string, _providerId: string, call: () => Promise<T>): Promise<T> {
    if (operation !== 'get') this.count(operation);
    return call();
  }

  /** Runs one call that reaches a backend (below the cache), counting it, its failure and its latency. */
  async time<T>(operation: string, providerId: string, call: () => Promise<T>): Promise<T> {
    const stats = this.#stats(providerId, operation);
    stats.calls++;
    const started = performance.now();
    try {
      return await call();
    } catch (error) {
      stats.errors++;
      throw error;
    } finally {
      observe(stats.latency, (performance.now() - started) / 1000);
    }
  }

  snapshot(caches: Array<{ id: string; counters: CacheCounters }>): MetricsSnapshot {
    const cache = withHitRate(sumCounters(caches.map((c) => c.counters)));
    const providers: MetricsSnapshot['providers'] = {};
    for (const [id, byOperation] of this.#providers) {
      const operations: Record<string, OperationStats> = {};
      let calls = 0;
      let errors = 0;
      let totalMs = 0;
      for (const [operation, stats] of byOperation) {
        operations[operation] = { calls: stats.calls, errors: stats.errors, latency: { ...stats.latency, buckets: [...stats.latency.buckets] } };
        calls += stats.calls;
        errors += stats.errors;
        totalMs += stats.latency.sumSeconds * 1000;
      }
      providers[id] = { calls, errors, totalMs, operations };
    }
    for (const { id, counters } of caches) (providers[id] ??= { calls: 0, errors: 0, totalMs: 0, operations: {} }).cache = withHitRate({ ...counters });
    return { operations: { ...this.#operations, get: (this.#operations.get ?? 0) + this.fastGets }, providers, cache };
  }

  #stats(providerId: string, operation: string): OperationStats {
    let byOperation = this.#providers.get(providerId);
    if (!byOperation) this.#providers.set(providerId, (byOperation = new Map()));
    let stats = byOperation.get(operation);
    if (!stats) {
      stats = { calls: 0, errors: 0, latency: { buckets: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0), sumSeconds: 0, count: 0 } };
      byOperation.set(operation, stats);
    }
    return stats;
  }
}

/**
 * The snapshot in the Prometheus text exposition format (version 0.0.4): counters, gauges and
 * the latency histograms, labelled by provider id and operation only.
 */
export function toPrometheusText(snapshot: MetricsSnapshot): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  family('lockbox_operations_total', 'counter', 'Manager operations by kind (cache hits included).');
  for (const [operation, n] of Object.entries(snapshot.operations)) lines.push(`lockbox_operations_total${labels({ operation })} ${n}`);
  family('lockbox_provider_calls_total', 'counter', 'Calls that reached a provider (cache misses and writes).');
  for (const [provider, p] of Object.entries(snapshot.providers)) for (const [operation, s] of Object.entries(p.operations)) lines.push(`lockbox_provider_calls_total${labels({ provider, operation })} ${s.calls}`);
  family('lockbox_provider_errors_total', 'counter', 'Provider calls that failed.');
  for (const [provider, p] of Object.entries(snapshot.providers)) for (const [operation, s] of Object.entries(p.operations)) lines.push(`lockbox_provider_errors_total${labels({ provider, operation })} ${s.errors}`);
  family('lockbox_provider_latency_seconds', 'histogram', 'Latency of provider calls.');
  for (const [provider, p] of Object.entries(snapshot.providers)) {
    for (const [operation, s] of Object.entries(p.operations)) {
      let cumulative = 0;
      LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
        cumulative += s.latency.buckets[i]!;
        lines.push(`lockbox_provider_latency_seconds_bucket${labels({ provider, operation, le: String(le) })} ${cumulative}`);
      });
      lines.push(`lockbox_provider_latency_seconds_bucket${labels({ provider, operation, le: '+Inf' })} ${s.latency.count}`);
      lines.push(`lockbox_provider_latency_seconds_sum${labels({ provider, operation })} ${s.latency.sumSeconds}`);
      lines.push(`lockbox_provider_latency_seconds_count${labels({ provider, operation })} ${s.latency.count}`);
    }
  }
  const cacheFamilies = [
    ['hits', 'counter', 'Reads answered from the cache.'], ['misses', 'counter', 'Reads the cache passed to the provider.'],
    ['stale', 'counter', 'Stale values served because the provider failed transiently.'], ['errors', 'counter', 'Provider failures seen by the cache.'],
    ['evictions', 'counter', 'Entries evicted by the size bound.'],
  ] as const;
  for (const [key, type, help] of cacheFamilies) {
    family(`lockbox_cache_${key}_total`, type, help);
    for (const [provider, p] of Object.entries(snapshot.providers)) if (p.cache) lines.push(`lockbox_cache_${key}_total${labels({ provider })} ${p.cache[key]}`);
  }
  family('lockbox_cache_entries', 'gauge', 'Entries in the cache.');
  for (const [provider, p] of Object.entries(snapshot.providers)) if (p.cache) lines.push(`lockbox_cache_entries${labels({ provider })} ${p.cache.entries}`);
  family('lockbox_cache_hit_ratio', 'gauge', 'Cache hits / (hits + misses) since start.');
  for (const [provider, p] of Object.entries(snapshot.providers)) if (p.cache) lines.push(`lockbox_cache_hit_ratio${labels({ provider })} ${p.cache.hitRate}`);
  return `${lines.join('\n')}\n`;
}

function observe(histogram: LatencyHistogram, seconds: number): void {
  let i = 0;
  while (i < LATENCY_BUCKETS_SECONDS.length && seconds > LATENCY_BUCKETS_SECONDS[i]!) i++;
  histogram.buckets[i]!++;
  histogram.sumSeconds += seconds;
  histogram.count++;
}

function sumCounters(all: CacheCounters[]): CacheCounters {
  const total = { hits: 0, misses: 0, stale: 0, errors: 0, evictions: 0, entries: 0 };
  for (const counters of all) for (const key of Object.keys(total) as Array<keyof CacheCounters>) total[key] += counters[key];
  return total;
}

function withHitRate(counters: CacheCounters): CacheCounters & { hitRate: number } {
  return { ...counters, hitRate: counters.hits + counters.misses === 0 ? 0 : counters.hits / (counters.hits + counters.misses) };
}

/** `{a="x",b="y"}` with Prometheus label-value escaping (backslash, quote, newline). */
function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

const MEASURED_OPERATIONS = ['getMany', 'list', 'set', 'setMany', 'delete', 'undelete', 'versions', 'promote'] as const;

/**
 * A Provider wrapper (below the cache) that times every call reaching the backend: its calls,
 * errors and latency histogram per operation. Other members pass through; `inner` is the backend.
 */
export function measureProvider(inner: Provider, metrics: ManagerMetrics): Provider & { inner: Provider } {
  const id = inner.id;
  const wrapped: Provider & { inner: Provider } = {
    id, type: inner.type, capabilities: inner.capabilities, inner,
    get: (ref) => metrics.time('get', id, () => inner.get(ref)),
    health: () => inner.health(),
  };
  const untyped = wrapped as unknown as Record<string, unknown>;
  const source = inner as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;
  for (const operation of MEASURED_OPERATIONS) {
    const method = source[operation];
    if (typeof method === 'function') untyped[operation] = (...args: unknown[]) => metrics.time(operation, id, () => method.apply(inner, args));
  }
  for (const passthrough of ['watch', 'dispose'] as const) {
    const method = source[passthrough];
    if (typeof method === 'function') untyped[passthrough] = method.bind(inner);
  }
  return wrapped;
}
