/**
 * How the azure provider maps lockbox addresses to Azure Key Vault secret names, and back.
 *
 * Seed 002's layout: `{prefix}{tenant}-{name}` for a tenant's secret, `{prefix}{name}` for a
 * global one. Key Vault names allow only `[0-9a-zA-Z-]{1,127}` and compare case-insensitively,
 * so each of "/", "." and "_" in the tenant and the name becomes "-" (`stripe_api_key` of tenant
 * `acme` with prefix `dativo-` is `dativo-acme-stripe-api-key`, as in the seed's `az` examples).
 * The mapping is not injective (`db/password`, `db.password` and `DB_password` share a name), so
 * every version lockbox writes carries the original name and tenant in tags; reads and writes
 * compare them and refuse a name whose Key Vault secret holds another lockbox name
 * (NAME_UNMAPPABLE naming both), and list() reverse-maps through them.
 */
import { LockboxError } from '../errors.js';
import { assertValidName, assertValidScope } from '../names.js';
import type { SecretProperties } from '@azure/keyvault-secrets';
import type { SecretMetadata, SecretRef } from '../types.js';

/** Tag with the lockbox name a Key Vault secret version stores. */
export const NAME_TAG = 'lockbox-name';
/** Tag with the tenant (absent for global secrets). */
export const TENANT_TAG = 'lockbox-tenant';
/** Tag with the writer's clock in ms: orders versions created within the same second. */
export const WRITTEN_TAG = 'lockbox-written-ms';
/** lockbox tag that carries Key Vault's contentType. */
export const CONTENT_TYPE_TAG = 'content-type';
/** Longest Key Vault secret name. */
export const MAX_VAULT_NAME_LENGTH = 127;
/** Most tags Key Vault keeps on a secret version. */
export const MAX_VAULT_TAGS = 15;

const RESERVED_TAG_PREFIX = 'lockbox-';
let lastWritten = 0;

/** A lockbox address with its Key Vault name. */
export interface MappedName {
  /** The Key Vault secret name. */
  vaultName: string;
  name: string;
  scope?: string;
  /** `"name"` or `"name" (tenant "t")`, for messages. */
  label: string;
}

/** One part of a name in Key Vault's alphabet: "/", "." and "_" become "-". */
export function sanitizeNamePart(part: string): string {
  return part.replace(/[/._]/g, '-');
}

/** Maps scope + name to the Key Vault name; INVALID_NAME for bad names, NAME_UNMAPPABLE when too long. */
export function mapName(providerId: string, prefix: string, ref: Pick<SecretRef, 'name' | 'scope'>): MappedName {
  assertValidName(ref.name);
  if (ref.scope !== undefined) assertValidScope(ref.scope);
  const vaultName = prefix + (ref.scope === undefined ? '' : `${sanitizeNamePart(ref.scope)}-`) + sanitizeNamePart(ref.name);
  const label = describeName(ref.name, ref.scope);
  if (vaultName.length > MAX_VAULT_NAME_LENGTH) {
    throw new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": secret ${label} maps to a Key Vault name of ${vaultName.length} characters; Key Vault names are at most ${MAX_VAULT_NAME_LENGTH} characters ({prefix}{tenant}-{name})`, {
      provider: providerId, hint: 'use a shorter name, tenant or prefix',
    });
  }
  return { vaultName, name: ref.name, scope: ref.scope, label };
}

/** `"name"` or `"name" (tenant "t")`. */
export function describeName(name: string, scope?: string): string {
  return scope === undefined ? `"${name}"` : `"${name}" (tenant "${scope}")`;
}

/** The lockbox name + tenant recorded in a version's tags, if lockbox wrote it. */
export function ownerOf(tags: Record<string, string> | undefined): { name: string; scope?: string } | undefined {
  const name = tags?.[NAME_TAG];
  if (!name) return undefined;
  const scope = tags[TENANT_TAG];
  return { name, scope: scope ? scope : undefined };
}

/**
 * Refuses a Key Vault secret whose tags name another lockbox secret (NAME_UNMAPPABLE naming
 * both). Secrets without the tags (written by `az` or the portal, as in seed 002) are accepted.
 */
export function assertOwnedBy(providerId: string, target: MappedName, tags: Record<string, string> | undefined): void {
  const owner = ownerOf(tags);
  if (!owner || (owner.name === target.name && owner.scope === target.scope)) return;
  throw new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": secret ${target.label} maps to Key Vault name "${target.vaultName}", which already holds lockbox secret ${describeName(owner.name, owner.scope)}: Key Vault names allow only letters, digits and "-" and ignore case, so "/", "." and "_" all become "-"`, {
    provider: providerId, hint: 'rename one of the two secrets (or give them different tenants or providers)',
  });
}

/**
 * The Key Vault tags and contentType for a write: the caller's tags (the `content-type` tag
 * becomes contentType) plus the ownership tags. INVALID_INPUT for reserved or too many tags.
 */
export function toVaultTags(providerId: string, target: MappedName, tags: Record<string, string> = {}, writtenMs: number): { tags: Record<string, string>; contentType?: string } {
  const out: Record<string, string> = {};
  let contentType: string | undefined;
  for (const [key, value] of Object.entries(tags)) {
    if (key.toLowerCase().startsWith(RESERVED_TAG_PREFIX)) {
      throw new LockboxError('INVALID_INPUT', `provider "${providerId}": tag "${key}" is reserved (lockbox-* tags record the lockbox name)`, { provider: providerId });
    }
    if (key === CONTENT_TYPE_TAG) contentType = value;
    else out[key] = value;
  }
  out[NAME_TAG] = target.name;
  if (target.scope !== undefined) out[TENANT_TAG] = target.scope;
  out[WRITTEN_TAG] = String(writtenMs);
  if (Object.keys(out).length > MAX_VAULT_TAGS) {
    throw new LockboxError('INVALID_INPUT', `provider "${providerId}": secret ${target.label} would carry ${Object.keys(out).length} tags; Key Vault keeps at most ${MAX_VAULT_TAGS} per version, and lockbox uses up to 3 for the name, tenant and write time`, { provider: providerId });
  }
  return { tags: out, contentType };
}

/** lockbox tags of a Key Vault version: its tags without the lockbox-* ones, plus `content-type`. */
export function fromVaultTags(tags: Record<string, string> | undefined, contentType: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags ?? {})) if (!key.toLowerCase().startsWith(RESERVED_TAG_PREFIX)) out[key] = value;
  if (contentType) out[CONTENT_TYPE_TAG] = contentType;
  return out;
}

/**
 * The lockbox name a listed Key Vault secret has in `scope`, or undefined when it belongs to
 * another scope or prefix. Tagged secrets answer with their tags (and must sit at the name their
 * tags map to); untagged ones reverse the mapping as far as it goes (`-` stays `-`).
 */
export function listingName(prefix: string, vaultName: string, tags: Record<string, string> | undefined, scope?: string): string | undefined {
  const owner = ownerOf(tags);
  if (owner) {
    if (owner.scope !== scope) return undefined;
    const expected = prefix + (scope === undefined ? '' : `${sanitizeNamePart(scope)}-`) + sanitizeNamePart(owner.name);
    return expected.toLowerCase() === vaultName.toLowerCase() ? owner.name : undefined;
  }
  const head = (prefix + (scope === undefined ? '' : `${sanitizeNamePart(scope)}-`)).toLowerCase();
  if (!vaultName.toLowerCase().startsWith(head) || vaultName.length === head.length) return undefined;
  return vaultName.slice(head.length);
}

/** lockbox metadata of a Key Vault version read or written at `target`. */
export function metadataOf(target: MappedName, properties: SecretProperties, labels: string[]): SecretMetadata {
  const createdAt = properties.createdOn ?? new Date(0);
  return {
    name: target.name, scope: target.scope, version: properties.version ?? '', labels, createdAt,
    updatedAt: properties.updatedOn ?? createdAt, expiresAt: properties.expiresOn, tags: fromVaultTags(properties.tags, properties.contentType),
  };
}

/** The writer's clock in ms for WRITTEN_TAG, strictly increasing within this process. */
export function writtenNow(): number {
  lastWritten = Math.max(Date.now(), lastWritten + 1);
  return lastWritten;
}
