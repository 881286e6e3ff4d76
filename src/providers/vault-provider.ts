/**
 * The vault provider's Provider implementation over KV v2 (see vault.ts for the options and
 * vault-layout.ts for the mapping of names, values and versions).
 */
import { CapabilityError, InvalidNameError, LockboxError, NotFoundError } from '../errors.js';
import { assertValidName, assertValidScope, isValidName } from '../names.js';
import { SecretValue } from '../secret-value.js';
import { sameTags } from '../tags.js';
import type {
  DeleteOptions, HealthStatus, Provider, ProviderCapabilities, SecretListing, SecretMetadata,
  SecretRecord, SecretRef, SecretVersion, SetOptions,
} from '../types.js';
import { callRemote, mapLimit, type RemoteCallOptions } from './remote.js';
import type { VaultClient } from './vault-client.js';
import { TenantDocuments } from './vault-documents.js';
import { classifyVaultError } from './vault-errors.js';
import { KvV2, type KvMetadata, type KvReadResult } from './vault-kv.js';
import {
  KIND_KEY, OWNER_KEY, decodeSecret, describeHolder, encodeSecret, labelsOf, ownerOf, parseVersion, pathTakenError,
  previousVersion, secretPath, tagsOf, versionsOf, type VersionChoice,
} from './vault-layout.js';
import type { ParsedVaultOptions } from './vault.js';

/** Requests in flight at most for getMany and list. */
const MAX_IN_FLIGHT = 10;

export class VaultProvider implements Provider {
  readonly type = 'vault';
  readonly capabilities: ProviderCapabilities = { write: true, delete: true, list: true, versions: true, watch: false };
  readonly #kv: KvV2;
  readonly #docs: TenantDocuments;
  readonly #remote: RemoteCallOptions;

  constructor(readonly id: string, private readonly options: ParsedVaultOptions, private readonly client: VaultClient) {
    this.#remote = { timeout_ms: options.timeout_ms, retries: options.retries, retry_base_ms: options.retry_base_ms };
    this.#kv = new KvV2(id, options.mount_point, client, this.#remote, options.url);
    this.#docs = new TenantDocuments(id, this.#kv, options.global_document);
  }

  async get(ref: SecretRef): Promise<SecretRecord | null> {
    const choice = this.#check(ref);
    if (choice === 'pending') return null; // Vault KV v2 has no pending stage
    if (this.options.layout !== 'document') {
      const record = await this.#getSecret(ref, choice);
      if (record !== undefined || !this.#hasDocument(ref)) return record ?? null;
    }
    return (await this.#docs.getGroup([ref], choice))[0] ?? null;
  }

  /** Per-secret: one read per secret, at most 10 in flight; documents: one read per tenant document. */
  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    const choices = refs.map((ref) => this.#check(ref));
    const results: (SecretRecord | null | undefined)[] = this.options.layout === 'document'
      ? refs.map(() => undefined)
      : await mapLimit(refs, MAX_IN_FLIGHT, (ref, i) => (choices[i] === 'pending' ? Promise.resolve(null) : this.#getSecret(ref, choices[i]!)));
    const groups = new Map<string, number[]>();
    refs.forEach((ref, i) => {
      if (results[i] !== undefined || !this.#hasDocument(ref)) return;
      const key = JSON.stringify([ref.scope ?? null, choices[i]]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    await mapLimit([...groups.values()], MAX_IN_FLIGHT, async (indexes) => {
      const records = await this.#docs.getGroup(indexes.map((i) => refs[i]!), choices[indexes[0]!]!);
      indexes.forEach((index, k) => { results[index] = records[k] ?? null; });
    });
    return results.map((record) => record ?? null);
  }

  /** Names under `prefix` (per-secret paths listed recursively, plus the keys of the tenant document). */
  async list(prefix = '', scope?: string): Promise<SecretListing[]> {
    if (scope !== undefined) assertValidScope(scope);
    checkPrefix(prefix);
    const names = new Set<string>();
    if (this.options.layout !== 'document') for (const name of await this.#listSecrets(prefix, scope)) names.add(name);
    if (this.#hasDocument({ name: 'x', scope })) {
      for (const name of await this.#docs.names(scope)) if (name.startsWith(prefix) && isValidName(name)) names.add(name);
    }
    return [...names].sort().map((name) => ({ name, scope }));
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    this.#check({ ...ref, version: undefined });
    if (opts.pending) throw new CapabilityError(this.id, 'pending versions', 'Vault KV v2 has no pending stage: write the value as current (the old one stays as previous)');
    const reserved = Object.keys(opts.tags ?? {}).find((key) => key.startsWith('lockbox_'));
    if (reserved) throw new LockboxError('INVALID_INPUT', `provider "${this.id}": tag "${reserved}" is reserved (lockbox_ tags are lockbox's own marks)`, { provider: this.id });
    if (this.options.layout === 'document') return this.#docs.set(ref, value, opts.expiresAt);
    return this.#setSecret(ref, value, opts);
  }

  /** soft: Vault's soft delete of the latest version (or `version`); destroy: destroy `version`, or delete every version and the metadata. */
  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<void> {
    this.#check({ ...ref, version: undefined });
    const meta = this.options.layout === 'document' ? null : await this.#ownedMetadata(ref);
    if (!meta) {
      if (!this.#hasDocument(ref)) throw new NotFoundError(ref.name, { provider: this.id });
      if (opts.mode === 'destroy') {
        throw new CapabilityError(this.id, 'destroy in the document layout', 'a document version holds every secret of the tenant: remove the secret (soft delete), then destroy old document versions with `vault kv destroy`');
      }
      return this.#docs.delete(ref);
    }
    const path = secretPath(ref.scope, ref.name);
    if (opts.mode === 'destroy' && opts.version === undefined) return this.#kv.deleteMetadata(path);
    if (opts.version === undefined) return this.#kv.deleteLatest(path);
    const version = Number(opts.version);
    if (!meta.versions.has(version)) throw new NotFoundError(`${ref.name}@${opts.version}`, { provider: this.id });
    return this.#kv.changeVersions(opts.mode === 'destroy' ? 'destroy' : 'delete', path, [version]);
  }

  /** Undeletes the current version (document layout: restores the last value from document history). */
  async undelete(ref: SecretRef): Promise<void> {
    this.#check({ ...ref, version: undefined });
    const meta = this.options.layout === 'document' ? null : await this.#ownedMetadata(ref);
    if (!meta) {
      if (!this.#hasDocument(ref)) throw new NotFoundError(ref.name, { provider: this.id });
      return this.#docs.undelete(ref);
    }
    const current = meta.versions.get(meta.currentVersion);
    if (!current || current.destroyed) throw new NotFoundError(ref.name, { provider: this.id, hint: 'the current version was destroyed and cannot be brought back' });
    if (current.deletionTime !== '') await this.#kv.changeVersions('undelete', secretPath(ref.scope, ref.name), [meta.currentVersion]);
  }

  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    this.#check({ ...ref, version: undefined });
    const meta = this.options.layout === 'document' ? null : await this.#ownedMetadata(ref);
    if (meta) return versionsOf(meta);
    return this.#hasDocument(ref) ? this.#docs.versions(ref) : [];
  }

  /** sys/health (node state), then auth/token/lookup-self (is the token accepted). */
  async health(): Promise<HealthStatus> {
    const started = performance.now();
    const url = this.options.url;
    let node: { status: HealthStatus['status']; message?: string };
    try {
      const response = await callRemote(this.id, 'health check (sys/health)', { ...this.#remote, retries: 0 },
        (signal) => this.client.request({ method: 'GET', path: 'sys/health', authenticated: false, namespaced: false, signal }),
        classifyVaultError(this.id, 'health check (sys/health)', url));
      node = nodeState(response.status, url);
    } catch (error) {
      return { provider: this.id, status: 'down', latencyMs: elapsed(started), message: describe(error) };
    }
    const latencyMs = elapsed(started);
    if (node.status === 'down') return { provider: this.id, status: 'down', latencyMs, message: node.message };
    try {
      const lookup = await callRemote(this.id, 'token lookup (auth/token/lookup-self)', this.#remote,
        (signal) => this.client.request({ method: 'GET', path: 'auth/token/lookup-self', signal }),
        classifyVaultError(this.id, 'token lookup', url));
      if (lookup.status === 403) {
        return { provider: this.id, status: 'down', latencyMs, message: 'authentication failed: Vault rejected the token (invalid, revoked or expired) — check the token with `vault token lookup`' };
      }
    } catch (error) {
      return { provider: this.id, status: 'down', latencyMs, message: describe(error) };
    }
    return { provider: this.id, status: node.status, latencyMs, message: node.message };
  }

  async dispose(): Promise<void> {
    await this.client.dispose?.();
  }

  #check(ref: SecretRef): VersionChoice {
    assertValidName(ref.name);
    if (ref.scope !== undefined) assertValidScope(ref.scope);
    return parseVersion(this.id, ref.version);
  }

  /** Whether reads and writes of `ref` may use a tenant document. */
  #hasDocument(ref: SecretRef): boolean {
    if (this.options.layout === 'per-secret') return false;
    // auto: the tenant named like the global document has no document of its own
    return !(this.options.layout === 'auto' && ref.scope === this.options.global_document);
  }

  /**
   * The secret at its per-secret path: undefined when that path holds no secret of `ref` (auto
   * then tries the document), null when it does but has no readable value for `choice`.
   */
  async #getSecret(ref: SecretRef, choice: Exclude<VersionChoice, 'pending'>): Promise<SecretRecord | null | undefined> {
    const path = secretPath(ref.scope, ref.name);
    let meta: KvMetadata | null = null;
    let read: KvReadResult;
    if (choice === 'current') {
      read = await this.#kv.read(path);
      if (read.status === 'missing' || !this.#owns(read.customMetadata, ref)) return undefined;
    } else {
      meta = await this.#kv.metadata(path);
      if (!meta || !this.#owns(meta.customMetadata, ref)) return undefined;
      const version = choice === 'previous' ? previousVersion(meta) : choice;
      if (version === undefined) return null;
      read = await this.#kv.read(path, version);
    }
    if (read.status !== 'found') return null;
    const { value, expiresAt } = decodeSecret(read.data);
    if (expiresAt && expiresAt.getTime() <= Date.now()) return null;
    const at = new Date(read.info.createdTime);
    return {
      provider: this.id,
      value: new SecretValue(value),
      metadata: {
        name: ref.name, scope: ref.scope, version: String(read.version), labels: meta ? labelsOf(meta, read.version) : ['current'],
        createdAt: at, updatedAt: at, expiresAt, tags: tagsOf(read.customMetadata),
      },
    };
  }

  async #setSecret(ref: SecretRef, value: SecretValue, opts: SetOptions): Promise<SecretMetadata> {
    const path = secretPath(ref.scope, ref.name);
    const meta = await this.#kv.metadata(path);
    const custom = meta?.customMetadata ?? null;
    if (!this.#owns(custom, ref)) throw pathTakenError(this.id, ref.scope, ref.name, `${this.options.mount_point}/data/${path}`, describeHolder(custom));
    const written = await this.#kv.write(path, encodeSecret(value.reveal(), opts.expiresAt), meta?.currentVersion ?? 0);
    const tags = opts.tags && Object.keys(opts.tags).length > 0 ? opts.tags : tagsOf(custom); // no tags: keep the entry's
    const desired = { ...tags, [OWNER_KEY]: ownerOf(ref.scope) };
    if (!sameTags(desired, custom)) await this.#kv.writeCustomMetadata(path, desired);
    const at = new Date(written.info.createdTime);
    return { name: ref.name, scope: ref.scope, version: String(written.version), labels: ['current'], createdAt: at, updatedAt: at, expiresAt: opts.expiresAt, tags: { ...tags } };
  }

  /** The key's metadata when its per-secret path exists and belongs to `ref`. */
  async #ownedMetadata(ref: SecretRef): Promise<KvMetadata | null> {
    const meta = await this.#kv.metadata(secretPath(ref.scope, ref.name));
    return meta && this.#owns(meta.customMetadata, ref) ? meta : null;
  }

  /** False when lockbox marked the path as a document or as another address's secret. */
  #owns(custom: Record<string, string> | null, ref: SecretRef): boolean {
    if (custom?.[KIND_KEY] === 'document') return false;
    return custom?.[OWNER_KEY] === undefined || custom[OWNER_KEY] === ownerOf(ref.scope);
  }

  /** Lists per-secret paths under the prefix's folder, breadth first, at most 10 LISTs in flight. */
  async #listSecrets(prefix: string, scope: string | undefined): Promise<string[]> {
    const base = scope === undefined ? '' : `${scope}/`;
    const found: string[] = [];
    let folders = [base + prefix.slice(0, prefix.lastIndexOf('/') + 1)];
    while (folders.length > 0) {
      const listed = await mapLimit(folders, MAX_IN_FLIGHT, (folder) => this.#kv.list(folder));
      const next: string[] = [];
      listed.forEach((keys, i) => {
        for (const key of keys) {
          const relative = folders[i]!.slice(base.length) + key;
          if (!key.endsWith('/')) found.push(relative);
          else if (relative.startsWith(prefix) || prefix.startsWith(relative)) next.push(base + relative);
        }
      });
      folders = next;
    }
    return found.filter((name) => name.startsWith(prefix) && isValidName(name));
  }
}

function nodeState(status: number, url: string): { status: HealthStatus['status']; message?: string } {
  const check = `check with \`vault status -address=${url}\``;
  if (status === 200) return { status: 'ready' };
  if (status === 429) return { status: 'degraded', message: `Vault at ${url} is a standby node (sys/health answered 429); requests are forwarded to the active node — ${check}` };
  if (status === 472 || status === 473 || status === 474) return { status: 'degraded', message: `Vault at ${url} is a ${status === 472 ? 'disaster-recovery secondary' : status === 473 ? 'performance standby' : 'standby that cannot reach the active node'} (sys/health answered ${status}) — ${check}` };
  if (status === 501) return { status: 'down', message: `Vault at ${url} is not initialised (sys/health answered 501): run \`vault operator init\` — ${check}` };
  if (status === 503) return { status: 'down', message: `Vault at ${url} is sealed (sys/health answered 503): unseal it — ${check}` };
  return { status: 'down', message: `Vault at ${url}: sys/health answered HTTP ${status} — ${check}` };
}

function describe(error: unknown): string {
  return error instanceof LockboxError ? error.describe() : `unexpected error (${error instanceof Error ? error.name : typeof error})`;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}



/** A list prefix: a partial name; its folder part must be a valid name. */
function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  const slash = prefix.lastIndexOf('/');
  if (slash > 0) assertValidName(prefix.slice(0, slash));
  if (slash === 0 || !/^[A-Za-z0-9._-]*$/.test(prefix.slice(slash + 1))) throw new InvalidNameError(prefix, 'a list prefix is a partial name: [A-Za-z0-9._-] segments joined by "/"');
}
