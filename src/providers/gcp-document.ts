/**
 * The document layout of the gcp provider (seed 002 §5 option 1, "recommended"): one secret per
 * tenant, `{prefix}{tenant}`, whose value is a JSON object of lockbox name → value; secrets with
 * no tenant live in `{prefix}{global_document}`. A write reads the latest document, changes one
 * key and adds a version, so a document's versions are the versions of every key in it.
 */
import { CapabilityError, LockboxError, NotFoundError } from '../errors.js';
import { isValidName } from '../names.js';
import { SecretValue } from '../secret-value.js';
import type { DeleteOptions, SecretListing, SecretMetadata, SecretRecord, SecretRef, SecretVersion, SetOptions } from '../types.js';
import { isDestroyed, isEnabled, selectVersion, versionLabels, type SecretManagerApi } from './gcp-api.js';
import { lastSegment, toDate } from './gcp-client.js';
import { collision, documentId, identityAnnotations, identityOf, type GcpNaming } from './gcp-naming.js';
import { parseTenantDocument, serializeTenantDocument } from './tenant-document.js';

/** A tenant document as read: its entries and the version they come from. */
export interface TenantDocument { entries: Map<string, string>; version: string; createdAt?: Date }

/** Documents already read during one getMany, keyed by `id@version`. */
export type DocumentCache = Map<string, Promise<TenantDocument | null | undefined>>;

export class DocumentLayout {
  constructor(private readonly api: SecretManagerApi, private readonly naming: GcpNaming) {}

  /** The document's id for a scope (the global document without one). */
  id(scope?: string): string {
    return documentId(this.naming, scope);
  }

  /**
   * Reads one version of a tenant document: undefined when there is none, null when that version
   * is disabled or destroyed, TENANT_DOCUMENT_INVALID when it is not a JSON object.
   */
  async read(scope: string | undefined, versionId = 'latest', cache?: DocumentCache): Promise<TenantDocument | null | undefined> {
    const id = this.id(scope);
    const key = `${id}@${versionId}`;
    const cached = cache?.get(key);
    if (cached) return cached;
    const pending = this.api.access(id, versionId).then((accessed) => {
      if (accessed === 'missing') return undefined;
      if (accessed === 'unreadable') return null;
      return { entries: parseTenantDocument(accessed.data.toString('utf8'), this.api.providerId, id), version: accessed.version };
    });
    cache?.set(key, pending);
    return pending;
  }

  async get(ref: SecretRef, cache?: DocumentCache): Promise<SecretRecord | null> {
    const selected = await selectVersion(ref.version ?? 'current', async () => await this.api.versions(this.id(ref.scope)) ?? []);
    if (!selected) return null;
    const { versionId, labels } = selected;
    const document = await this.read(ref.scope, versionId, cache);
    const value = document?.entries.get(ref.name);
    if (!document || value === undefined) return null;
    const createdAt = new Date(0);
    return {
      provider: this.api.providerId,
      value: new SecretValue(value),
      metadata: { name: ref.name, scope: ref.scope, version: document.version, labels, createdAt, updatedAt: createdAt, tags: {} },
    };
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    if (opts.expiresAt || (opts.tags && Object.keys(opts.tags).length > 0)) {
      throw new CapabilityError(this.api.providerId, `${opts.expiresAt ? 'expiresAt' : 'tags'} in the document layout`,
        'one key of a tenant document has no expiry or labels of its own; use layout: per-secret (or auto) for such secrets');
    }
    const id = this.id(ref.scope);
    const entries = await this.#entriesForWrite(id, ref, true) ?? new Map<string, string>();
    entries.set(ref.name, value.reveal());
    return this.#write(id, ref, entries);
  }

  /** Removes the key (a new document version; older versions keep it). false when absent. */
  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<boolean> {
    const id = this.id(ref.scope);
    const entries = await this.#entriesForWrite(id, ref, false);
    if (!entries?.has(ref.name)) return false;
    if (opts.mode === 'destroy') {
      throw new CapabilityError(this.api.providerId, 'destroying one key of a tenant document',
        'older versions of the document still hold the value; destroy those document versions with `gcloud secrets versions destroy`');
    }
    entries.delete(ref.name);
    await this.#write(id, ref, entries);
    return true;
  }

  /** Versions of the document, when its latest version holds the name; undefined otherwise. */
  async versions(ref: SecretRef): Promise<SecretVersion[] | undefined> {
    const document = await this.read(ref.scope);
    if (!document?.entries.has(ref.name)) return undefined;
    const versions = await this.api.versions(this.id(ref.scope)) ?? [];
    const { current, previous } = versionLabels(versions);
    return versions.map((v) => {
      const version = lastSegment(v.name);
      const createdAt = toDate(v.createTime) ?? new Date(0);
      return {
        version,
        labels: [...(version === current ? ['current'] : []), ...(version === previous ? ['previous'] : [])],
        createdAt,
        ...(!isEnabled(v) && !isDestroyed(v) ? { deletedAt: createdAt } : {}),
        destroyed: isDestroyed(v),
      };
    }).sort((a, b) => Number(a.version) - Number(b.version));
  }

  async list(prefix: string, scope: string | undefined): Promise<SecretListing[]> {
    const document = await this.read(scope);
    if (!document) return [];
    return [...document.entries.keys()]
      .filter((name) => name.startsWith(prefix) && isValidName(name))
      .map((name) => ({ name, ...(scope === undefined ? {} : { scope }), version: document.version }));
  }

  /** The latest entries of a document about to be written (creating the secret when asked to). */
  async #entriesForWrite(id: string, ref: SecretRef, create: boolean): Promise<Map<string, string> | undefined> {
    const secret = await this.api.metadata(id);
    if (secret === undefined) {
      if (!create) return undefined;
      await this.api.create(id, identityAnnotations({ kind: 'document', scope: ref.scope }));
      return new Map();
    }
    const identity = secret === 'unreadable' ? undefined : identityOf(secret.annotations);
    if (identity && (identity.kind !== 'document' || identity.scope !== ref.scope)) throw collision(this.api.providerId, id, ref.name, ref.scope, identity);
    const latest = await this.read(ref.scope);
    if (latest === null) {
      throw new LockboxError('PROVIDER_ERROR', `provider "${this.api.providerId}": the latest version of tenant document "${id}" is disabled or destroyed, so "${ref.name}" cannot be written without losing the other keys`, {
        provider: this.api.providerId, hint: `enable it (gcloud secrets versions enable) or add a version with the full document`,
      });
    }
    return latest?.entries ?? new Map();
  }

  async #write(id: string, ref: SecretRef, entries: Map<string, string>): Promise<SecretMetadata> {
    const text = serializeTenantDocument(entries);
    const what = `tenant document "${id}" (with secret "${ref.name}")`;
    const added = await this.api.add(id, Buffer.from(text, 'utf8'), what);
    const createdAt = toDate(added.createTime) ?? new Date();
    return { name: ref.name, scope: ref.scope, version: lastSegment(added.name), labels: ['current'], createdAt, updatedAt: createdAt, tags: {} };
  }
}

/** NOT_FOUND for a name that is in no layout. */
export function notFound(providerId: string, ref: SecretRef): NotFoundError {
  return new NotFoundError(`"${ref.name}"${ref.scope === undefined ? '' : ` (tenant "${ref.scope}")`}`, { provider: providerId });
}

