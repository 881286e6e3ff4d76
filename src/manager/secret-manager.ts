import { CapabilityError, NotFoundError } from '../errors.js';
import {
  dueSecrets, rotateDue, rotateSecret, setRotationPolicy, type RotateDueOptions, type RotateDueSummary,
  type RotateSecretOptions, type RotationPolicy, type ScheduledRotation, type SetPolicyResult,
} from '../rotation/index.js';
import { SecretValue } from '../secret-value.js';
import type { DeleteOptions, HealthStatus, SecretListing, SecretMetadata, SecretVersion, SetOptions } from '../types.js';
import { CachedProvider } from './cache.js';
import { ManagerBase, type AddressOptions, type SecretAddress, type SecretManagerOptions } from './manager-base.js';
import { checkHealth, describeRef, guardTarget, versionOf } from './manager-helpers.js';
import { toPrometheusText, type MetricsSnapshot } from './metrics.js';
import type { SnapshotStatus } from './snapshot.js';
import {
  SecretWatcher, managerWatchSource, type ChangeEventListener, type ChangeListener, type Unsubscribe, type WatchOptions,
} from './watch.js';

export { describeRef, ManagerBase };
export type { AddressOptions, SecretAddress, SecretManagerOptions, ValueRegistry } from './manager-base.js';

/**
 * The one entry point: an ordered chain of providers, each wrapped in the cache, with
 * tenant-before-global look-ups, writes to the first writable provider, versions, rollback
 * and rotation on any provider that keeps versions.
 */
export class SecretManager extends ManagerBase {
  readonly #watcher: SecretWatcher;

  constructor(options: SecretManagerOptions) {
    super(options);
    this.#watcher = new SecretWatcher(managerWatchSource(this), options.watch);
  }

  /**
   * Calls `listener(next, prev)` for each new version of a secret, once each, in order (providers
   * that can notify push; others are polled with jitter). Returns the unsubscribe function.
   */
  watch(address: SecretAddress, listener: ChangeListener, options: AddressOptions & WatchOptions = {}): Unsubscribe {
    const ref = this.toRef(address, options);
    this.operationGuard?.check('read', guardTarget(ref));
    return this.#watcher.watch(ref, listener, { initial: options.initial });
  }

  /** Calls `listener` for every change of every watched secret. */
  onChange(listener: ChangeEventListener): Unsubscribe {
    return this.#watcher.onChange(listener);
  }

  /** Writes a new version to the named provider, the default provider or the chain's first writable one. */
  async set(address: SecretAddress, value: string | SecretValue, options: AddressOptions & SetOptions = {}): Promise<SecretMetadata> {
    const ref = this.toRef(address, options);
    const provider = this.writerFor(ref.provider, 'writes');
    const secret = SecretValue.from(value);
    const write = () => this.stats.op('set', provider.id, () => provider.set!(ref, secret, options));
    return this.operationGuard ? this.operationGuard.run('write', guardTarget(ref, provider.id), write, versionOf) : write();
  }

  /**
   * Writes several secrets to one provider; atomically (one transaction) where the provider has
   * `setMany` (the local store), else one after another.
   */
  async setMany(entries: Array<{ name: string; value: string | SecretValue; options?: Omit<AddressOptions, 'provider'> & SetOptions }>, target: { provider?: string } = {}): Promise<SecretMetadata[]> {
    const provider = this.writerFor(target.provider, 'writes');
    const batch = entries.map(({ name, value, options = {} }) => ({
      ref: this.toRef(name, { ...options, provider: provider.id }), value: SecretValue.from(value), opts: options,
    }));
    for (const entry of batch) this.operationGuard?.check('write', guardTarget(entry.ref, provider.id));
    let written: SecretMetadata[] = [];
    try {
      if (provider.setMany) written = await this.stats.op('set', provider.id, () => provider.setMany!(batch));
      else for (const entry of batch) written.push(await this.stats.op('set', provider.id, () => provider.set!(entry.ref, entry.value, entry.opts)));
    } catch (error) {
      for (const entry of batch) await this.operationGuard?.record('write', guardTarget(entry.ref, provider.id), error);
      throw error;
    }
    for (const [i, entry] of batch.entries()) await this.operationGuard?.record('write', { ...guardTarget(entry.ref, provider.id), version: written[i]?.version });
    return written;
  }

  /** Deletes a secret (soft by default: `undelete` brings it back; mode 'destroy' erases). */
  async delete(address: SecretAddress, options: AddressOptions & DeleteOptions = {}): Promise<void> {
    const ref = this.toRef(address, options);
    this.operationGuard?.check('delete', guardTarget(ref));
    const provider = await this.ownerOf(ref, 'delete');
    if (!provider.delete) throw new CapabilityError(provider.id, 'delete');
    const remove = () => this.stats.op('delete', provider.id, () => provider.delete!(ref, options));
    await (this.operationGuard ? this.operationGuard.run(options.mode === 'destroy' ? 'destroy' : 'delete', guardTarget(ref, provider.id), remove) : remove());
  }

  /** Brings back a soft-deleted secret. */
  async undelete(address: SecretAddress, options: AddressOptions = {}): Promise<void> {
    const ref = this.toRef(address, options);
    const provider = this.writerFor(ref.provider, 'undelete');
    if (!provider.undelete) throw new CapabilityError(provider.id, 'undelete');
    const restore = () => this.stats.op('undelete', provider.id, () => provider.undelete!(ref));
    await (this.operationGuard ? this.operationGuard.run('undelete', guardTarget(ref, provider.id), restore) : restore());
  }

  /** Names under a prefix across the chain (the first provider holding a name wins). */
  async list(prefix = '', options: { scope?: string; provider?: string } = {}): Promise<(SecretListing & { provider: string })[]> {
    const scope = options.scope ?? this.defaultScope;
    if (this.operationGuard) return this.operationGuard.run('list', { name: prefix || undefined, scope }, () => this.listChain(prefix, scope, options.provider));
    return this.listChain(prefix, scope, options.provider);
  }

  async listChain(prefix: string, scope: string | undefined, providerId: string | undefined): Promise<(SecretListing & { provider: string })[]> {
    const providers = providerId ? [this.provider(providerId)] : this.chainProviders;
    const seen = new Map<string, SecretListing & { provider: string }>();
    for (const provider of providers) {
      if (!provider.list) continue;
      const listings = await this.stats.op('list', provider.id, () => provider.list!(prefix, scope));
      for (const listing of listings) {
        if (seen.has(listing.name) || (this.operationGuard && !this.operationGuard.allows('list', { name: listing.name, scope }))) continue;
        seen.set(listing.name, { ...listing, provider: provider.id });
      }
    }
    return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every version of a secret, oldest first, from the provider that holds it. */
  async versions(address: SecretAddress, options: AddressOptions = {}): Promise<SecretVersion[]> {
    const ref = this.toRef(address, options);
    this.operationGuard?.check('versions', guardTarget(ref));
    const provider = await this.ownerOf(ref, 'versions');
    if (!provider.versions) throw new CapabilityError(provider.id, 'versions', 'this backend keeps one version only');
    const list = () => this.stats.op('versions', provider.id, () => provider.versions!(ref));
    return this.operationGuard ? this.operationGuard.run('versions', guardTarget(ref, provider.id), list) : list();
  }

  /** Writes an old version's value as the new current version (history is never rewritten). */
  async rollback(address: SecretAddress, version: string = 'previous', options: AddressOptions = {}): Promise<SecretMetadata> {
    const ref = this.toRef(address, options);
    this.operationGuard?.check('rollback', guardTarget(ref));
    const provider = await this.ownerOf(ref, 'rollback');
    const rollback = async () => {
      const old = await provider.get({ ...ref, version, field: undefined });
      if (!old) throw new NotFoundError(`${describeRef(ref)} version ${version}`);
      if (!provider.set) throw new CapabilityError(provider.id, 'rollback');
      return this.stats.op('rollback', provider.id, () => provider.set!({ ...ref, version: undefined }, old.value, { tags: old.metadata.tags }));
    };
    return this.operationGuard ? this.operationGuard.run('rollback', guardTarget(ref, provider.id), rollback, versionOf) : rollback();
  }

  /**
   * Rotates a secret, staged (docs/rotation.md): the new value (given, or generated) enters as
   * `pending`, the optional `test` hook validates it, then it becomes `current` and the old value
   * `previous`. A failed test leaves `current` untouched (ROTATION_TEST_FAILED).
   */
  async rotate(address: SecretAddress, options: AddressOptions & Omit<RotateSecretOptions, 'provider' | 'scope'> = {}): Promise<SecretMetadata> {
    const { provider: _provider, scope: _scope, version: _version, field: _field, ...rotation } = options;
    const ref = this.toRef(address, options);
    this.operationGuard?.check('rotate', guardTarget(ref));
    const provider = await this.ownerOf(ref, 'rotate');
    const rotate = async () => (await this.stats.op('rotate', provider.id,
      () => rotateSecret(this, { name: ref.name, scope: ref.scope, provider: provider.id }, rotation))).metadata;
    return this.operationGuard ? this.operationGuard.run('rotate', guardTarget(ref, provider.id), rotate, versionOf) : rotate();
  }

  /** Sets (null: removes) a secret's rotation policy, e.g. `{ every: '30d' }`; writes a same-value version only when it changes. */
  async setRotationPolicy(address: SecretAddress, policy: RotationPolicy | null, options: AddressOptions = {}): Promise<SetPolicyResult> {
    const ref = this.toRef(address, options);
    const run = () => setRotationPolicy(this, ref, policy);
    return this.operationGuard ? this.operationGuard.run('rotate', guardTarget(ref), run, (result) => versionOf(result.metadata)) : run();
  }

  /** Secrets whose rotation policy is due at `now`. */
  dueSecrets(now?: Date): Promise<ScheduledRotation[]> {
    return dueSecrets(this, now);
  }

  /** Rotates every secret whose policy is due, each through rotate() (access control and audit apply); a summary. */
  rotateDue(options: Omit<RotateDueOptions, 'rotateWith'> = {}): Promise<RotateDueSummary> {
    return rotateDue(this, { ...options, rotateWith: (ref, rotation) => this.rotate(ref, rotation) });
  }

  /** Live health of every provider; ready only when all are. */
  async health(): Promise<{ status: HealthStatus['status']; providers: HealthStatus[]; snapshot?: SnapshotStatus }> {
    const providers = await Promise.all([...this.providersById.values()].map((p) => checkHealth(p)));
    const status = providers.every((p) => p.status === 'ready') ? 'ready' : providers.some((p) => p.status === 'ready') ? 'degraded' : 'down';
    const snapshot = this.snapshot?.status();
    return { status, providers, ...(snapshot ? { snapshot } : {}) };
  }

  /** Counters: operations, per-provider calls and errors, and cache hits/misses/stale. */
  metrics(): MetricsSnapshot {
    const caches = [...this.providersById.values()].filter((p): p is CachedProvider => p instanceof CachedProvider);
    return this.stats.snapshot(caches);
  }

  /** metrics() in the Prometheus text format, for a /metrics endpoint (labels: provider id, operation — never names or values). */
  metricsText(): string {
    return toPrometheusText(this.metrics());
  }

  /** Writes every pending (batched) audit event now. */
  async flushAudit(): Promise<void> {
    await this.operationGuard?.flush();
  }

  /** Writes pending audit events, closes the audit log and every provider (database handles, timers). */
  async dispose(): Promise<void> {
    this.#watcher.dispose();
    try {
      await this.snapshot?.dispose();
      await this.operationGuard?.close();
    } finally {
      await Promise.all([...this.providersById.values()].map((p) => p.dispose?.()));
    }
  }
}
