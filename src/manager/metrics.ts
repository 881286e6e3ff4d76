import type { CacheCounters } from './cache.js';

/** What `manager.metrics()` returns. */
export interface MetricsSnapshot {
  /** Calls per manager operation (get, set, list, …). */
  operations: Record<string, number>;
  /** Per provider: calls that reached it, failures, and total time spent in it. */
  providers: Record<string, { calls: number; errors: number; totalMs: number }>;
  /** Cache counters summed over providers, with the hit rate (0..1). */
  cache: CacheCounters & { hitRate: number };
}

/** Counters behind `manager.metrics()`. */
export class ManagerMetrics {
  /** Gets answered by the manager's cache fast path (added to operations.get). */
  fastGets = 0;
  readonly #operations: Record<string, number> = Object.create(null);
  readonly #providers: Record<string, { calls: number; errors: number; totalMs: number }> = Object.create(null);

  count(operation: string): void {
    this.#operations[operation] = (this.#operations[operation] ?? 0) + 1;
  }

  /** Runs one provider call, counting it (and its failure) against the provider. */
  async time<T>(operation: string, providerId: string, call: () => Promise<T>): Promise<T> {
    if (operation !== 'get') this.count(operation);
    const stats = (this.#providers[providerId] ??= { calls: 0, errors: 0, totalMs: 0 });
    stats.calls++;
    const started = performance.now();
    try {
      return await call();
    } catch (error) {
      stats.errors++;
      throw error;
    } finally {
      stats.totalMs += performance.now() - started;
    }
  }

  snapshot(caches: Array<{ counters: CacheCounters }>): MetricsSnapshot {
    const cache = { hits: 0, misses: 0, stale: 0, errors: 0, evictions: 0, entries: 0, hitRate: 0 };
    for (const { counters } of caches) {
      for (const key of ['hits', 'misses', 'stale', 'errors', 'evictions', 'entries'] as const) cache[key] += counters[key];
    }
    cache.hitRate = cache.hits + cache.misses === 0 ? 0 : cache.hits / (cache.hits + cache.misses);
    return {
      operations: { ...this.#operations, get: (this.#operations.get ?? 0) + this.fastGets },
      providers: Object.fromEntries(Object.entries(this.#providers).map(([id, s]) => [id, { ...s }])),
      cache,
    };
  }
}
