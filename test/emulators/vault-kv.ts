/**
 * The KV secrets engine, version 2, as the Vault emulator serves it: versions, check-and-set,
 * soft delete / undelete / destroy, metadata with custom_metadata, LIST of folders, and Vault's
 * rule of keeping at most `max_versions` (10) versions per key. One KvEngine per namespace+mount.
 * Behaviour follows developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2.
 */
import { randomUUID } from 'node:crypto';

/** What a route handler answers: a status and a JSON body (undefined = no body, e.g. 204). */
export interface Reply { status: number; body?: unknown }

interface StoredVersion { data: Record<string, unknown> | null; createdTime: string; deletionTime: string; destroyed: boolean }
interface Entry {
  versions: Map<number, StoredVersion>;
  currentVersion: number;
  oldestVersion: number;
  createdTime: string;
  updatedTime: string;
  customMetadata: Record<string, string> | null;
  casRequired: boolean;
}

/** Vault's answer for a path that holds nothing: 404 with an empty errors list. */
export const NOT_FOUND: Reply = { status: 404, body: { errors: [] } };

export function errorReply(status: number, ...errors: string[]): Reply {
  return { status, body: { errors } };
}

/** Wraps `data` in Vault's response envelope. */
export function envelope(data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data,
    wrap_info: null, warnings: null, auth: null, mount_type: 'kv', ...extra,
  };
}

export class KvEngine {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly now: () => number, private readonly maxVersions: number) {}

  /** Routes `{mount}/{op}/{path}` requests; `op` is data, metadata, delete, undelete or destroy. */
  handle(method: string, op: string, path: string, query: URLSearchParams, body: unknown): Reply {
    if (op === 'metadata' && method === 'GET' && (query.get('list') === 'true' || path === '' || path.endsWith('/'))) return this.list(path);
    const key = path.replace(/\/+$/, '');
    if (key === '') return errorReply(404, `no handler for route "${op}/". route entry not found.`);
    switch (`${method} ${op}`) {
      case 'GET data': return this.read(key, Number(query.get('version') ?? 0));
      case 'POST data': case 'PUT data': return this.write(key, body);
      case 'DELETE data': return this.deleteLatest(key);
      case 'POST delete': case 'PUT delete': return this.changeVersions(key, body, (v) => { if (!v.destroyed && !v.deletionTime) v.deletionTime = this.#stamp(); });
      case 'POST undelete': case 'PUT undelete': return this.changeVersions(key, body, (v) => { if (!v.destroyed) v.deletionTime = ''; });
      case 'POST destroy': case 'PUT destroy': return this.changeVersions(key, body, (v) => { v.destroyed = true; v.data = null; });
      case 'GET metadata': return this.readMetadata(key);
      case 'POST metadata': case 'PUT metadata': return this.writeMetadata(key, body);
      case 'DELETE metadata': this.#entries.delete(key); return { status: 204 };
      default: return errorReply(405, 'unsupported operation');
    }
  }

  /** Stores a version without validation (tests: simulate data another writer left behind). */
  putRaw(path: string, data: unknown): void {
    this.#append(path, data as Record<string, unknown>);
  }

  private read(key: string, requested: number): Reply {
    const entry = this.#entries.get(key);
    if (!entry || entry.currentVersion === 0) return NOT_FOUND;
    const number = requested > 0 ? requested : entry.currentVersion;
    const version = entry.versions.get(number);
    if (!version) return NOT_FOUND;
    const metadata = {
      created_time: version.createdTime, custom_metadata: entry.customMetadata,
      deletion_time: version.deletionTime, destroyed: version.destroyed, version: number,
    };
    // Deleted or destroyed: Vault answers 404 but still sends the version's metadata.
    if (version.destroyed || this.#isDeleted(version)) return { status: 404, body: envelope({ data: null, metadata }) };
    return { status: 200, body: envelope({ data: version.data, metadata }) };
  }

  private write(key: string, body: unknown): Reply {
    const request = (body ?? {}) as { data?: unknown; options?: { cas?: unknown } };
    if (typeof request.data !== 'object' || request.data === null || Array.isArray(request.data)) return errorReply(400, 'no data provided');
    const entry = this.#entries.get(key);
    const cas = request.options?.cas;
    if (cas === undefined && entry?.casRequired) return errorReply(400, 'check-and-set parameter required for this call');
    if (cas !== undefined && Number(cas) !== (entry?.currentVersion ?? 0)) return errorReply(400, 'check-and-set parameter did not match the current version');
    const stored = this.#append(key, request.data as Record<string, unknown>);
    return { status: 200, body: envelope(stored) };
  }

  private deleteLatest(key: string): Reply {
    const entry = this.#entries.get(key);
    const version = entry?.versions.get(entry.currentVersion);
    if (version && !version.destroyed && !version.deletionTime) version.deletionTime = this.#stamp();
    return { status: 204 };
  }

  private changeVersions(key: string, body: unknown, change: (version: StoredVersion) => void): Reply {
    const versions = (body as { versions?: unknown } | undefined)?.versions;
    if (!Array.isArray(versions) || versions.length === 0) return errorReply(400, 'no version number provided');
    const entry = this.#entries.get(key);
    for (const number of versions) {
      const version = entry?.versions.get(Number(number));
      if (version) change(version);
    }
    return { status: 204 };
  }

  private readMetadata(key: string): Reply {
    const entry = this.#entries.get(key);
    if (!entry) return NOT_FOUND;
    const versions: Record<string, unknown> = {};
    for (const [number, v] of entry.versions) versions[String(number)] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed };
    return {
      status: 200,
      body: envelope({
        cas_required: entry.casRequired, created_time: entry.createdTime, current_version: entry.currentVersion,
        custom_metadata: entry.customMetadata, delete_version_after: '0s', max_versions: 0,
        oldest_version: entry.oldestVersion, updated_time: entry.updatedTime, versions,
      }),
    };
  }

  private writeMetadata(key: string, body: unknown): Reply {
    const request = (body ?? {}) as { custom_metadata?: unknown; cas_required?: unknown };
    const custom = request.custom_metadata;
    if (custom !== undefined && (typeof custom !== 'object' || custom === null || Object.values(custom).some((v) => typeof v !== 'string'))) {
      return errorReply(400, 'custom_metadata must be a map of strings');
    }
    const entry = this.#entryFor(key);
    if (custom !== undefined) entry.customMetadata = { ...(custom as Record<string, string>) };
    if (typeof request.cas_required === 'boolean') entry.casRequired = request.cas_required;
    entry.updatedTime = this.#stamp();
    return { status: 204 };
  }

  private list(path: string): Reply {
    const folder = path === '' ? '' : path.replace(/\/*$/, '/');
    const keys = new Set<string>();
    for (const key of this.#entries.keys()) {
      if (!key.startsWith(folder)) continue;
      const rest = key.slice(folder.length);
      const slash = rest.indexOf('/');
      keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) return NOT_FOUND;
    return { status: 200, body: envelope({ keys: [...keys].sort() }) };
  }

  #append(key: string, data: Record<string, unknown>): Record<string, unknown> {
    const entry = this.#entryFor(key);
    const number = entry.currentVersion + 1;
    const createdTime = this.#stamp();
    entry.versions.set(number, { data: structuredClone(data), createdTime, deletionTime: '', destroyed: false });
    entry.currentVersion = number;
    entry.updatedTime = createdTime;
    while (entry.versions.size > this.maxVersions) {
      const oldest = Math.min(...entry.versions.keys());
      entry.versions.delete(oldest);
      entry.oldestVersion = oldest + 1;
    }
    return { created_time: createdTime, custom_metadata: entry.customMetadata, deletion_time: '', destroyed: false, version: number };
  }

  #entryFor(key: string): Entry {
    let entry = this.#entries.get(key);
    if (!entry) {
      const stamp = this.#stamp();
      entry = { versions: new Map(), currentVersion: 0, oldestVersion: 0, createdTime: stamp, updatedTime: stamp, customMetadata: null, casRequired: false };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  #isDeleted(version: StoredVersion): boolean {
    return version.deletionTime !== '' && Date.parse(version.deletionTime) <= this.now();
  }

  #stamp(): string {
    return new Date(this.now()).toISOString();
  }
}
