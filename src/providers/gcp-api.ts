/**
 * Secret Manager operations in the provider's terms, each one RPC through GcpCaller: access a
 * version (missing / unreadable told apart), read a secret's metadata (best effort: a caller
 * with only roles/secretmanager.secretAccessor cannot), create, update labels/annotations, add a
 * version (CRC32C-checked), page through secrets and versions, change a version's state, delete.
 */
import type { protos } from '@google-cloud/secret-manager';
import { LockboxError } from '../errors.js';
import { GRPC, crc32c, grpcCodeOf, isMissing, lastSegment, type GcpCaller } from './gcp-client.js';

export type GcpSecret = protos.google.cloud.secretmanager.v1.ISecret;
export type GcpVersion = protos.google.cloud.secretmanager.v1.ISecretVersion;

/** Largest payload Secret Manager accepts, in bytes (64 KiB). */
export const MAX_PAYLOAD_BYTES = 65_536;
/** Page size of list calls. */
export const LIST_PAGE_SIZE = 500;

/** An accessed version: its number and its bytes. */
export interface AccessedVersion { version: string; data: Buffer }

/** `missing`: NOT_FOUND (no secret, no such version, or no versions); `unreadable`: disabled or destroyed. */
export type AccessResult = AccessedVersion | 'missing' | 'unreadable';

/** A secret's metadata; undefined = no such secret; `unreadable` = the credentials may not read metadata. */
export type MetadataResult = GcpSecret | undefined | 'unreadable';

export class SecretManagerApi {
  #metadataReadable = true;

  constructor(readonly caller: GcpCaller, readonly project: string) {}

  get providerId(): string {
    return this.caller.providerId;
  }

  secretPath(id: string): string {
    return `projects/${this.project}/secrets/${id}`;
  }

  async access(id: string, versionId: string): Promise<AccessResult> {
    try {
      const [response] = await this.caller.call('AccessSecretVersion', id, (client, options) =>
        client.accessSecretVersion({ name: `${this.secretPath(id)}/versions/${versionId}` }, options));
      const data = Buffer.from(response.payload?.data ?? new Uint8Array());
      const sent = response.payload?.dataCrc32c;
      if (sent !== undefined && sent !== null && String(sent) !== String(crc32c(data))) {
        throw new LockboxError('PROVIDER_ERROR', `provider "${this.providerId}": the payload of "${id}" version ${versionId} failed its CRC32C check`, {
          provider: this.providerId, transient: true, hint: 'the data was corrupted in transit; retry',
        });
      }
      return { version: lastSegment(response.name), data };
    } catch (error) {
      if (grpcCodeOf(error) === GRPC.NOT_FOUND) return 'missing';
      if (isMissing(error)) return 'unreadable';
      throw error;
    }
  }

  /**
   * GetSecret. Best effort unless `required`: PERMISSION_DENIED (roles/secretmanager.secretAccessor
   * only grants access) answers `unreadable`, and later calls skip the RPC.
   */
  async metadata(id: string, required = false): Promise<MetadataResult> {
    if (!required && !this.#metadataReadable) return 'unreadable';
    try {
      const [secret] = await this.caller.call('GetSecret', id, (client, options) => client.getSecret({ name: this.secretPath(id) }, options));
      return secret;
    } catch (error) {
      if (grpcCodeOf(error) === GRPC.NOT_FOUND) return undefined;
      if (!required && grpcCodeOf(error) === GRPC.PERMISSION_DENIED) {
        this.#metadataReadable = false;
        return 'unreadable';
      }
      throw error;
    }
  }

  /** CreateSecret with automatic replication; undefined when it already exists (a concurrent create). */
  async create(id: string, annotations: Record<string, string>, labels?: Record<string, string>): Promise<GcpSecret | undefined> {
    try {
      const [secret] = await this.caller.call('CreateSecret', id, (client, options) => client.createSecret({
        parent: `projects/${this.project}`, secretId: id,
        secret: { replication: { automatic: {} }, annotations, ...(labels ? { labels } : {}) },
      }, options));
      return secret;
    } catch (error) {
      if (grpcCodeOf(error) === GRPC.ALREADY_EXISTS) return undefined;
      throw error;
    }
  }

  /**
   * UpdateSecret of the fields given (each replaces the whole map). Not etag-guarded: whether
   * version changes move a secret's etag is not documented, and the maps written are merged from
   * a read made just before.
   */
  async update(secret: GcpSecret, fields: { labels?: Record<string, string>; annotations?: Record<string, string> }): Promise<GcpSecret> {
    const id = lastSegment(secret.name);
    const paths = Object.keys(fields).filter((key) => fields[key as keyof typeof fields] !== undefined);
    const [updated] = await this.caller.call('UpdateSecret', id, (client, options) => client.updateSecret({
      secret: { name: this.secretPath(id), ...fields }, updateMask: { paths },
    }, options));
    return updated;
  }

  /** AddSecretVersion with a CRC32C; VALUE_TOO_LARGE (before any call) beyond 64 KiB. */
  async add(id: string, data: Buffer, what: string): Promise<GcpVersion> {
    if (data.length > MAX_PAYLOAD_BYTES) {
      throw new LockboxError('VALUE_TOO_LARGE', `provider "${this.providerId}": ${what} is ${data.length} bytes; Google Secret Manager stores at most ${MAX_PAYLOAD_BYTES} bytes (64 KiB) per version`, {
        provider: this.providerId, hint: 'store a smaller value, or a pointer to where the large value lives',
      });
    }
    const [version] = await this.caller.call('AddSecretVersion', id, (client, options) =>
      client.addSecretVersion({ parent: this.secretPath(id), payload: { data, dataCrc32c: crc32c(data) } }, options));
    return version;
  }

  /** Every version of a secret (all pages); undefined when the secret does not exist. */
  async versions(id: string): Promise<GcpVersion[] | undefined> {
    const all: GcpVersion[] = [];
    let pageToken: string | undefined;
    try {
      do {
        const token = pageToken;
        const [page, , response] = await this.caller.call('ListSecretVersions', id, (client, options) =>
          client.listSecretVersions({ parent: this.secretPath(id), pageSize: LIST_PAGE_SIZE, ...(token ? { pageToken: token } : {}) }, options));
        all.push(...page);
        pageToken = response?.nextPageToken || undefined;
      } while (pageToken);
    } catch (error) {
      if (grpcCodeOf(error) === GRPC.NOT_FOUND) return undefined;
      throw error;
    }
    return all;
  }

  /** Every secret of the project matching `filter` (all pages). */
  async secrets(filter?: string): Promise<GcpSecret[]> {
    const all: GcpSecret[] = [];
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const [page, , response] = await this.caller.call('ListSecrets', `projects/${this.project}`, (client, options) =>
        client.listSecrets({ parent: `projects/${this.project}`, pageSize: LIST_PAGE_SIZE, ...(filter ? { filter } : {}), ...(token ? { pageToken: token } : {}) }, options));
      all.push(...page);
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    return all;
  }

  /** One ListSecrets call of one item: the live check behind health(). */
  async probe(): Promise<void> {
    await this.caller.call('ListSecrets', `projects/${this.project}`, (client, options) =>
      client.listSecrets({ parent: `projects/${this.project}`, pageSize: 1 }, options));
  }

  /** Disables, enables or destroys one version. */
  async changeState(id: string, version: string, action: 'disable' | 'enable' | 'destroy'): Promise<GcpVersion> {
    const name = `${this.secretPath(id)}/versions/${version}`;
    const [result] = await this.caller.call(`${action[0]!.toUpperCase()}${action.slice(1)}SecretVersion`, `${id}/versions/${version}`, (client, options) =>
      action === 'disable' ? client.disableSecretVersion({ name }, options)
        : action === 'enable' ? client.enableSecretVersion({ name }, options)
          : client.destroySecretVersion({ name }, options));
    return result;
  }

  /** DeleteSecret (permanent), guarded by the etag when known; false when it did not exist. */
  async deleteSecret(id: string, etag?: string | null): Promise<boolean> {
    try {
      await this.caller.call('DeleteSecret', id, (client, options) =>
        client.deleteSecret({ name: this.secretPath(id), ...(etag ? { etag } : {}) }, options));
      return true;
    } catch (error) {
      if (grpcCodeOf(error) === GRPC.NOT_FOUND) return false;
      throw error;
    }
  }
}

/** True for an ENABLED version (gax gives enum names; numbers are accepted too). */
export function isEnabled(version: GcpVersion): boolean {
  return version.state === 'ENABLED' || version.state === 1;
}

/** True for a DESTROYED version. */
export function isDestroyed(version: GcpVersion): boolean {
  return version.state === 'DESTROYED' || version.state === 3;
}

/**
 * lockbox labels of a secret's versions: `current` is the newest version (what `latest` names)
 * when it is enabled; `previous` is the highest enabled version below it. There is no `pending`.
 */
export function versionLabels(versions: GcpVersion[]): { current?: string; previous?: string } {
  const numbers = versions.map((v) => ({ n: Number(lastSegment(v.name)), enabled: isEnabled(v) })).sort((a, b) => b.n - a.n);
  const [newest, ...older] = numbers;
  if (!newest) return {};
  return {
    current: newest.enabled ? String(newest.n) : undefined,
    previous: older.find((v) => v.enabled)?.n.toString(),
  };
}

/** A numbered version as Secret Manager names them. */
export const VERSION_NUMBER = /^[1-9]\d{0,17}$/;

/**
 * The version id to access for a lockbox version selector, with the labels a read reports:
 * `current` → `latest`; `previous` → the previous enabled version (looked up with `versions`,
 * which gives undefined when the secret is missing); a number → itself. Null when there is no
 * such version (or the selector is not one); undefined when `versions` found no secret.
 */
export async function selectVersion(selector: string, versions: () => Promise<GcpVersion[] | undefined>): Promise<{ versionId: string; labels: string[] } | null | undefined> {
  if (selector === 'current') return { versionId: 'latest', labels: ['current'] };
  if (VERSION_NUMBER.test(selector)) return { versionId: selector, labels: [] };
  if (selector !== 'previous') return null;
  const all = await versions();
  if (all === undefined) return undefined;
  const previous = versionLabels(all).previous;
  return previous === undefined ? null : { versionId: previous, labels: ['previous'] };
}
