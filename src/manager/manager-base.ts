import { currentPrincipal } from '../access/index.js';
import { CapabilityError, LockboxError, NotFoundError, isTransient } from '../errors.js';
import { extractField } from '../json-field.js';
import { assertValidName, assertValidScope } from '../names.js';
import { globalRedactor } from '../redaction/index.js';
import { resolveDocument, resolveString, type FetchOutcome } from '../references/resolve.js';
import type { Provider, SecretRecord, SecretRef } from '../types.js';
import { CachedProvider } from './cache.js';
import { OperationGuard } from './guard.js';
import { NOT_FOUND_READ, describeRef } from './manager-helpers.js';
import { ManagerMetrics, measureProvider } from './metrics.js';
import { ReadBatch, singleReadTarget, type ProviderRead } from './read-batch.js';
import type { LastKnownGoodSnapshot } from './snapshot.js';
import type { SecretManagerOptions, ValueRegistry } from './manager-options.js';

export { describeRef };

export type { SecretManagerOptions, ValueRegistry } from './manager-options.js';

/** Options of calls that address one secret. */
export type AddressOptions = Omit<SecretRef, 'name'>;
/** A secret name, or a full SecretRef. */
export type SecretAddress = string | SecretRef;

/**
 * The read side of SecretManager (see secret-manager.ts): the chain, the cache fast path, the guard
 * and the helpers the write side shares.
 *
 * The one entry point: an ordered chain of providers, each wrapped in the cache, with
 * tenant-before-global look-ups, writes to the first writable provider, versions, rollback
 * and rotation on any provider that keeps versions.
 */
export class ManagerBase {
  protected readonly providersById = new Map<string, Provider>();
  protected readonly chainProviders: Provider[];
  protected readonly defaultWriter?: string;
  protected readonly defaultScope?: string;
  protected readonly tenantFallback: boolean;
  protected readonly redactor: ValueRegistry;
  protected readonly stats = new ManagerMetrics();
  /** The first provider's cache, when plain names can be answered from it directly. */
  protected readonly plainCache?: CachedProvider;
  /** Access control and audit; undefined when neither is configured. */
  protected readonly operationGuard?: OperationGuard;
  protected readonly snapshot?: LastKnownGoodSnapshot;
  /** Records served from the snapshot (audited as snapshot_fallback). */
  protected readonly fromSnapshot = new WeakSet<SecretRecord>();

  constructor(options: SecretManagerOptions) {
    for (const provider of options.providers) {
      if (this.providersById.has(provider.id)) throw new LockboxError('INVALID_INPUT', `two providers have the id "${provider.id}"`, { hint: 'give every provider a unique id' });
      const measured = measureProvider(provider, this.stats);
      this.providersById.set(provider.id, options.cache === false ? measured : new CachedProvider(measured, options.cache));
    }
    const chainIds = options.chain ?? options.providers.map((p) => p.id);
    this.chainProviders = chainIds.map((id) => this.provider(id));
    if (options.defaultProvider) this.provider(options.defaultProvider);
    this.defaultWriter = options.defaultProvider;
    this.defaultScope = options.scope;
    this.tenantFallback = options.tenantFallback ?? true;
    this.redactor = options.redactor ?? globalRedactor;
    const first = this.chainProviders[0];
    this.plainCache = first instanceof CachedProvider && this.defaultScope === undefined ? first : undefined;
    const guard = new OperationGuard({ principal: options.principal ?? currentPrincipal(), policy: options.access, audit: options.audit, ...options.auditOptions });
    if (!guard.inactive) this.operationGuard = guard;
    this.snapshot = options.snapshot;
  }

  /** Who this manager acts for (access control and audit). */
  get principal(): string {
    return this.operationGuard?.principal ?? 'unknown';
  }

  /** The guard (access control + audit), when configured: for `lockbox policy check` and key rotation events. */
  get guard(): OperationGuard | undefined {
    return this.operationGuard;
  }

  /** A configured provider (cache-wrapped) by id; UNKNOWN_PROVIDER names the known ids. */
  provider(id: string): Provider {
    const provider = this.providersById.get(id);
    if (!provider) {
      throw new LockboxError('UNKNOWN_PROVIDER', `no provider with id "${id}"`, {
        hint: `configured providers: ${[...this.providersById.keys()].join(', ') || 'none'}`,
      });
    }
    return provider;
  }

  /** Provider ids in look-up order. */
  get chain(): string[] {
    return this.chainProviders.map((p) => p.id);
  }

  /** Reads a secret; null when no provider in the chain has it. `#field` is applied when given. */
  get(address: SecretAddress, options?: AddressOptions): Promise<SecretRecord | null> {
    // Fast path: a plain name, fresh in the first provider's cache, answers with no await.
    if (typeof address === 'string' && options === undefined && this.plainCache !== undefined) {
      const hit = this.plainCache.peekPlainName(address);
      if (hit !== undefined) {
        this.stats.fastGets++;
        if (this.operationGuard === undefined || this.operationGuard.fastRead(address, this.plainCache.id)) return hit;
        return this.guardedHit({ name: address, provider: this.plainCache.id }, hit);
      }
    }
    const ref = this.toRef(address, options ?? {});
    if (ref.provider === undefined && ref.field === undefined) {
      const first = this.chainProviders[0];
      if (first instanceof CachedProvider) {
        const hit = first.peek(ref);
        if (hit && hit.metadata.scope === ref.scope) {
          this.stats.count('get');
          if (this.operationGuard === undefined) return Promise.resolve(hit);
          return this.guardedHit({ name: ref.name, scope: ref.scope, provider: first.id, version: ref.version }, Promise.resolve(hit));
        }
      }
    }
    return this.guardedGet(ref);
  }

  /** Like get, but a missing secret is a NotFoundError. */
  async require(address: SecretAddress, options: AddressOptions = {}): Promise<SecretRecord> {
    const ref = this.toRef(address, options);
    const record = await this.guardedGet(ref);
    if (!record) throw new NotFoundError(describeRef(ref));
    return record;
  }

  /** A specific version (number or current | previous | pending). */
  getVersion(address: SecretAddress, version: string, options: AddressOptions = {}): Promise<SecretRecord | null> {
    return this.get(address, { ...options, version });
  }

  /**
   * Reads many secrets; one entry per address, null for missing. Throws on the first failure.
   * When every address asks one provider, the reads go to it as one `getMany` (see read-batch.ts).
   */
  async getMany(addresses: SecretAddress[], options: AddressOptions = {}): Promise<(SecretRecord | null)[]> {
    const refs = addresses.map((address) => this.toRef(address, options));
    const target = refs.length > 1 ? singleReadTarget(refs, { chain: this.chainProviders, tenantFallback: this.tenantFallback, provider: (id) => this.provider(id) }) : undefined;
    if (target === undefined) return Promise.all(refs.map((ref) => this.get(ref)));
    const batch = new ReadBatch(target);
    const reads = refs.map((ref) => this.guardedGet(ref, batch.read)); // each checks access, then queues its read
    batch.flush();
    return Promise.all(reads);
  }

  /** Reads many references without throwing: each outcome says found, missing or error. */
  async fetchMany(refs: SecretRef[]): Promise<FetchOutcome[]> {
    const outcomes: FetchOutcome[] = new Array(refs.length);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const plain = this.plainCache !== undefined && this.operationGuard === undefined && ref.scope === undefined && ref.provider === undefined
        && ref.field === undefined && (ref.version === undefined || ref.version === 'current');
      const hit = plain ? this.plainCache!.peek(ref) : undefined;
      if (hit) {
        this.stats.fastGets++;
        outcomes[i] = { status: 'found', value: hit.value };
        continue;
      }
      pending.push(this.get(ref).then(
        (record) => { outcomes[i] = record ? { status: 'found', value: record.value } : { status: 'missing' }; },
        (error: unknown) => { outcomes[i] = { status: 'error', error }; },
      ));
    }
    if (pending.length > 0) await Promise.all(pending);
    return outcomes;
  }

  /** Resolves every `${secret:…}` / `${env:…}` in a string (one batched fetch; one error listing every failure). */
  resolve(template: string, options: { scope?: string; env?: Record<string, string | undefined> } = {}): Promise<string> {
    return resolveString(this, template, { ...options, scope: options.scope ?? this.defaultScope });
  }

  /** Resolves the string values of a JSON/YAML document (keys untouched; the input is not changed). */
  resolveDocument<T>(document: T, options: { scope?: string; env?: Record<string, string | undefined> } = {}): Promise<T> {
    return resolveDocument(this, document, { ...options, scope: options.scope ?? this.defaultScope });
  }

  /** A cache hit under the guard: access checked, the read recorded. */
  protected guardedHit<T>(read: { name: string; scope?: string; provider: string; version?: string }, hit: Promise<T>): Promise<T> {
    try {
      this.operationGuard!.check('read', read);
    } catch (error) {
      return Promise.reject(error);
    }
    const written = this.operationGuard!.recordRead(read);
    return written === undefined ? hit : written.then(() => hit);
  }

  protected async guardedGet(ref: SecretRef, providerRead?: ProviderRead): Promise<SecretRecord | null> {
    const guard = this.operationGuard;
    if (guard === undefined) return this.readChain(ref, providerRead);
    const read = { name: ref.name, scope: ref.scope, version: ref.version, provider: ref.provider };
    guard.check('read', read);
    let record: SecretRecord | null;
    try {
      record = await this.readChain(ref, providerRead);
    } catch (error) {
      await guard.recordRead(read, error);
      throw error;
    }
    if (record && this.fromSnapshot.has(record)) await guard.recordSnapshotFallback({ ...read, provider: record.provider });
    else await guard.recordRead(record ? { ...read, provider: record.provider } : read, record ? undefined : NOT_FOUND_READ);
    return record;
  }

  /** The chain's answer for `ref`; `providerRead` asks a provider (default: its `get`). */
  protected async readChain(ref: SecretRef, providerRead?: ProviderRead): Promise<SecretRecord | null> {
    this.stats.count('get');
    const providers = ref.provider !== undefined ? [this.provider(ref.provider)] : this.chainProviders;
    const scopes = ref.scope !== undefined && this.tenantFallback && ref.provider === undefined ? [ref.scope, undefined] : [ref.scope];
    let transientFailure: unknown;
    const unreachable: string[] = [];
    for (const scope of scopes) {
      for (const provider of providers) {
        let record: SecretRecord | null;
        try {
          const asked = { ...ref, scope, field: undefined };
          record = await this.stats.op('get', provider.id, () => (providerRead ? providerRead(provider, asked) : provider.get(asked)));
        } catch (error) {
          if (!isTransient(error)) throw error;
          transientFailure ??= error;
          unreachable.push(provider.id);
          continue;
        }
        // In the tenant pass, a provider's own global fallback answer waits for the global pass,
        // so that every provider's tenant value comes before any global one.
        if (!record || (scope !== undefined && scopes.length > 1 && record.metadata.scope !== scope)) continue;
        this.snapshot?.record(ref, record);
        return this.withField(ref, record);
      }
    }
    if (transientFailure) {
      const saved = await this.snapshot?.lookup(ref, { unreachable });
      if (!saved) throw transientFailure;
      const served = this.withField(ref, saved.record);
      this.fromSnapshot.add(served);
      return served;
    }
    this.snapshot?.forget(ref);
    return null;
  }

  /** Registers the value for masking and applies `#field`. */
  private withField(ref: SecretRef, record: SecretRecord): SecretRecord {
    this.redactor.register(record.value);
    if (ref.field === undefined) return record;
    const value = extractField(record.value, ref.field, describeRef(ref));
    this.redactor.register(value);
    return { ...record, value };
  }

  /** The provider that holds a secret (for delete/versions/rollback/rotate). */
  protected async ownerOf(ref: SecretRef, operation: string): Promise<Provider> {
    if (ref.provider !== undefined) return this.provider(ref.provider);
    for (const provider of this.chainProviders) {
      if (await provider.get({ ...ref, version: undefined, field: undefined })) return provider;
    }
    if (operation === 'rotate') return this.writerFor(undefined, 'rotation');
    throw new NotFoundError(describeRef(ref));
  }

  protected writerFor(id: string | undefined, operation: string): Provider {
    if (id !== undefined || this.defaultWriter !== undefined) {
      const provider = this.provider((id ?? this.defaultWriter)!);
      if (!provider.capabilities.write || !provider.set) throw new CapabilityError(provider.id, operation);
      return provider;
    }
    const writable = this.chainProviders.find((p) => p.capabilities.write && p.set);
    if (!writable) throw new CapabilityError(this.chain.join(', ') || 'chain', operation, 'no provider in the chain is writable: add a `local` provider (run `lockbox init`)');
    return writable;
  }

  protected toRef(address: SecretAddress, options: AddressOptions): SecretRef {
    const base: SecretRef = typeof address === 'string' ? { name: address } : address;
    const ref: SecretRef = {
      name: base.name,
      provider: options.provider ?? base.provider,
      scope: options.scope ?? base.scope ?? this.defaultScope,
      version: options.version ?? base.version,
      field: options.field ?? base.field,
    };
    assertValidName(ref.name);
    if (ref.scope !== undefined) assertValidScope(ref.scope);
    return ref;
  }
}
