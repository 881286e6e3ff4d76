/**
 * The per-secret layout of the gcp provider (seed 002 §5 option 2): one Secret Manager secret per
 * lockbox secret, `{prefix}{tenant}-{name}` (see gcp-naming.ts). Versions are Secret Manager's
 * numbered versions; `current` is `latest`, `previous` the highest enabled version below it.
 * Soft delete disables the enabled versions (undelete enables them again), destroy deletes the
 * secret or destroys one version. Tags are the secret's labels; `expiresAt` is an annotation
 * lockbox enforces on read.
 *
 * Methods answer `undefined` when no per-secret secret exists for the name (so the `auto` layout
 * can try the tenant document) and `null` when it exists but the version asked for cannot be read.
 */
import { LockboxError, NotFoundError } from '../errors.js';
import { isValidName } from '../names.js';
import { SecretValue } from '../secret-value.js';
import { sameTags } from '../tags.js';
import type { DeleteOptions, SecretListing, SecretMetadata, SecretRecord, SecretRef, SecretVersion, SetOptions } from '../types.js';
import { VERSION_NUMBER, isDestroyed, isEnabled, selectVersion, versionLabels, type GcpSecret, type SecretManagerApi } from './gcp-api.js';
import { GRPC, grpcCodeOf, lastSegment, toDate } from './gcp-client.js';
import {
  ANNOTATION_DELETED_AT, ANNOTATION_DELETED_VERSIONS, collision, expiryAnnotation, identityAnnotations, identityOf, idPart,
  isIdentity, perSecretId, reverseUnannotatedId, type GcpNaming,
} from './gcp-naming.js';

const EPOCH = new Date(0);

export class PerSecretLayout {
  constructor(private readonly api: SecretManagerApi, private readonly naming: GcpNaming) {}

  async get(ref: SecretRef): Promise<SecretRecord | null | undefined> {
    const id = perSecretId(this.naming, ref.name, ref.scope);
    const selected = await selectVersion(ref.version ?? 'current', () => this.api.versions(id));
    if (selected === undefined || selected === null) return selected;
    const { versionId, labels } = selected;
    const [accessed, secret] = await Promise.all([this.api.access(id, versionId), this.api.metadata(id)]);
    if (secret === undefined) return undefined;
    if (secret !== 'unreadable' && !this.#owns(secret, id, ref)) return undefined;
    if (accessed === 'missing') return secret === 'unreadable' ? undefined : null;
    if (accessed === 'unreadable') return null;
    const known = secret === 'unreadable' ? undefined : secret;
    const expiresAt = expiryOf(known, accessed.version);
    if (expiresAt && expiresAt.getTime() <= Date.now()) return null;
    const createdAt = toDate(known?.createTime) ?? EPOCH;
    return {
      provider: this.api.providerId,
      value: new SecretValue(accessed.data.toString('utf8')),
      metadata: {
        name: ref.name, scope: ref.scope, version: accessed.version, labels, createdAt, updatedAt: createdAt,
        ...(expiresAt ? { expiresAt } : {}), tags: { ...(known?.labels ?? {}) },
      },
    };
  }

  async set(ref: SecretRef, value: SecretValue, opts: SetOptions = {}): Promise<SecretMetadata> {
    const id = perSecretId(this.naming, ref.name, ref.scope);
    const data = Buffer.from(value.reveal(), 'utf8');
    const labels = opts.tags === undefined ? undefined : toLabels(this.api.providerId, opts.tags);
    const needsMetadata = labels !== undefined || opts.expiresAt !== undefined;
    let secret = await this.api.metadata(id, needsMetadata);
    if (secret === undefined) {
      secret = await this.#create(id, ref, labels, needsMetadata);
    } else if (secret !== 'unreadable') {
      this.#assertOwns(secret, id, ref);
      const annotations = { ...(secret.annotations ?? {}) };
      const wasDeleted = ANNOTATION_DELETED_AT in annotations;
      delete annotations[ANNOTATION_DELETED_AT];
      delete annotations[ANNOTATION_DELETED_VERSIONS];
      if (wasDeleted || (labels !== undefined && !sameTags(labels, secret.labels ?? {}))) {
        secret = await this.api.update(secret, { annotations, ...(labels ? { labels } : {}) });
      }
    }
    const what = `the value of secret "${ref.name}"`;
    const added = secret === 'unreadable'
      ? await this.api.add(id, data, what).catch(async (error: unknown) => {
        if (grpcCodeOf(error) !== GRPC.NOT_FOUND) throw error;
        await this.#create(id, ref, labels, false);
        return this.api.add(id, data, what);
      })
      : await this.api.add(id, data, what);
    const version = lastSegment(added.name);
    if (opts.expiresAt && secret !== 'unreadable') {
      const annotations = { ...(secret.annotations ?? {}), [expiryAnnotation(version)]: opts.expiresAt.toISOString() };
      secret = await this.api.update(secret, { annotations });
    }
    const createdAt = toDate(added.createTime) ?? new Date();
    return {
      name: ref.name, scope: ref.scope, version, labels: ['current'], createdAt, updatedAt: createdAt,
      ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
      tags: { ...(secret === 'unreadable' ? {} : secret.labels ?? {}) },
    };
  }

  /** false when no per-secret secret holds the name. */
  async delete(ref: SecretRef, opts: DeleteOptions = {}): Promise<boolean> {
    const id = perSecretId(this.naming, ref.name, ref.scope);
    const secret = await this.api.metadata(id, true);
    if (secret === undefined || secret === 'unreadable' || !this.#owns(secret, id, ref)) return false;
    if (opts.mode === 'destroy') {
      if (opts.version === undefined) return this.api.deleteSecret(id, secret.etag);
      if (!VERSION_NUMBER.test(opts.version)) throw new NotFoundError(`${ref.name}@${opts.version}`, { provider: this.api.providerId });
      const versions = await this.api.versions(id) ?? [];
      if (!versions.some((v) => lastSegment(v.name) === opts.version)) throw new NotFoundError(`${ref.name}@${opts.version}`, { provider: this.api.providerId });
      if (!versions.some((v) => lastSegment(v.name) === opts.version && isDestroyed(v))) await this.api.changeState(id, opts.version, 'destroy');
      return true;
    }
    const enabled = (await this.api.versions(id) ?? []).filter(isEnabled).map((v) => lastSegment(v.name));
    for (const version of enabled) await this.api.changeState(id, version, 'disable');
    const annotations = secret.annotations ?? {};
    const earlier = (annotations[ANNOTATION_DELETED_VERSIONS] ?? '').split(',').filter(Boolean);
    await this.api.update(secret, {
      annotations: {
        ...annotations,
        [ANNOTATION_DELETED_AT]: annotations[ANNOTATION_DELETED_AT] ?? new Date().toISOString(),
        [ANNOTATION_DELETED_VERSIONS]: [...new Set([...earlier, ...enabled])].join(','),
      },
    });
    return true;
  }

  /** Enables the versions a soft delete disabled; false when no per-secret secret holds the name. */
  async undelete(ref: SecretRef): Promise<boolean> {
    const id = perSecretId(this.naming, ref.name, ref.scope);
    const secret = await this.api.metadata(id, true);
    if (secret === undefined || secret === 'unreadable' || !this.#owns(secret, id, ref)) return false;
    const annotations = { ...(secret.annotations ?? {}) };
    if (!(ANNOTATION_DELETED_AT in annotations)) return true;
    const versions = await this.api.versions(id) ?? [];
    for (const version of (annotations[ANNOTATION_DELETED_VERSIONS] ?? '').split(',').filter(Boolean)) {
      const found = versions.find((v) => lastSegment(v.name) === version);
      if (found && !isDestroyed(found) && !isEnabled(found)) await this.api.changeState(id, version, 'enable');
    }
    delete annotations[ANNOTATION_DELETED_AT];
    delete annotations[ANNOTATION_DELETED_VERSIONS];
    await this.api.update(secret, { annotations });
    return true;
  }

  async versions(ref: SecretRef): Promise<SecretVersion[] | undefined> {
    const id = perSecretId(this.naming, ref.name, ref.scope);
    const [versions, secret] = await Promise.all([this.api.versions(id), this.api.metadata(id)]);
    if (!versions || secret === undefined) return undefined;
    const known = secret === 'unreadable' ? undefined : secret;
    if (known && !this.#owns(known, id, ref)) return undefined;
    const { current, previous } = versionLabels(versions);
    const deletedAt = known?.annotations?.[ANNOTATION_DELETED_AT];
    const softDeleted = new Set((known?.annotations?.[ANNOTATION_DELETED_VERSIONS] ?? '').split(','));
    return versions.map((v) => {
      const version = lastSegment(v.name);
      const createdAt = toDate(v.createTime) ?? EPOCH;
      const disabled = !isEnabled(v) && !isDestroyed(v);
      const expiresAt = expiryOf(known, version);
      return {
        version,
        labels: [...(version === current ? ['current'] : []), ...(version === previous ? ['previous'] : [])],
        createdAt,
        ...(expiresAt ? { expiresAt } : {}),
        ...(disabled ? { deletedAt: softDeleted.has(version) && deletedAt ? new Date(deletedAt) : createdAt } : {}),
        destroyed: isDestroyed(v),
      };
    }).sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** Lockbox names of the per-secret secrets of `scope` starting with `prefix`. */
  async list(prefix: string, scope: string | undefined, skipIds: ReadonlySet<string>): Promise<SecretListing[]> {
    const idPrefix = `${this.naming.prefix}${scope === undefined ? '' : `${idPart(scope)}-`}${idPart(prefix)}`;
    const secrets = await this.api.secrets(idPrefix ? `name:"${idPrefix}"` : undefined);
    const listings = new Map<string, SecretListing>();
    for (const secret of secrets) {
      const id = lastSegment(secret.name);
      const annotations = secret.annotations ?? {};
      if (ANNOTATION_DELETED_AT in annotations) continue;
      const identity = identityOf(annotations);
      let name: string | undefined;
      if (identity?.kind === 'secret') name = identity.scope === scope ? identity.name : undefined;
      else if (identity === undefined && !skipIds.has(id)) name = reverseUnannotatedId(this.naming, id, scope);
      if (name === undefined || !name.startsWith(prefix) || !isValidName(name)) continue;
      listings.set(name, { name, ...(scope === undefined ? {} : { scope }), tags: { ...(secret.labels ?? {}) } });
    }
    return [...listings.values()];
  }

  /** Creates the secret with its identity (or, after a concurrent create, checks the winner's). */
  async #create(id: string, ref: SecretRef, labels: Record<string, string> | undefined, needsMetadata: boolean): Promise<GcpSecret | 'unreadable'> {
    const created = await this.api.create(id, identityAnnotations({ kind: 'secret', name: ref.name, scope: ref.scope }), labels);
    if (created) return created;
    const existing = await this.api.metadata(id, needsMetadata);
    if (existing === undefined) throw new NotFoundError(ref.name, { provider: this.api.providerId });
    if (existing !== 'unreadable') this.#assertOwns(existing, id, ref);
    return existing;
  }

  /** False when the secret at `id` is a tenant document; throws NAME_UNMAPPABLE for another name. */
  #owns(secret: GcpSecret, id: string, ref: SecretRef): boolean {
    const identity = identityOf(secret.annotations);
    if (identity === undefined || isIdentity(identity, ref.name, ref.scope)) return true;
    if (identity.kind === 'document') return false;
    throw collision(this.api.providerId, id, ref.name, ref.scope, identity);
  }

  #assertOwns(secret: GcpSecret, id: string, ref: SecretRef): void {
    const identity = identityOf(secret.annotations);
    if (identity !== undefined && !isIdentity(identity, ref.name, ref.scope)) throw collision(this.api.providerId, id, ref.name, ref.scope, identity);
  }
}

/** Tags as Secret Manager labels; INVALID_INPUT naming the label rule a tag breaks. */
export function toLabels(providerId: string, tags: Record<string, string>): Record<string, string> {
  const entries = Object.entries(tags);
  if (entries.length > 64) throw badTag(providerId, `${entries.length} tags`, 'a secret has at most 64 labels');
  for (const [key, value] of entries) {
    if (!/^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u.test(key)) {
      throw badTag(providerId, `tag key "${key}"`, 'label keys start with a lowercase letter and use lowercase letters, digits, "_" and "-" (at most 63)');
    }
    if (!/^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u.test(value)) {
      throw badTag(providerId, `the value of tag "${key}"`, 'label values use lowercase letters, digits, "_" and "-" (at most 63)');
    }
  }
  return { ...tags };
}

function badTag(providerId: string, what: string, rule: string): LockboxError {
  return new LockboxError('INVALID_INPUT', `provider "${providerId}": ${what} cannot be a Google Secret Manager label: ${rule}`, {
    provider: providerId, hint: 'gcp stores tags as secret labels',
  });
}

function expiryOf(secret: GcpSecret | undefined, version: string): Date | undefined {
  const text = secret?.annotations?.[expiryAnnotation(version)];
  if (text === undefined) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}


