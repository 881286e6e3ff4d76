/**
 * The `aws` provider's tenant-document layout (seed 002, Option 1): one secret `{prefix}{tenant}`
 * whose SecretString is a JSON object of secret name → value (global secrets in
 * `{prefix}{global_document}`). Versions and labels are the document's. Writes read the current
 * document, change one key and put a new version (last writer wins: AWS has no compare-and-set).
 */
import { randomUUID } from 'node:crypto';
import { CapabilityError, NotFoundError } from '../errors.js';
import { assertValidName } from '../names.js';
import type { SecretValue } from '../secret-value.js';
import type { DeleteOptions, SecretListing, SecretMetadata, SecretRecord, SecretRef, SecretVersion, SetOptions } from '../types.js';
import type { SecretsManagerApi, ValueEntry } from './aws-api.js';
import { expiryOf, labelsOf, stagesFor, type AwsNaming, type VersionSelector } from './aws-naming.js';
import { isExpired, recordWith, textOf } from './aws-record.js';
import { parseTenantDocument, serializeTenantDocument } from './tenant-document.js';

const CURRENT: VersionSelector = { VersionStage: 'AWSCURRENT' };

export class DocumentLayout {
  /** `strict` (layout document): a tenant named like the global document is NAME_UNMAPPABLE; otherwise it has no document. */
  constructor(
    readonly providerId: string,
    readonly api: SecretsManagerApi,
    readonly naming: AwsNaming,
    readonly strict: boolean,
  ) {}

  async get(ref: SecretRef, selector: VersionSelector): Promise<SecretRecord | null> {
    const name = this.#name(ref);
    if (name === undefined) return null;
    const fetched = await this.api.getValue(name, selector);
    return fetched.kind === 'found' ? this.#pick(ref, name, fetched.entry) : null;
  }

  /** Current values, one BatchGetSecretValue per 20 documents. */
  async getMany(refs: SecretRef[]): Promise<(SecretRecord | null)[]> {
    if (refs.length === 0) return [];
    const names = refs.map((ref) => this.#name(ref));
    const fetched = await this.api.batchGet(names.filter((n): n is string => n !== undefined));
    return refs.map((ref, i) => {
      const name = names[i];
      const outcome = name === undefined ? undefined : fetched.get(name);
      return outcome?.kind === 'found' ? this.#pick(ref, name!, outcome.entry) : null;
    });
  }

  async has(ref: SecretRef): Promise<boolean> {
    return (await this.get(ref, CURRENT)) !== null;
  }

  async list(prefix: string, scope: string | undefined): Promise<SecretListing[]> {
    const name = this.#name({ name: 'x', scope });
    if (name === undefined) return [];
    const fetched = await this.api.getValue(name, CURRENT);
    if (fetched.kind !== 'found' || isExpired(fetched.entry)) return [];
    const entries = this.#parse(name, fetched.entry);
    return [...entries.keys()].filter((key) => key.startsWith(prefix) && isLockboxName(key)).map((key) => ({
      name: key, scope, version: fetched.entry.VersionId, updatedAt: fetched.entry.CreatedDate,
    }));
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions): Promise<SecretMetadata> {
    if (opts.expiresAt) {
      throw new CapabilityError(this.providerId, 'expiresAt in the document layout', 'an expiry applies to a whole AWS secret version; use layout per-secret or auto');
    }
    const name = this.naming.document(ref);
    const existing = await this.api.describe(name);
    if (existing) {
      this.naming.assertOwner(name, existing.Tags, 'document', ref);
      if (existing.DeletedDate) await this.api.restore(name);
    }
    const entries = existing ? await this.#current(name) : new Map<string, string>();
    entries.set(ref.name, value.reveal());
    const body = serializeTenantDocument(entries);
    const versionId = randomUUID();
    const stages = stagesFor({ pending: opts.pending }, versionId);
    let stagesNow: string[] | undefined = ['AWSCURRENT'];
    const tags = [...this.naming.ownerTags('document', ref.scope), ...Object.entries(opts.tags ?? {}).map(([Key, Value]) => ({ Key, Value }))];
    if (!existing && !opts.pending) {
      await this.api.create({ Name: name, SecretString: body, ClientRequestToken: versionId, Tags: tags });
    } else {
      if (!existing) await this.api.create({ Name: name, ClientRequestToken: randomUUID(), Tags: tags });
      else if (opts.tags && Object.keys(opts.tags).length > 0) await this.api.tag(name, opts.tags);
      stagesNow = (await this.api.put({ SecretId: name, SecretString: body, ClientRequestToken: versionId, VersionStages: stages })).VersionStages;
    }
    const now = new Date();
    return { name: ref.name, scope: ref.scope, version: versionId, labels: labelsOf(stagesNow ?? stages), createdAt: now, updatedAt: now, tags: { ...(opts.tags ?? {}) } };
  }

  /** Removes the key from the current document (a new document version). */
  async delete(ref: SecretRef, opts: DeleteOptions): Promise<void> {
    if (opts.mode === 'destroy') {
      throw new CapabilityError(this.providerId, 'destroy in the document layout', 'older versions of the tenant document keep the value: delete the whole document (`aws secretsmanager delete-secret --force-delete-without-recovery`) or use layout per-secret');
    }
    const name = this.naming.document(ref);
    const entries = await this.#current(name);
    if (!entries.delete(ref.name)) throw new NotFoundError(`${ref.scope ? `[${ref.scope}] ` : ''}${ref.name}`, { provider: this.providerId });
    await this.api.put({ SecretId: name, SecretString: serializeTenantDocument(entries), ClientRequestToken: randomUUID(), VersionStages: ['AWSCURRENT'] });
  }

  undelete(): Promise<never> {
    return Promise.reject(new CapabilityError(this.providerId, 'undelete in the document layout', 'the previous version of the tenant document still holds the value: read it with version "previous" and set it again'));
  }

  /** The document's versions (every write to any key of the tenant makes one). */
  async versions(ref: SecretRef): Promise<SecretVersion[]> {
    const name = this.#name(ref);
    const versions = name === undefined ? null : await this.api.listVersions(name);
    return (versions ?? [])
      .map((v) => ({ version: v.VersionId ?? '', labels: labelsOf(v.VersionStages), createdAt: v.CreatedDate ?? new Date(0), expiresAt: expiryOf(v.VersionStages), destroyed: false }))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  #name(ref: SecretRef): string | undefined {
    if (!this.strict && ref.scope !== undefined && ref.scope === this.naming.globalDocument) return undefined;
    return this.naming.document(ref);
  }

  async #current(name: string): Promise<Map<string, string>> {
    const fetched = await this.api.getValue(name, CURRENT);
    return fetched.kind === 'found' ? this.#parse(name, fetched.entry) : new Map();
  }

  #parse(name: string, entry: ValueEntry): Map<string, string> {
    return parseTenantDocument(textOf(this.providerId, entry, 'utf8') ?? '{}', this.providerId, name);
  }

  #pick(ref: SecretRef, name: string, entry: ValueEntry): SecretRecord | null {
    if (isExpired(entry)) return null;
    const value = this.#parse(name, entry).get(ref.name);
    return value === undefined ? null : recordWith(this.providerId, ref, entry, value);
  }
}

function isLockboxName(key: string): boolean {
  try {
    assertValidName(key);
    return true;
  } catch {
    return false;
  }
}
