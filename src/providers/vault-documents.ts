/**
 * The document layout of seed 002 on Vault: one KV v2 entry per tenant (`{mount}/data/{tenant}`,
 * global secrets in `{mount}/data/{global_document}`) whose data keys are the secrets. A write
 * is read-modify-write with check-and-set (retried on a lost race, since it only changes its own
 * key); versions are the document's versions.
 */
import { CapabilityError, LockboxError, NotFoundError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import type { SecretMetadata, SecretRecord, SecretRef, SecretVersion } from '../types.js';
import { parseTenantDocument } from './tenant-document.js';
import type { KvMetadata, KvReadResult, KvV2 } from './vault-kv.js';
import { KIND_KEY, OWNER_KEY, documentPath, isGone, labelsOf, ownerOf, previousVersion, versionsOf, type VersionChoice } from './vault-layout.js';

/** Attempts of a document write that loses check-and-set races. */
const DOCUMENT_WRITE_ATTEMPTS = 3;

interface DocumentVersion { path: string; version: number; data: Record<string, unknown>; entries: Map<string, string>; createdTime: string; labels: string[] }

export class TenantDocuments {
  constructor(private readonly providerId: string, private readonly kv: KvV2, private readonly globalDocument: string) {}

  /** Reads the secrets of `refs` that share one scope and version choice with one document read. */
  async getGroup(refs: SecretRef[], choice: VersionChoice): Promise<(SecretRecord | null)[]> {
    const doc = await this.#read(refs[0]?.scope, choice);
    return refs.map((ref) => {
      const value = doc?.entries.get(ref.name);
      if (!doc || value === undefined) return null;
      const at = new Date(doc.createdTime);
      const metadata: SecretMetadata = { name: ref.name, scope: ref.scope, version: String(doc.version), labels: doc.labels, createdAt: at, updatedAt: at, tags: {} };
      return { provider: this.providerId, value: new SecretValue(value), metadata };
    });
  }

  /** Secret names in the current document of `scope`. */
  async names(scope: string | undefined): Promise<string[]> {
    const doc = await this.#read(scope, 'current');
    return doc ? [...doc.entries.keys()] : [];
  }

  async set(ref: SecretRef, value: SecretValue, expiresAt?: Date): Promise<SecretMetadata> {
    if (expiresAt) throw new CapabilityError(this.providerId, 'expiresAt in the document layout', 'use layout: per-secret (or auto) for secrets that expire');
    const written = await this.#update(ref.scope, (data) => { data[ref.name] = value.reveal(); });
    const at = new Date(written.createdTime);
    return { name: ref.name, scope: ref.scope, version: String(written.version), labels: ['current'], createdAt: at, updatedAt: at, tags: {} };
  }

  /** Removes the secret from its document (a new document version); NOT_FOUND when absent. */
  async delete(ref: SecretRef): Promise<void> {
    await this.#update(ref.scope, (data) => {
      if (!Object.prototype.hasOwnProperty.call(data, ref.name)) throw new NotFoundError(ref.name, { provider: this.providerId });
      delete data[ref.name];
    });
  }

  /** Restores the secret's value from the newest older document version that holds it. */
  async undelete(ref: SecretRef): Promise<void> {
    const path = documentPath(this.providerId, ref.scope, this.globalDocument);
    const meta = await this.kv.metadata(path);
    const candidates = meta ? [...meta.versions.entries()].filter(([, info]) => !isGone(info)).map(([n]) => n).sort((a, b) => b - a) : [];
    for (const version of candidates) {
      const read = await this.kv.read(path, version);
      if (read.status !== 'found') continue;
      const entries = this.#entries(read, path);
      const value = entries.get(ref.name);
      if (value === undefined) continue;
      if (version === meta!.currentVersion) return; // not deleted
      await this.#update(ref.scope, (data) => { data[ref.name] = value; });
      return;
    }
    throw new NotFoundError(ref.name, { provider: this.providerId });
  }

  /** The versions of the secret's document. */
  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    const meta = await this.kv.metadata(documentPath(this.providerId, ref.scope, this.globalDocument));
    return meta ? versionsOf(meta) : [];
  }

  async #read(scope: string | undefined, choice: VersionChoice): Promise<DocumentVersion | null> {
    if (choice === 'pending') return null;
    const path = documentPath(this.providerId, scope, this.globalDocument);
    let meta: KvMetadata | null = null;
    let read: KvReadResult;
    if (choice === 'current') {
      read = await this.kv.read(path);
    } else if (choice === 'previous') {
      meta = await this.kv.metadata(path);
      const previous = meta ? previousVersion(meta) : undefined;
      if (previous === undefined) return null;
      read = await this.kv.read(path, previous);
    } else {
      [meta, read] = await Promise.all([this.kv.metadata(path), this.kv.read(path, choice)]);
    }
    if (read.status !== 'found') return null;
    const labels = meta ? labelsOf(meta, read.version) : ['current'];
    return { path, version: read.version, data: read.data as Record<string, unknown>, entries: this.#entries(read, path), createdTime: read.info.createdTime, labels };
  }

  /** Read-modify-write of the current document with check-and-set. */
  async #update(scope: string | undefined, change: (data: Record<string, unknown>) => void): Promise<{ version: number; createdTime: string }> {
    const path = documentPath(this.providerId, scope, this.globalDocument);
    for (let attempt = 1; ; attempt++) {
      const read = await this.kv.read(path);
      const custom = read.status === 'missing' ? null : read.customMetadata;
      if (custom?.[OWNER_KEY] !== undefined && custom[KIND_KEY] !== 'document') {
        throw new LockboxError('NAME_UNMAPPABLE', `provider "${this.providerId}": the document path ${this.kv.mount}/data/${path} holds a per-secret secret, not a tenant document; rule: a tenant document and a secret cannot share a path`, {
          provider: this.providerId, hint: 'use layout: per-secret, or move that secret',
        });
      }
      if (read.status === 'found') this.#entries(read, path); // refuses a document that is not a JSON object
      const data = read.status === 'found' ? { ...(read.data as Record<string, unknown>) } : {};
      change(data);
      const cas = read.status === 'missing' ? 0 : read.version;
      try {
        const written = await this.kv.write(path, data, cas);
        if (custom?.[KIND_KEY] !== 'document') await this.kv.writeCustomMetadata(path, { ...(custom ?? {}), [OWNER_KEY]: ownerOf(scope), [KIND_KEY]: 'document' });
        return { version: written.version, createdTime: written.info.createdTime };
      } catch (error) {
        if (!(error instanceof LockboxError) || error.code !== 'CONFLICT' || attempt >= DOCUMENT_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  #entries(read: Extract<KvReadResult, { status: 'found' }>, path: string): Map<string, string> {
    return parseTenantDocument(JSON.stringify(read.data), this.providerId, `${this.kv.mount}/data/${path}`);
  }
}
