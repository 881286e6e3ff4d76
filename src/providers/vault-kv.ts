/**
 * Typed calls to Vault's KV secrets engine version 2 under one mount; every call goes through
 * callRemote (timeout, retries of transient failures) and unexpected statuses become
 * LockboxErrors (vault-errors.ts). Listing uses GET with ?list=true, which Vault treats as LIST.
 */
import type { LockboxError } from '../errors.js';
import { callRemote, type RemoteCallOptions } from './remote.js';
import type { VaultClient } from './vault-client.js';
import { classifyVaultError, vaultErrorDetail, vaultStatusError } from './vault-errors.js';
import type { VaultRequest, VaultResponse } from './vault-http.js';

/** Metadata of one version of a key. */
export interface KvVersionInfo { createdTime: string; deletionTime: string; destroyed: boolean }

/** Result of reading a version: its data, or why there is none. */
export type KvReadResult =
  | { status: 'found'; version: number; data: unknown; info: KvVersionInfo; customMetadata: Record<string, string> | null }
  /** The version exists but is soft-deleted or destroyed (Vault: 404 with metadata). */
  | { status: 'deleted'; version: number; info: KvVersionInfo; customMetadata: Record<string, string> | null }
  | { status: 'missing' };

/** A key's metadata (GET {mount}/metadata/{path}). */
export interface KvMetadata {
  currentVersion: number;
  oldestVersion: number;
  customMetadata: Record<string, string> | null;
  versions: Map<number, KvVersionInfo>;
}

export class KvV2 {
  constructor(
    private readonly providerId: string,
    readonly mount: string,
    private readonly client: VaultClient,
    private readonly remote: RemoteCallOptions,
    private readonly url: string,
  ) {}

  /** Reads the latest version (or `version`). */
  async read(path: string, version?: number): Promise<KvReadResult> {
    const query = version === undefined ? undefined : { version: String(version) };
    const response = await this.#call(`read ${this.mount}/data/${path}`, { method: 'GET', path: `${this.mount}/data/${path}`, query }, [200, 404]);
    const data = (response.body as { data?: { data?: unknown; metadata?: Record<string, unknown> } } | null)?.data;
    if (!data?.metadata) return { status: 'missing' };
    const meta = data.metadata;
    const info = versionInfo(meta);
    const number = Number(meta.version);
    const customMetadata = stringMap(meta.custom_metadata);
    if (response.status === 404 || data.data === null || data.data === undefined) return { status: 'deleted', version: number, info, customMetadata };
    return { status: 'found', version: number, data: data.data, info, customMetadata };
  }

  /** Reads a key's metadata; null when the key does not exist. */
  async metadata(path: string): Promise<KvMetadata | null> {
    const response = await this.#call(`read ${this.mount}/metadata/${path}`, { method: 'GET', path: `${this.mount}/metadata/${path}` }, [200, 404]);
    const data = (response.body as { data?: Record<string, unknown> } | null)?.data;
    if (response.status === 404 || !data) return null;
    const versions = new Map<number, KvVersionInfo>();
    for (const [number, info] of Object.entries((data.versions ?? {}) as Record<string, Record<string, unknown>>)) versions.set(Number(number), versionInfo(info));
    return {
      currentVersion: Number(data.current_version ?? 0), oldestVersion: Number(data.oldest_version ?? 0),
      customMetadata: stringMap(data.custom_metadata), versions,
    };
  }

  /** Writes a new version with check-and-set `cas` (0 = only if the key does not exist); CONFLICT when another writer won. */
  async write(path: string, data: Record<string, unknown>, cas: number): Promise<{ version: number; info: KvVersionInfo }> {
    const response = await this.#call(`write ${this.mount}/data/${path}`, { method: 'POST', path: `${this.mount}/data/${path}`, body: { options: { cas }, data } }, [200]);
    const meta = ((response.body as { data?: Record<string, unknown> } | null)?.data ?? {});
    return { version: Number(meta.version), info: versionInfo(meta) };
  }

  /** Replaces the key's custom_metadata (creates the key's metadata when missing). */
  async writeCustomMetadata(path: string, customMetadata: Record<string, string>): Promise<void> {
    await this.#call(`write ${this.mount}/metadata/${path}`, { method: 'POST', path: `${this.mount}/metadata/${path}`, body: { custom_metadata: customMetadata } }, [200, 204]);
  }

  /** Names directly under `folder` ("" or ending in "/"); sub-folders end in "/". Empty when nothing is there. */
  async list(folder: string): Promise<string[]> {
    const response = await this.#call(`list ${this.mount}/metadata/${folder}`, { method: 'GET', path: `${this.mount}/metadata/${folder}`, query: { list: 'true' } }, [200, 404]);
    const keys = (response.body as { data?: { keys?: unknown } } | null)?.data?.keys;
    return response.status === 200 && Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
  }

  /** Soft-deletes the latest version. */
  async deleteLatest(path: string): Promise<void> {
    await this.#call(`delete ${this.mount}/data/${path}`, { method: 'DELETE', path: `${this.mount}/data/${path}` }, [200, 204]);
  }

  /** POST {mount}/{action}/{path} with the version numbers: soft delete, undelete or destroy. */
  async changeVersions(action: 'delete' | 'undelete' | 'destroy', path: string, versions: number[]): Promise<void> {
    await this.#call(`${action} ${this.mount}/${action}/${path}`, { method: 'POST', path: `${this.mount}/${action}/${path}`, body: { versions } }, [200, 204]);
  }

  /** Deletes every version and the metadata of the key. */
  async deleteMetadata(path: string): Promise<void> {
    await this.#call(`delete ${this.mount}/metadata/${path}`, { method: 'DELETE', path: `${this.mount}/metadata/${path}` }, [200, 204]);
  }

  async #call(operation: string, request: VaultRequest, expected: number[]): Promise<VaultResponse> {
    return callRemote(this.providerId, operation, this.remote, async (signal) => {
      const response = await this.client.request({ ...request, signal });
      // 404 means "nothing there" only for a mounted engine: "no handler for route" is a wrong mount.
      const unmounted = response.status === 404 && /no handler for route/.test(vaultErrorDetail(response.body));
      if (!expected.includes(response.status) || unmounted) throw this.#error(operation, response);
      return response;
    }, classifyVaultError(this.providerId, operation, this.url));
  }

  #error(operation: string, response: VaultResponse): LockboxError {
    return vaultStatusError(this.providerId, operation, response, this.mount);
  }
}


function versionInfo(meta: Record<string, unknown>): KvVersionInfo {
  return {
    createdTime: String(meta.created_time ?? ''),
    deletionTime: typeof meta.deletion_time === 'string' ? meta.deletion_time : '',
    destroyed: meta.destroyed === true,
  };
}

function stringMap(value: unknown): Record<string, string> | null {
  if (typeof value !== 'object' || value === null) return null;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}
