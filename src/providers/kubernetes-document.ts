/**
 * The document layout of the kubernetes provider: one Secret per tenant (`{prefix}{tenant}`,
 * global secrets in `{prefix}{global_document}`) whose data keys are the lockbox names — the
 * shape Secrets made by kubectl or Helm already have. One version only (the Secret's
 * resourceVersion); writes are read-modify-write with the resourceVersion, retried on 409.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { CapabilityError, LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type { Scope, SecretListing, SecretMetadata, SecretRecord, SecretRef, SecretVersion, SetOptions } from '../types.js';
import type { SecretCalls } from './kubernetes-client.js';
import {
  LAYOUT_LABEL, NAME_ANNOTATION, TENANT_ANNOTATION, decodeData, documentBody, documentKey, documentName, documentUpdatedAt, isDocumentFor,
} from './kubernetes-mapping.js';
import { retryConflicts } from './kubernetes-per-secret.js';

/** Document reads shared by the lookups of one getMany (one GET per tenant document). */
export type DocumentCache = Map<string, Promise<V1Secret | null>>;

export class DocumentSecrets {
  constructor(
    private readonly providerId: string,
    private readonly calls: SecretCalls,
    private readonly prefix: string,
    private readonly globalDocument: string,
    private readonly retryBaseMs: number,
  ) {}

  /** Whether `ref` can live in a document (its name has no "/", and the document name is valid). */
  canMap(ref: SecretRef): boolean {
    try {
      documentKey(this.providerId, ref);
      documentName(this.providerId, this.prefix, ref.scope, this.globalDocument);
      return true;
    } catch {
      return false;
    }
  }

  /** The tenant's document, when it exists and is one (not a per-secret Secret, not another tenant's). */
  async load(scope: Scope | undefined, cache?: DocumentCache): Promise<V1Secret | undefined> {
    const name = documentName(this.providerId, this.prefix, scope, this.globalDocument);
    let pending = cache?.get(name);
    if (!pending) {
      pending = this.calls.read(name);
      cache?.set(name, pending);
    }
    const secret = await pending;
    return secret && isDocumentFor(secret, scope) ? secret : undefined;
  }

  /** The entry of `ref` (only version: current, or the Secret's resourceVersion); null when absent. */
  async get(ref: SecretRef, cache?: DocumentCache): Promise<SecretRecord | null> {
    const key = documentKey(this.providerId, ref);
    const secret = await this.load(ref.scope, cache);
    const value = secret === undefined ? undefined : decodeData(secret, key);
    if (secret === undefined || value === undefined) return null;
    const version = secret.metadata?.resourceVersion ?? '1';
    if (ref.version !== undefined && ref.version !== 'current' && ref.version !== version) return null;
    return { provider: this.providerId, value: new SecretValue(value), metadata: metadataOf(ref, secret) };
  }

  /** The keys of the tenant's document. */
  async list(scope: Scope | undefined): Promise<SecretListing[]> {
    const secret = await this.load(scope);
    if (!secret) return [];
    const updatedAt = documentUpdatedAt(secret);
    return Object.keys(secret.data ?? {}).map((name) => ({ name, scope, version: secret.metadata?.resourceVersion, updatedAt, tags: {} }));
  }

  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    const record = await this.get({ ...ref, version: undefined });
    return record ? [{ version: record.metadata.version, labels: ['current'], createdAt: record.metadata.updatedAt, destroyed: false }] : [];
  }

  /** Sets one key of the tenant's document (creating the document Secret when needed). */
  async set(ref: SecretRef, value: string, opts: SetOptions): Promise<SecretMetadata> {
    if (opts.pending) throw new CapabilityError(this.providerId, 'staging a pending version in layout "document"', 'use layout per-secret or auto, which keep pending versions');
    if (opts.expiresAt) throw new CapabilityError(this.providerId, 'expiry (expiresAt) in layout "document"', 'use layout per-secret or auto, which keep expiry per secret');
    if (opts.tags && Object.keys(opts.tags).length > 0) throw new CapabilityError(this.providerId, 'tags in layout "document"', 'use layout per-secret or auto, which keep tags per secret');
    const saved = await this.#modify(ref, true, () => value);
    return metadataOf(ref, saved!);
  }

  /** Removes one key from the tenant's document; false when it holds no such key. */
  async delete(ref: SecretRef): Promise<boolean> {
    return (await this.#modify(ref, false, () => undefined)) !== null;
  }

  async #modify(ref: SecretRef, create: boolean, next: () => string | undefined): Promise<V1Secret | null> {
    const key = documentKey(this.providerId, ref);
    const name = documentName(this.providerId, this.prefix, ref.scope, this.globalDocument);
    return retryConflicts(this.retryBaseMs, async () => {
      const existing = await this.calls.read(name);
      if (existing && !isDocumentFor(existing, ref.scope)) throw notADocument(this.providerId, existing, ref.scope);
      if (!create && existing?.data?.[key] === undefined) return null;
      const body = documentBody(existing, name, ref.scope, key, next());
      return existing ? this.calls.replace(name, body) : this.calls.create(body);
    });
  }
}

function notADocument(providerId: string, secret: V1Secret, scope: Scope | undefined): LockboxError {
  const annotations = secret.metadata?.annotations ?? {};
  const holds = secret.metadata?.labels?.[LAYOUT_LABEL] === 'per-secret'
    ? `the per-secret lockbox secret "${annotations[NAME_ANNOTATION]}"`
    : `the document of ${annotations[TENANT_ANNOTATION] === undefined ? 'global secrets' : `tenant "${annotations[TENANT_ANNOTATION]}"`}`;
  return new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": the document of ${scope === undefined ? 'global secrets' : `tenant "${scope}"`} maps to the Secret "${secret.metadata?.name}", which already holds ${holds}`, {
    provider: providerId, hint: 'choose another prefix or global_document',
  });
}

function metadataOf(ref: SecretRef, secret: V1Secret): SecretMetadata {
  const at = documentUpdatedAt(secret);
  return { name: ref.name, scope: ref.scope, version: secret.metadata?.resourceVersion ?? '1', labels: ['current'], createdAt: at, updatedAt: at, tags: {} };
}
