import { isTransient } from '../errors.js';
import type {
  DeleteOptions, HealthStatus, Provider, SecretListing, SecretMetadata, SecretRecord, SecretRef,
  SecretVersion, SetEntry, SetOptions,
} from '../types.js';
import type { SecretValue } from '../secret-value.js';

/** Cache settings; durations in milliseconds. */
export interface CacheOptions {
  /** How long a value is served without asking the provider. @default 300000 (5 min) */
  ttlMs?: number;
  /** How long a not-found answer is remembered (writes through lockbox clear it). @default 30000 */
  negativeTtlMs?: number;
  /** Most entries kept; the least recently used go first. @default 10000 */
  maxEntries?: number;
  /**
   * How long past its TTL a value may still be served when the provider fails transiently
   * (network, timeout, 5xx, throttling). Never for not-found or denied. 0 disables. @default 3600000 (1 h)
   */
  staleIfErrorMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** Counters reported in `manager.metrics()`. */
export interface CacheCounters { hits: number; misses: number; stale: number; errors: number; evictions: number; entries: number }

interface Entry {
  record: SecretRecord | null;
  /** The record as a settled promise, handed out by hits without allocating. */
  promise: Promise<SecretRecord | null>;
  freshUntil: number;
  touched: boolean;
}

/** A peek into the cache: `undefined` means "not cached, ask the provider". */
export type Peek = SecretRecord | null | undefined;

/**
 * Wraps any provider with a TTL + LRU cache, single-flight for concurrent misses and
 * stale-if-error for transient failures. Writes through the wrapper invalidate every cached
 * version of the written secret (through an index by name: no scan of the whole cache).
 */
export class CachedProvider implements Provider {
  readonly id: string;
  readonly type: string;
  readonly capabilities: Provider['capabilities'];
  readonly counters: CacheCounters = { hits: 0, misses: 0, stale: 0, errors: 0, evictions: 0, entries: 0 };
  readonly #inner: Provider;
  readonly #entries = new Map<string, Entry>();
  /** Scoped and versioned keys by `scope\0name`, so a write invalidates its secret without scanning every entry. */
  readonly #byOwner = new Map<string, Set<string>>();
  readonly #inflight = new Map<string, Promise<SecretRecord | null>>();
  readonly #ttl: number;
  readonly #negativeTtl: number;
  readonly #max: number;
  readonly #staleWindow: number;
  readonly #now: () => number;

  constructor(inner: Provider, options: CacheOptions = {}) {
    this.#inner = inner;
    this.id = inner.id;
    this.type = inner.type;
    this.capabilities = inner.capabilities;
    this.#ttl = options.ttlMs ?? 300_000;
    this.#negativeTtl = options.negativeTtlMs ?? 30_000;
    this.#max = Math.max(1, options.maxEntries ?? 10_000);
    this.#staleWindow = options.staleIfErrorMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
    if (inner.list) this.list = (prefix, scope) => inner.list!(prefix, scope);
    if (inner.versions) this.versions = (ref) => inner.versions!(ref);
    if (inner.set) this.set = this.#set;
    if (inner.setMany) this.setMany = this.#setMany;
    if (inner.delete) this.delete = this.#delete;
    if (inner.undelete) this.undelete = this.#undelete;
    if (inner.promote) this.promote = this.#promote;
    if (inner.watch) this.watch = (ref, onVersion) => inner.watch!(ref, onVersion);
  }

  /** The wrapped provider. */
  get inner(): Provider {
    return this.#inner;
  }

  list?: (prefix?: string, scope?: string) => Promise<SecretListing[]>;
  versions?: (ref: SecretRef) => Promise<SecretVersion[]>;
  set?: (ref: SecretRef, value: SecretValue, opts?: SetOptions) => Promise<SecretMetadata>;
  setMany?: (entries: SetEntry[]) => Promise<SecretMetadata[]>;
  delete?: (ref: SecretRef, opts?: DeleteOptions) => Promise<void>;
  undelete?: (ref: SecretRef) => Promise<void>;
  promote?: (ref: SecretRef, version: string) => Promise<SecretMetadata>;
  watch?: Provider['watch'];

  /** Synchronous look-up of a fresh entry (the manager's fast path); counts a hit when found. */
  peek(ref: SecretRef): Peek {
    const entry = this.#entries.get(cacheKey(ref));
    if (entry === undefined || entry.freshUntil <= this.#now()) return undefined;
    entry.touched = true;
    this.counters.hits++;
    return entry.record;
  }

  /**
   * The hot path for a plain read (global scope, current version) of a name already in the
   * cache: a fresh, found entry's settled promise, or undefined. Only names that passed
   * validation are ever stored, so none is needed here.
   */
  peekPlainName(name: string): Promise<SecretRecord | null> | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined || entry.record === null || entry.freshUntil <= this.#now()) return undefined;
    entry.touched = true;
    this.counters.hits++;
    return entry.promise;
  }

  get(ref: SecretRef): Promise<SecretRecord | null> {
    const key = cacheKey(ref);
    const entry = this.#entries.get(key);
    const now = this.#now();
    if (entry !== undefined && entry.freshUntil > now) {
      entry.touched = true;
      this.counters.hits++;
      return entry.promise;
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    this.counters.misses++;
    const load = this.#load(key, ref, entry).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, load);
    return load;
  }

  /**
   * Reads several refs: fresh entries from the cache, loads already in flight joined, and every
   * other ref in ONE `getMany` of the wrapped provider where it has one (else one get each).
   * Each answer is cached, and each failure handled (stale-if-error), as `get` does.
   */
  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    const results = new Array<SecretRecord | null>(refs.length);
    const waits: Array<Promise<unknown>> = [];
    const misses = new Map<string, { ref: SecretRef; previous: Entry | undefined; indexes: number[] }>();
    const now = this.#now();
    refs.forEach((ref, index) => {
      const key = cacheKey(ref);
      const entry = this.#entries.get(key);
      if (entry !== undefined && entry.freshUntil > now) {
        entry.touched = true;
        this.counters.hits++;
        results[index] = entry.record;
        return;
      }
      const pending = this.#inflight.get(key);
      if (pending) waits.push(pending.then((record) => { results[index] = record; }));
      else if (misses.has(key)) misses.get(key)!.indexes.push(index);
      else {
        this.counters.misses++;
        misses.set(key, { ref, previous: entry, indexes: [index] });
      }
    });
    if (misses.size > 0) {
      const loads = [...misses.values()];
      const batch = loads.length > 1 && this.#inner.getMany ? this.#inner.getMany(loads.map((m) => m.ref)) : undefined;
      [...misses.keys()].forEach((key, k) => {
        const { ref, previous, indexes } = loads[k]!;
        const read = batch ? batch.then((records) => records[k] ?? null) : this.#inner.get(ref);
        const load = this.#settle(key, previous, read).finally(() => this.#inflight.delete(key));
        this.#inflight.set(key, load);
        waits.push(load.then((record) => { for (const index of indexes) results[index] = record; }));
      });
    }
    if (waits.length > 0) await Promise.all(waits);
    return results;
  }

  async health(): Promise<HealthStatus> {
    return this.#inner.health();
  }

  async dispose(): Promise<void> {
    this.clear();
    await this.#inner.dispose?.();
  }

  /** Drops every cached version of one secret. */
  invalidate(ref: SecretRef): void {
    if (ref.scope === undefined) this.#entries.delete(ref.name);
    const owner = `${ref.scope ?? ''}\u0000${ref.name}`;
    for (const key of this.#byOwner.get(owner) ?? []) this.#entries.delete(key);
    this.#byOwner.delete(owner);
    this.counters.entries = this.#entries.size;
  }

  /** Drops everything. */
  clear(): void {
    this.#entries.clear();
    this.#byOwner.clear();
    this.counters.entries = 0;
  }

  #load(key: string, ref: SecretRef, previous: Entry | undefined): Promise<SecretRecord | null> {
    return this.#settle(key, previous, this.#inner.get(ref));
  }

  /** Caches what a provider read gave, or on a transient failure serves the stale entry within the window. */
  async #settle(key: string, previous: Entry | undefined, read: Promise<SecretRecord | null>): Promise<SecretRecord | null> {
    let record: SecretRecord | null;
    try {
      record = await read;
    } catch (error) {
      this.counters.errors++;
      const now = this.#now();
      if (previous?.record && isTransient(error) && now - previous.freshUntil < this.#staleWindow) {
        this.counters.stale++;
        return previous.record;
      }
      throw error;
    }
    const now = this.#now();
    const ttl = record === null ? this.#negativeTtl : this.#ttl;
    const expiresAt = record?.metadata.expiresAt?.getTime();
    const freshUntil = Math.min(now + ttl, expiresAt ?? Infinity);
    if (ttl > 0) this.#store(key, { record, promise: Promise.resolve(record), freshUntil, touched: false });
    return record;
  }

  /**
   * Reads past the cache and stores the answer (live-update polls); on failure the cached entry
   * stays, so stale-if-error still answers the application's reads.
   */
  async refresh(ref: SecretRef): Promise<SecretRecord | null> {
    const record = await this.#inner.get(ref);
    const ttl = record === null ? this.#negativeTtl : this.#ttl;
    const freshUntil = Math.min(this.#now() + ttl, record?.metadata.expiresAt?.getTime() ?? Infinity);
    if (ttl > 0) this.#store(cacheKey(ref), { record, promise: Promise.resolve(record), freshUntil, touched: false });
    return record;
  }

  #store(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#index(key, true);
    // Second-chance eviction: an entry used since it was last looked at gets moved to the back.
    let guard = this.#entries.size * 2;
    while (this.#entries.size > this.#max && guard-- > 0) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry];
      this.#entries.delete(oldestKey);
      if (oldest.touched && guard > 0) {
        oldest.touched = false;
        this.#entries.set(oldestKey, oldest);
      } else {
        this.#index(oldestKey, false);
        this.counters.evictions++;
      }
    }
    this.counters.entries = this.#entries.size;
  }

  /** Adds or removes a scoped or versioned key in #byOwner (a bare-name key needs no index). */
  #index(key: string, add: boolean): void {
    const cut = key.lastIndexOf('\u0000');
    if (cut < 0) return;
    const owner = key.slice(0, cut);
    const keys = this.#byOwner.get(owner);
    if (add) {
      if (keys === undefined) this.#byOwner.set(owner, new Set([key]));
      else keys.add(key);
    } else if (keys?.delete(key) && keys.size === 0) {
      this.#byOwner.delete(owner);
    }
  }

  async #set(ref: SecretRef, value: SecretValue, opts?: SetOptions): Promise<SecretMetadata> {
    try {
      return await this.#inner.set!(ref, value, opts);
    } finally {
      this.invalidate(ref);
    }
  }

  async #setMany(entries: SetEntry[]): Promise<SecretMetadata[]> {
    try {
      return await this.#inner.setMany!(entries);
    } finally {
      for (const entry of entries) this.invalidate(entry.ref);
    }
  }

  async #delete(ref: SecretRef, opts?: DeleteOptions): Promise<void> {
    try {
      await this.#inner.delete!(ref, opts);
    } finally {
      this.invalidate(ref);
    }
  }

  async #promote(ref: SecretRef, version: string): Promise<SecretMetadata> {
    try {
      return await this.#inner.promote!(ref, version);
    } finally {
      this.invalidate(ref);
    }
  }

  async #undelete(ref: SecretRef): Promise<void> {
    try {
      await this.#inner.undelete!(ref);
    } finally {
      this.invalidate(ref);
    }
  }
}

/**
 * Cache key: scope, name and version (the provider is the cache instance itself). A plain read
 * (global, current) is keyed by the bare name — names never hold NUL, so the forms cannot clash.
 */
export function cacheKey(ref: SecretRef): string {
  if (ref.scope === undefined && (ref.version === undefined || ref.version === 'current')) return ref.name;
  return `${ref.scope ?? ''}\u0000${ref.name}\u0000${ref.version ?? 'current'}`;
}
