/**
 * How lockbox's addresses map to KV v2 paths and values, and Vault's versions to lockbox's.
 *
 * - per-secret: tenant secret `{tenant}/{name}`, global secret `{name}` (under {mount}/data/).
 *   The value is stored as `{"value": "<text>"}` (plus `lockbox_expires_at` when it expires);
 *   data written by other tools with other keys reads as the JSON text of the whole map.
 *   Because `acme/db` (global) and tenant `acme`'s `db` share a path, lockbox marks each path it
 *   writes with custom_metadata `lockbox_owner` (`global` or `tenant/{tenant}`) and refuses a
 *   write that would take over another owner's path (NAME_UNMAPPABLE); reads of a path owned by
 *   another address answer "not found".
 * - document: one KV entry per tenant at `{tenant}` (global: `{global_document}`), each data key
 *   a secret (seed 002). Lockbox marks documents it writes with `lockbox_kind: document`.
 * - versions: current = Vault's current_version; previous = the highest older version that is
 *   neither deleted nor destroyed; Vault has no pending stage.
 */
import { LockboxError } from '../errors.js';
import type { SecretVersion, VersionLabel } from '../types.js';
import type { KvMetadata, KvVersionInfo } from './vault-kv.js';

/** The data key that holds a per-secret value. */
export const VALUE_KEY = 'value';
/** The data key that holds a per-secret version's expiry (ISO 8601). */
export const EXPIRES_KEY = 'lockbox_expires_at';
/** custom_metadata key naming the lockbox address that owns a path. */
export const OWNER_KEY = 'lockbox_owner';
/** custom_metadata key marking a tenant document. */
export const KIND_KEY = 'lockbox_kind';

/** A parsed version selector. */
export type VersionChoice = 'current' | 'previous' | 'pending' | number;

/** The per-secret path of a secret (under {mount}/data/). */
export function secretPath(scope: string | undefined, name: string): string {
  return scope === undefined ? name : `${scope}/${name}`;
}

/** The owner mark of an address. */
export function ownerOf(scope: string | undefined): string {
  return scope === undefined ? 'global' : `tenant/${scope}`;
}

/** The document path of a tenant; NAME_UNMAPPABLE for a tenant named like the global document. */
export function documentPath(providerId: string, scope: string | undefined, globalDocument: string): string {
  if (scope === undefined) return globalDocument;
  if (scope === globalDocument) {
    throw new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": tenant "${scope}" cannot be mapped: rule: in the document layout the tenant "${globalDocument}" is the document of global secrets (global_document)`, {
      provider: providerId, hint: 'rename the tenant, or set global_document to another name',
    });
  }
  return scope;
}

/** The data map lockbox writes for one per-secret version. */
export function encodeSecret(value: string, expiresAt?: Date): Record<string, string> {
  return expiresAt ? { [VALUE_KEY]: value, [EXPIRES_KEY]: expiresAt.toISOString() } : { [VALUE_KEY]: value };
}

/** The value of a per-secret version: `value` when that is the only key, else the JSON of the map. */
export function decodeSecret(data: unknown): { value: string; expiresAt?: Date } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { value: JSON.stringify(data) };
  const { [EXPIRES_KEY]: expires, ...rest } = data as Record<string, unknown>;
  const expiresAt = typeof expires === 'string' && !Number.isNaN(Date.parse(expires)) ? new Date(expires) : undefined;
  const keys = Object.keys(rest);
  const value = keys.length === 1 && keys[0] === VALUE_KEY && typeof rest[VALUE_KEY] === 'string' ? rest[VALUE_KEY] : JSON.stringify(rest);
  return { value, expiresAt };
}

/** Tags from custom_metadata (lockbox's own marks removed). */
export function tagsOf(customMetadata: Record<string, string> | null): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(customMetadata ?? {})) if (key !== OWNER_KEY && key !== KIND_KEY) tags[key] = value;
  return tags;
}

/** Parses `@version`: a positive integer or a label; INVALID_INPUT otherwise. */
export function parseVersion(providerId: string, selector: string | undefined): VersionChoice {
  if (selector === undefined || selector === 'current' || selector === 'latest') return 'current';
  if (selector === 'previous' || selector === 'pending') return selector;
  if (/^[1-9][0-9]{0,9}$/.test(selector)) return Number(selector);
  throw new LockboxError('INVALID_INPUT', `provider "${providerId}": version "${selector.slice(0, 40)}" is neither a version number nor current|previous|pending`, { provider: providerId });
}

/** True when a version is soft-deleted (its deletion time has passed) or destroyed. */
export function isGone(info: KvVersionInfo, now = Date.now()): boolean {
  return info.destroyed || (info.deletionTime !== '' && Date.parse(info.deletionTime) <= now);
}

/** The highest version below current_version that is neither deleted nor destroyed. */
export function previousVersion(meta: KvMetadata): number | undefined {
  let best: number | undefined;
  for (const [number, info] of meta.versions) {
    if (number < meta.currentVersion && !isGone(info) && (best === undefined || number > best)) best = number;
  }
  return best;
}

/** The labels a version carries. */
export function labelsOf(meta: KvMetadata, version: number): VersionLabel[] {
  if (version === meta.currentVersion) return ['current'];
  return version === previousVersion(meta) ? ['previous'] : [];
}

/** Vault's versions as lockbox's, oldest first. */
export function versionsOf(meta: KvMetadata): SecretVersion[] {
  return [...meta.versions.entries()].sort(([a], [b]) => a - b).map(([number, info]) => ({
    version: String(number),
    labels: labelsOf(meta, number),
    createdAt: new Date(info.createdTime),
    deletedAt: info.deletionTime !== '' && !info.destroyed && Date.parse(info.deletionTime) <= Date.now() ? new Date(info.deletionTime) : undefined,
    destroyed: info.destroyed,
  }));
}

/** NAME_UNMAPPABLE: the per-secret path of `name` already belongs to another address. */
export function pathTakenError(providerId: string, scope: string | undefined, name: string, path: string, holder: string): LockboxError {
  const who = scope === undefined ? 'global secret' : `secret of tenant "${scope}"`;
  return new LockboxError('NAME_UNMAPPABLE', `provider "${providerId}": ${who} "${name}" cannot be mapped: its path ${path} already holds ${holder}; rule: per-secret paths are {tenant}/{name} for tenants and {name} for global secrets, so a global name may not equal "{tenant}/{name}" or a tenant document`, {
    provider: providerId, hint: 'choose another name, or use layout: document for this provider',
  });
}

/** Describes an owner mark for pathTakenError. */
export function describeHolder(customMetadata: Record<string, string> | null): string {
  if (customMetadata?.[KIND_KEY] === 'document') return 'a tenant document';
  const owner = customMetadata?.[OWNER_KEY] ?? '';
  return owner === 'global' ? 'a global secret' : `a secret of tenant "${owner.replace(/^tenant\//, '')}"`;
}
