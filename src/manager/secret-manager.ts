import { CapabilityError, LockboxError, NotFoundError, isTransient } from '../errors.js';
import { extractField } from '../json-field.js';
import { assertValidName, assertValidScope } from '../names.js';
import { SecretValue } from '../secret-value.js';
import type {
  DeleteOptions, HealthStatus, Provider, SecretListing, SecretMetadata, SecretRecord, SecretRef,
  SecretVersion, SetOptions,
} from '../types.js';
import { globalRedactor } from '../redaction/index.js';
import { resolveDocument, resolveString, type FetchOutcome } from '../references/resolve.js';
import type { CompiledPolicy } from '../access/index.js';
import { currentPrincipal } from '../access/index.js';
import {
  dueSecrets, rotateDue, rotateSecret, setRotationPolicy, type RotateDueOptions, type RotateDueSummary,
  type RotateSecretOptions, type RotationPolicy, type ScheduledRotation, type SetPolicyResult,
} from '../rotation/index.js';
import type { AuditLog } from '../audit/index.js';
import { CachedProvider, type CacheOptions } from './cache.js';
import { OperationGuard, type GuardOptions } from './guard.js';
import { ManagerMetrics, measureProvider, toPrometheusText, type MetricsSnapshot } from './metrics.js';

/** Where values read through the manager are registered for masking (a Redactor). */
export interface ValueRegistry { register(value: SecretValue): void }


export interface SecretManagerOptions {
  /** Providers, in chain order unless `chain` says otherwise. */
  providers: Provider[];
  /** Provider ids in look-up order. @default every provider, in the order given */
  chain?: string[];
  /** Provider that takes writes that name none. @default the chain's first writable provider */
  defaultProvider?: string;
  /** Cache settings, or false to read providers directly. @default {} (5 min TTL) */
  cache?: CacheOptions | false;
  /** Default tenant for calls that give none. @default undefined (global) */
  scope?: string;
  /** For a tenant look-up that finds nothing, also try the global name. @default true */
  tenantFallback?: boolean;
  /** Registry every value read is registered with, for masking output. @default globalRedactor */
  redactor?: ValueRegistry;
  /** Who calls this manager (access control and audit). @default LOCKBOX_PRINCIPAL, else the OS user */
  principal?: string;
  /** A compiled `access:` policy (compilePolicy); once given, anything it does not allow is denied. @default none (everything allowed) */
  access?: CompiledPolicy;
  /** Audit log every operation appends to (AuditLog.open). @default none */
  audit?: AuditLog;
  /** How audit events are written: `reads` batched or sync, `onFailure` fail or warn, `flushIntervalMs`. @default { reads: 'batched', onFailure: 'fail', flushIntervalMs: 1000 } */
  auditOptions?: Pick<GuardOptions, 'reads' | 'onFailure' | 'flushIntervalMs' | 'warn'>;
}

/** Options of calls that address one secret. */
export type AddressOptions = Omit<SecretRef, 'name'>;
/** A secret name, or a full SecretRef. */
export type SecretAddress = string | SecretRef;

/**
 * The one entry point: an ordered chain of providers, each wrapped in the cache, with
 * tenant-before-global look-ups, writes to the first writable provider, versions, rollback
 * and rotation on any provider that keeps versions.
 */
export class SecretManager {
  readonly #providers = new Map<string, Provider>();
  readonly #chain: Provider[];
  readonly #defaultWriter?: string;
  readonly #scope?: string;
  readonly #tenantFallback: boolean;
  readonly #redactor: ValueRegistry;
  readonly #metrics = new ManagerMetrics();
  /** The first provider's cache, when plain names can be answered from it directly. */
  readonly #plainCache?: CachedProvider;
  /** Access control and audit; undefined when neither is configured. */
  readonly #guard?: OperationGuard;

  constructor(options: SecretManagerOptions) {
    for (const provider of options.providers) {
      if (this.#providers.has(provider.id)) throw new LockboxError('INVALID_INPUT', `two providers have the id "${provider.id}"`, { hint: 'give every provider a unique id' });
      const measured = measureProvider(provider, this.#metrics);
      this.#providers.set(provider.id, options.cache === false ? measured : new CachedProvider(measured, options.cache));
    }
    const chainIds = options.chain ?? options.providers.map((p) => p.id);
    this.#chain = chainIds.map((id) => this.provider(id));
    if (options.defaultProvider) this.provider(options.defaultProvider);
    this.#defaultWriter = options.defaultProvider;
    this.#scope = options.scope;
    this.#tenantFallback = options.tenantFallback ?? true;
    this.#redactor = options.redactor ?? globalRedactor;
    const first = this.#chain[0];
    this.#plainCache = first instanceof CachedProvider && this.#scope === undefined ? first : undefined;
    const guard = new OperationGuard({ principal: options.principal ?? currentPrincipal(), policy: options.access, audit: options.audit, ...options.auditOptions });
    if (!guard.inactive) this.#guard = guard;
  }

  /** Who this manager acts for (access control and audit). */
  get principal(): string {
    return this.#guard?.principal ?? 'unknown';
  }

  /** The guard (access control + audit), when configured: for `lockbox policy check` and key rotation events. */
  get guard(): OperationGuard | undefined {
    return this.#guard;
  }

  /** A configured provider (cache-wrapped) by id; UNKNOWN_PROVIDER names the known ids. */
  provider(id: string): Provider {
    const provider = this.#providers.get(id);
    if (!provider) {
      throw new LockboxError('UNKNOWN_PROVIDER', `no provider with id "${id}"`, {
        hint: `configured providers: ${[...this.#providers.keys()].join(', ') || 'none'}`,
      });
    }
    return provider;
  }

  /** Provider ids in look-up order. */
  get chain(): string[] {
    return this.#chain.map((p) => p.id);
  }

  /** Reads a secret; null when no provider in the chain has it. `#field` is applied when given. */
  get(address: SecretAddress, options?: AddressOptions): Promise<SecretRecord | null> {
    // Fast path: a plain name, fresh in the first provider's cache, answers with no await.
    if (typeof address === 'string' && options === undefined && this.#plainCache !== undefined) {
      const hit = this.#plainCache.peekPlainName(address);
      if (hit !== undefined) {
        this.#metrics.fastGets++;
        if (this.#guard === undefined || this.#guard.fastRead(address, this.#plainCache.id)) return hit;
        return this.#guardedHit({ name: address, provider: this.#plainCache.id }, hit);
      }
    }
    const ref = this.#ref(address, options ?? {});
    if (ref.provider === undefined && ref.field === undefined) {
      const first = this.#chain[0];
      if (first instanceof CachedProvider) {
        const hit = first.peek(ref);
        if (hit && hit.metadata.scope === ref.scope) {
          this.#metrics.count('get');
          if (this.#guard === undefined) return Promise.resolve(hit);
          return this.#guardedHit({ name: ref.name, scope: ref.scope, provider: first.id, version: ref.version }, Promise.resolve(hit));
        }
      }
    }
    return this.#guardedGet(ref);
  }

  /** Like get, but a missing secret is a NotFoundError. */
  async require(address: SecretAddress, options: AddressOptions = {}): Promise<SecretRecord> {
    const ref = this.#ref(address, options);
    const record = await this.#guardedGet(ref);
    if (!record) throw new NotFoundError(describeRef(ref));
    return record;
  }

  /** A specific version (number or current | previous | pending). */
  getVersion(address: SecretAddress, version: string, options: AddressOptions = {}): Promise<SecretRecord | null> {
    return this.get(address, { ...options, version });
  }

  /** Reads many secrets; one entry per address, null for missing. Throws on the first failure. */
  async getMany(addresses: SecretAddress[], options: AddressOptions = {}): Promise<(SecretRecord | null)[]> {
    return Promise.all(addresses.map((address) => this.get(address, options)));
  }

  /** Reads many references without throwing: each outcome says found, missing or error. */
  async fetchMany(refs: SecretRef[]): Promise<FetchOutcome[]> {
    const outcomes: FetchOutcome[] = new Array(refs.length);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const plain = this.#plainCache !== undefined && this.#guard === undefined && ref.scope === undefined && ref.provider === undefined
        && ref.field === undefined && (ref.version === undefined || ref.version === 'current');
      const hit = plain ? this.#plainCache!.peek(ref) : undefined;
      if (hit) {
        this.#metrics.fastGets++;
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
    return resolveString(this, template, { ...options, scope: options.scope ?? this.#scope });
  }

  /** Resolves the string values of a JSON/YAML document (keys untouched; the input is not changed). */
  resolveDocument<T>(document: T, options: { scope?: string; env?: Record<string, string | undefined> } = {}): Promise<T> {
    return resolveDocument(this, document, { ...options, scope: options.scope ?? this.#scope });
  }

  /** Writes a new version to the named provider, the default provider or the chain's first writable one. */
  async set(address: SecretAddress, value: string | SecretValue, options: AddressOptions & SetOptions = {}): Promise<SecretMetadata> {
    const ref = this.#ref(address, options);
    const provider = this.#writer(ref.provider, 'writes');
    const secret = SecretValue.from(value);
    const write = () => this.#metrics.op('set', provider.id, () => provider.set!(ref, secret, options));
    return this.#guard ? this.#guard.run('write', guardTarget(ref, provider.id), write, versionOf) : write();
  }

  /**
   * Writes several secrets to one provider; atomically (one transaction) where the provider has
   * `setMany` (the local store), else one after another.
   */
  async setMany(entries: Array<{ name: string; value: string | SecretValue; options?: Omit<AddressOptions, 'provider'> & SetOptions }>, target: { provider?: string } = {}): Promise<SecretMetadata[]> {
    const provider = this.#writer(target.provider, 'writes');
    const batch = entries.map(({ name, value, options = {} }) => ({
      ref: this.#ref(name, { ...options, provider: provider.id }), value: SecretValue.from(value), opts: options,
    }));
    for (const entry of batch) this.#guard?.check('write', guardTarget(entry.ref, provider.id));
    let written: SecretMetadata[] = [];
    try {
      if (provider.setMany) written = await this.#metrics.op('set', provider.id, () => provider.setMany!(batch));
      else for (const entry of batch) written.push(await this.#metrics.op('set', provider.id, () => provider.set!(entry.ref, entry.value, entry.opts)));
    } catch (error) {
      for (const entry of batch) await this.#guard?.record('write', guardTarget(entry.ref, provider.id), error);
      throw error;
    }
    for (const [i, entry] of batch.entries()) await this.#guard?.record('write', { ...guardTarget(entry.ref, provider.id), version: written[i]?.version });
    return written;
  }

  /** Deletes a secret (soft by default: `undelete` brings it back; mode 'destroy' erases). */
  async delete(address: SecretAddress, options: AddressOptions & DeleteOptions = {}): Promise<void> {
    const ref = this.#ref(address, options);
    this.#guard?.check('delete', guardTarget(ref));
    const provider = await this.#owner(ref, 'delete');
    if (!provider.delete) throw new CapabilityError(provider.id, 'delete');
    const remove = () => this.#metrics.op('delete', provider.id, () => provider.delete!(ref, options));
    await (this.#guard ? this.#guard.run(options.mode === 'destroy' ? 'destroy' : 'delete', guardTarget(ref, provider.id), remove) : remove());
  }

  /** Brings back a soft-deleted secret. */
  async undelete(address: SecretAddress, options: AddressOptions = {}): Promise<void> {
    const ref = this.#ref(address, options);
    const provider = this.#writer(ref.provider, 'undelete');
    if (!provider.undelete) throw new CapabilityError(provider.id, 'undelete');
    const restore = () => this.#metrics.op('undelete', provider.id, () => provider.undelete!(ref));
    await (this.#guard ? this.#guard.run('undelete', guardTarget(ref, provider.id), restore) : restore());
  }

  /** Names under a prefix across the chain (the first provider holding a name wins). */
  async list(prefix = '', options: { scope?: string; provider?: string } = {}): Promise<(SecretListing & { provider: string })[]> {
    const scope = options.scope ?? this.#scope;
    if (this.#guard) return this.#guard.run('list', { name: prefix || undefined, scope }, () => this.#list(prefix, scope, options.provider));
    return this.#list(prefix, scope, options.provider);
  }

  async #list(prefix: string, scope: string | undefined, providerId: string | undefined): Promise<(SecretListing & { provider: string })[]> {
    const providers = providerId ? [this.provider(providerId)] : this.#chain;
    const seen = new Map<string, SecretListing & { provider: string }>();
    for (const provider of providers) {
      if (!provider.list) continue;
      const listings = await this.#metrics.op('list', provider.id, () => provider.list!(prefix, scope));
      for (const listing of listings) {
        if (seen.has(listing.name) || (this.#guard && !this.#guard.allows('list', { name: listing.name, scope }))) continue;
        seen.set(listing.name, { ...listing, provider: provider.id });
      }
    }
    return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every version of a secret, oldest first, from the provider that holds it. */
  async versions(address: SecretAddress, options: AddressOptions = {}): Promise<SecretVersion[]> {
    const ref = this.#ref(address, options);
    this.#guard?.check('versions', guardTarget(ref));
    const provider = await this.#owner(ref, 'versions');
    if (!provider.versions) throw new CapabilityError(provider.id, 'versions', 'this backend keeps one version only');
    const list = () => this.#metrics.op('versions', provider.id, () => provider.versions!(ref));
    return this.#guard ? this.#guard.run('versions', guardTarget(ref, provider.id), list) : list();
  }

  /** Writes an old version's value as the new current version (history is never rewritten). */
  async rollback(address: SecretAddress, version: string = 'previous', options: AddressOptions = {}): Promise<SecretMetadata> {
    const ref = this.#ref(address, options);
    this.#guard?.check('rollback', guardTarget(ref));
    const provider = await this.#owner(ref, 'rollback');
    const rollback = async () => {
      const old = await provider.get({ ...ref, version, field: undefined });
      if (!old) throw new NotFoundError(`${describeRef(ref)} version ${version}`);
      if (!provider.set) throw new CapabilityError(provider.id, 'rollback');
      return this.#metrics.op('rollback', provider.id, () => provider.set!({ ...ref, version: undefined }, old.value, { tags: old.metadata.tags }));
    };
    return this.#guard ? this.#guard.run('rollback', guardTarget(ref, provider.id), rollback, versionOf) : rollback();
  }

  /**
   * Rotates a secret, staged (docs/rotation.md): the new value (given, or generated) enters as
   * `pending`, the optional `test` hook validates it, then it becomes `current` and the old value
   * `previous`. A failed test leaves `current` untouched (ROTATION_TEST_FAILED).
   */
  async rotate(address: SecretAddress, options: AddressOptions & Omit<RotateSecretOptions, 'provider' | 'scope'> = {}): Promise<SecretMetadata> {
    const { provider: _provider, scope: _scope, version: _version, field: _field, ...rotation } = options;
    const ref = this.#ref(address, options);
    this.#guard?.check('rotate', guardTarget(ref));
    const provider = await this.#owner(ref, 'rotate');
    const rotate = async () => (await this.#metrics.op('rotate', provider.id,
      () => rotateSecret(this, { name: ref.name, scope: ref.scope, provider: provider.id }, rotation))).metadata;
    return this.#guard ? this.#guard.run('rotate', guardTarget(ref, provider.id), rotate, versionOf) : rotate();
  }

  /** Sets (null: removes) a secret's rotation policy, e.g. `{ every: '30d' }`; writes a same-value version only when it changes. */
  async setRotationPolicy(address: SecretAddress, policy: RotationPolicy | null, options: AddressOptions = {}): Promise<SetPolicyResult> {
    const ref = this.#ref(address, options);
    const run = () => setRotationPolicy(this, ref, policy);
    return this.#guard ? this.#guard.run('rotate', guardTarget(ref), run, (result) => versionOf(result.metadata)) : run();
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
  async health(): Promise<{ status: HealthStatus['status']; providers: HealthStatus[] }> {
    const providers = await Promise.all([...this.#providers.values()].map((p) => checkHealth(p)));
    const status = providers.every((p) => p.status === 'ready') ? 'ready' : providers.some((p) => p.status === 'ready') ? 'degraded' : 'down';
    return { status, providers };
  }

  /** Counters: operations, per-provider calls and errors, and cache hits/misses/stale. */
  metrics(): MetricsSnapshot {
    const caches = [...this.#providers.values()].filter((p): p is CachedProvider => p instanceof CachedProvider);
    return this.#metrics.snapshot(caches);
  }

  /** metrics() in the Prometheus text format, for a /metrics endpoint (labels: provider id, operation — never names or values). */
  metricsText(): string {
    return toPrometheusText(this.metrics());
  }

  /** Writes every pending (batched) audit event now. */
  async flushAudit(): Promise<void> {
    await this.#guard?.flush();
  }

  /** Writes pending audit events, closes the audit log and every provider (database handles, timers). */
  async dispose(): Promise<void> {
    try {
      await this.#guard?.close();
    } finally {
      await Promise.all([...this.#providers.values()].map((p) => p.dispose?.()));
    }
  }

  /** A cache hit under the guard: access checked, the read recorded. */
  #guardedHit<T>(read: { name: string; scope?: string; provider: string; version?: string }, hit: Promise<T>): Promise<T> {
    try {
      this.#guard!.check('read', read);
    } catch (error) {
      return Promise.reject(error);
    }
    const written = this.#guard!.recordRead(read);
    return written === undefined ? hit : written.then(() => hit);
  }

  async #guardedGet(ref: SecretRef): Promise<SecretRecord | null> {
    const guard = this.#guard;
    if (guard === undefined) return this.#get(ref);
    const read = { name: ref.name, scope: ref.scope, version: ref.version, provider: ref.provider };
    guard.check('read', read);
    let record: SecretRecord | null;
    try {
      record = await this.#get(ref);
    } catch (error) {
      await guard.recordRead(read, error);
      throw error;
    }
    await guard.recordRead(record ? { ...read, provider: record.provider } : read, record ? undefined : NOT_FOUND_READ);
    return record;
  }

  async #get(ref: SecretRef): Promise<SecretRecord | null> {
    this.#metrics.count('get');
    const providers = ref.provider !== undefined ? [this.provider(ref.provider)] : this.#chain;
    const scopes = ref.scope !== undefined && this.#tenantFallback && ref.provider === undefined ? [ref.scope, undefined] : [ref.scope];
    let transientFailure: unknown;
    for (const scope of scopes) {
      for (const provider of providers) {
        let record: SecretRecord | null;
        try {
          record = await this.#metrics.op('get', provider.id, () => provider.get({ ...ref, scope, field: undefined }));
        } catch (error) {
          if (!isTransient(error)) throw error;
          transientFailure ??= error;
          continue;
        }
        // In the tenant pass, a provider's own global fallback answer waits for the global pass,
        // so that every provider's tenant value comes before any global one.
        if (!record || (scope !== undefined && scopes.length > 1 && record.metadata.scope !== scope)) continue;
        this.#redactor.register(record.value);
        if (ref.field === undefined) return record;
        const value = extractField(record.value, ref.field, describeRef(ref));
        this.#redactor.register(value);
        return { ...record, value };
      }
    }
    if (transientFailure) throw transientFailure;
    return null;
  }

  /** The provider that holds a secret (for delete/versions/rollback/rotate). */
  async #owner(ref: SecretRef, operation: string): Promise<Provider> {
    if (ref.provider !== undefined) return this.provider(ref.provider);
    for (const provider of this.#chain) {
      if (await provider.get({ ...ref, version: undefined, field: undefined })) return provider;
    }
    if (operation === 'rotate') return this.#writer(undefined, 'rotation');
    throw new NotFoundError(describeRef(ref));
  }

  #writer(id: string | undefined, operation: string): Provider {
    if (id !== undefined || this.#defaultWriter !== undefined) {
      const provider = this.provider((id ?? this.#defaultWriter)!);
      if (!provider.capabilities.write || !provider.set) throw new CapabilityError(provider.id, operation);
      return provider;
    }
    const writable = this.#chain.find((p) => p.capabilities.write && p.set);
    if (!writable) throw new CapabilityError(this.chain.join(', ') || 'chain', operation, 'no provider in the chain is writable: add a `local` provider (run `lockbox init`)');
    return writable;
  }

  #ref(address: SecretAddress, options: AddressOptions): SecretRef {
    const base: SecretRef = typeof address === 'string' ? { name: address } : address;
    const ref: SecretRef = {
      name: base.name,
      provider: options.provider ?? base.provider,
      scope: options.scope ?? base.scope ?? this.#scope,
      version: options.version ?? base.version,
      field: options.field ?? base.field,
    };
    assertValidName(ref.name);
    if (ref.scope !== undefined) assertValidScope(ref.scope);
    return ref;
  }
}

/** Marks a read that found nothing in the audit log. */
const NOT_FOUND_READ = new LockboxError('NOT_FOUND', 'not found');

function guardTarget(ref: SecretRef, provider?: string): { name: string; scope?: string; provider?: string } {
  return { name: ref.name, scope: ref.scope, provider: provider ?? ref.provider };
}

function versionOf(metadata: SecretMetadata): { version: string } {
  return { version: metadata.version };
}

async function checkHealth(provider: Provider): Promise<HealthStatus> {
  const started = performance.now();
  try {
    return await provider.health();
  } catch (error) {
    const message = error instanceof LockboxError ? error.message : `health check failed (${(error as { code?: string }).code ?? 'error'})`;
    return { provider: provider.id, status: 'down', latencyMs: performance.now() - started, message };
  }
}

/** `provider:name@version#field` (tenant in brackets), for messages. Never a value. */
export function describeRef(ref: SecretRef): string {
  return `${ref.provider ? `${ref.provider}:` : ''}${ref.scope ? `[${ref.scope}] ` : ''}${ref.name}${ref.version ? `@${ref.version}` : ''}${ref.field ? `#${ref.field}` : ''}`;
}
