/**
 * The state and operations of the Key Vault emulator (test/emulators/azure-key-vault.ts): secrets
 * with versions, soft delete / recover / purge, and the documented JSON shapes (SecretBundle,
 * DeletedSecretBundle, SecretItem, KeyVaultError). Pure data in, {status, body} out — the HTTP
 * side lives in azure-key-vault.ts.
 *
 * Behaviour follows the REST reference (api-version 7.x / 2025-07-01): names match
 * ^[0-9a-zA-Z-]{1,127}$ and compare case-insensitively; a version id is 32 hex digits; the
 * versionless GET answers the newest version and refuses a disabled one with 403
 * (innererror SecretDisabled); expired secrets are still returned (exp is informational);
 * values longer than 25,600 characters are 400 BadParameter (innererror SecretTooLarge);
 * writing a soft-deleted name is 409 Conflict (innererror ObjectIsDeletedButRecoverable);
 * lists page with `maxresults` (1–25, default 25) and an opaque `$skiptoken` in `nextLink`;
 * versions are listed in the order of their ids (not by creation, as the service does).
 */
import { randomBytes } from 'node:crypto';

/** What an operation answers. */
export interface KvResponse {
  status: number;
  body?: unknown;
}

interface Attributes { enabled: boolean; created: number; updated: number; exp?: number; nbf?: number }
interface StoredVersion { id: string; value: string; contentType?: string; tags?: Record<string, string>; attributes: Attributes }
interface StoredSecret {
  name: string;
  versions: StoredVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
  /** Reads left before a delete or recover shows (the service finishes both asynchronously). */
  settling?: number;
}

const NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_VALUE_CHARS = 25_600;
const MAX_TAGS = 15;
const PAGE_MAX = 25;
const RETENTION_DAYS = 90;

export class KeyVaultStore {
  readonly #secrets = new Map<string, StoredSecret>();

  /** @param transitionReads reads for which a delete (GET /deletedsecrets/{name}) or a recover (GET /secrets/{name}) still answers 404 */
  constructor(private readonly transitionReads = 0) {}

  /** Seconds since the epoch, as the service stamps created/updated. */
  now(): number {
    return Math.floor(Date.now() / 1000);
  }

  /** Names (as first written) of live and soft-deleted secrets, for test assertions. */
  names(): { live: string[]; deleted: string[] } {
    const all = [...this.#secrets.values()];
    return { live: all.filter((s) => !s.deleted).map((s) => s.name), deleted: all.filter((s) => s.deleted).map((s) => s.name) };
  }

  setSecret(base: string, name: string, body: unknown): KvResponse {
    if (!NAME.test(name)) return badParameter(`Secret name "${name}" is invalid: only 0-9, a-z, A-Z and "-", 1 to 127 characters.`);
    const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof input.value !== 'string') return badParameter('The parameter value must be a string and is required.');
    if (input.value.length > MAX_VALUE_CHARS) {
      return kvError(400, 'BadParameter', `Secret is beyond the maximum permitted length of ${MAX_VALUE_CHARS} characters.`, 'SecretTooLarge');
    }
    const invalid = checkTags(input.tags) ?? checkContentType(input.contentType);
    if (invalid) return invalid;
    const existing = this.#secrets.get(name.toLowerCase());
    if (existing?.deleted) {
      return kvError(409, 'Conflict', `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`, 'ObjectIsDeletedButRecoverable');
    }
    const attrs = (input.attributes ?? {}) as Record<string, unknown>;
    const now = this.now();
    const version: StoredVersion = {
      id: randomBytes(16).toString('hex'),
      value: input.value,
      contentType: input.contentType as string | undefined,
      tags: input.tags as Record<string, string> | undefined,
      attributes: { enabled: attrs.enabled !== false, created: now, updated: now, exp: numberOrUndefined(attrs.exp), nbf: numberOrUndefined(attrs.nbf) },
    };
    const secret = existing ?? { name, versions: [] };
    secret.versions.push(version);
    this.#secrets.set(name.toLowerCase(), secret);
    return { status: 200, body: bundle(base, secret, version, true) };
  }

  getSecret(base: string, name: string, versionId: string): KvResponse {
    const secret = this.#live(name);
    const version = secret && (versionId ? secret.versions.find((v) => v.id === versionId.toLowerCase()) : secret.versions.at(-1));
    if (!secret || !version || settle(secret)) return notFound(versionId ? `${name}/${versionId}` : name);
    if (!version.attributes.enabled) return kvError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
    return { status: 200, body: bundle(base, secret, version, true) };
  }

  updateSecret(base: string, name: string, versionId: string, body: unknown): KvResponse {
    const secret = this.#live(name);
    const version = secret && (versionId ? secret.versions.find((v) => v.id === versionId.toLowerCase()) : secret.versions.at(-1));
    if (!secret || !version) return notFound(versionId ? `${name}/${versionId}` : name);
    const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const invalid = checkTags(input.tags) ?? checkContentType(input.contentType);
    if (invalid) return invalid;
    const attrs = (input.attributes ?? {}) as Record<string, unknown>;
    if (typeof attrs.enabled === 'boolean') version.attributes.enabled = attrs.enabled;
    if ('exp' in attrs) version.attributes.exp = numberOrUndefined(attrs.exp);
    if ('nbf' in attrs) version.attributes.nbf = numberOrUndefined(attrs.nbf);
    if ('contentType' in input) version.contentType = input.contentType as string | undefined;
    if ('tags' in input) version.tags = input.tags as Record<string, string> | undefined;
    version.attributes.updated = this.now();
    return { status: 200, body: bundle(base, secret, version, false) };
  }

  listSecrets(base: string, query: URLSearchParams): KvResponse {
    const live = [...this.#secrets.values()].filter((s) => !s.deleted).sort(byName);
    return page(base, '/secrets', query, live.map((s) => ({ key: s.name.toLowerCase(), item: item(base, s, s.versions.at(-1)!, false) })));
  }

  listVersions(base: string, name: string, query: URLSearchParams): KvResponse {
    const secret = this.#live(name);
    const versions = secret ? [...secret.versions].sort((a, b) => (a.id < b.id ? -1 : 1)) : [];
    return page(base, `/secrets/${secret?.name ?? name}/versions`, query, versions.map((v) => ({ key: v.id, item: item(base, secret!, v, true) })));
  }

  listDeleted(base: string, query: URLSearchParams): KvResponse {
    const deleted = [...this.#secrets.values()].filter((s) => s.deleted).sort(byName);
    return page(base, '/deletedsecrets', query, deleted.map((s) => ({ key: s.name.toLowerCase(), item: { ...item(base, s, s.versions.at(-1)!, false), ...deletion(base, s) } })));
  }

  deleteSecret(base: string, name: string): KvResponse {
    const secret = this.#live(name);
    if (!secret) return notFound(name);
    const now = this.now();
    secret.deleted = { deletedDate: now, scheduledPurgeDate: now + RETENTION_DAYS * 86_400 };
    secret.settling = this.transitionReads;
    return { status: 200, body: deletedBundle(base, secret) };
  }

  getDeleted(base: string, name: string): KvResponse {
    const secret = this.#secrets.get(name.toLowerCase());
    if (!secret?.deleted || settle(secret)) return kvError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    return { status: 200, body: deletedBundle(base, secret) };
  }

  recoverDeleted(base: string, name: string): KvResponse {
    const secret = this.#secrets.get(name.toLowerCase());
    if (!secret?.deleted) return kvError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    secret.deleted = undefined;
    secret.settling = this.transitionReads;
    return { status: 200, body: bundle(base, secret, secret.versions.at(-1)!, false) };
  }

  purgeDeleted(name: string): KvResponse {
    const secret = this.#secrets.get(name.toLowerCase());
    if (!secret?.deleted) return kvError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    this.#secrets.delete(name.toLowerCase());
    return { status: 204 };
  }

  #live(name: string): StoredSecret | undefined {
    const secret = this.#secrets.get(name.toLowerCase());
    return secret && !secret.deleted ? secret : undefined;
  }
}

/** A KeyVaultError body: {"error":{"code","message","innererror"?}}. */
export function kvError(status: number, code: string, message: string, inner?: string): KvResponse {
  return { status, body: { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } } };
}

function badParameter(message: string): KvResponse {
  return kvError(400, 'BadParameter', message);
}

function notFound(what: string): KvResponse {
  return kvError(404, 'SecretNotFound', `A secret with (name/id) ${what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`);
}

function checkTags(tags: unknown): KvResponse | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags)) return badParameter('tags must be an object of strings.');
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > MAX_TAGS) return badParameter(`The number of tags (${entries.length}) exceeds the maximum of ${MAX_TAGS}.`);
  for (const [key, value] of entries) {
    if (typeof value !== 'string' || key.length > 512 || value.length > 256) return badParameter(`Tag "${key.slice(0, 40)}" is invalid: names up to 512 and values up to 256 characters.`);
  }
  return undefined;
}

function checkContentType(contentType: unknown): KvResponse | undefined {
  if (contentType === undefined || contentType === null) return undefined;
  return typeof contentType === 'string' && contentType.length <= 255 ? undefined : badParameter('contentType must be a string of at most 255 characters.');
}

function attributesOf(version: StoredVersion): Record<string, unknown> {
  return { ...version.attributes, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: RETENTION_DAYS };
}

function bundle(base: string, secret: StoredSecret, version: StoredVersion, withValue: boolean): Record<string, unknown> {
  return {
    ...(withValue ? { value: version.value } : {}),
    id: `${base}/secrets/${secret.name}/${version.id}`,
    attributes: attributesOf(version),
    ...(version.contentType !== undefined ? { contentType: version.contentType } : {}),
    ...(version.tags ? { tags: version.tags } : {}),
  };
}

function item(base: string, secret: StoredSecret, version: StoredVersion, withVersion: boolean): Record<string, unknown> {
  return { ...bundle(base, secret, version, false), id: `${base}/secrets/${secret.name}${withVersion ? `/${version.id}` : ''}` };
}

function deletion(base: string, secret: StoredSecret): Record<string, unknown> {
  return { recoveryId: `${base}/deletedsecrets/${secret.name}`, deletedDate: secret.deleted!.deletedDate, scheduledPurgeDate: secret.deleted!.scheduledPurgeDate };
}

function deletedBundle(base: string, secret: StoredSecret): Record<string, unknown> {
  return { ...bundle(base, secret, secret.versions.at(-1)!, false), ...deletion(base, secret) };
}

function page(base: string, path: string, query: URLSearchParams, entries: Array<{ key: string; item: unknown }>): KvResponse {
  const maxText = query.get('maxresults');
  const max = maxText === null ? PAGE_MAX : Number(maxText);
  if (!Number.isInteger(max) || max < 1 || max > PAGE_MAX) return badParameter(`maxresults must be an integer from 1 to ${PAGE_MAX}.`);
  let after: string | undefined;
  const token = query.get('$skiptoken');
  if (token !== null) {
    try {
      after = (JSON.parse(Buffer.from(token, 'base64url').toString()) as { NextMarker?: string }).NextMarker;
    } catch {
      after = undefined;
    }
    if (typeof after !== 'string') return badParameter('The $skiptoken is invalid.');
  }
  const start = after === undefined ? 0 : entries.findIndex((e) => e.key > after!);
  const slice = start < 0 ? [] : entries.slice(start, start + max);
  const more = start >= 0 && start + max < entries.length;
  const next = new URLSearchParams({ 'api-version': query.get('api-version') ?? '', $skiptoken: Buffer.from(JSON.stringify({ NextMarker: slice.at(-1)?.key })).toString('base64url'), maxresults: String(max) });
  return { status: 200, body: { value: slice.map((e) => e.item), nextLink: more ? `${base}${path}?${next.toString()}` : null } };
}

/** True (and one read less to go) while a delete or recover is still settling. */
function settle(secret: StoredSecret): boolean {
  if (!secret.settling) return false;
  secret.settling--;
  return true;
}

function byName(a: StoredSecret, b: StoredSecret): number {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}
