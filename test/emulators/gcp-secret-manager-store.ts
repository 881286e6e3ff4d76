/**
 * State of the Google Secret Manager emulator: secrets (labels, annotations, etag, expiry) and
 * their numbered versions (ENABLED / DISABLED / DESTROYED), with the API's validation rules and
 * its error statuses. Rendering follows the proto3 JSON mapping the REST API v1 uses.
 */
import { createHash } from 'node:crypto';
import { matchesFilter, parseFilter, type Filter } from './gcp-secret-manager-filter.js';

/** Largest payload a version accepts, in bytes (64 KiB). */
export const MAX_PAYLOAD_BYTES = 65_536;
/** Largest page a list call returns. */
export const MAX_PAGE_SIZE = 25_000;

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';
const STATE_NUMBER: Record<VersionState, number> = { ENABLED: 1, DISABLED: 2, DESTROYED: 3 };

export interface StoredVersion {
  id: number;
  data?: Buffer;
  crc32c: string;
  state: VersionState;
  createTime: Date;
  destroyTime?: Date;
  clientChecksum: boolean;
}

export interface StoredSecret {
  id: string;
  seq: number;
  createTime: Date;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  replication: unknown;
  etag: string;
  expireTime?: Date;
  versions: StoredVersion[];
}

/** An error the API answers with: HTTP status, google.rpc.Code name and message. */
export class ApiError extends Error {
  constructor(readonly httpStatus: number, readonly status: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export const invalidArgument = (message: string): ApiError => new ApiError(400, 'INVALID_ARGUMENT', message);

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const ANNOTATION_KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const MAX_ANNOTATION_BYTES = 16_384;

export class SecretManagerStore {
  readonly #secrets = new Map<string, StoredSecret>();
  #seq = 0;

  constructor(readonly projectNumber: string) {}

  secretName(id: string): string {
    return `projects/${this.projectNumber}/secrets/${id}`;
  }

  find(id: string): StoredSecret | undefined {
    const secret = this.#secrets.get(id);
    if (secret?.expireTime && secret.expireTime.getTime() <= Date.now()) {
      this.#secrets.delete(id);
      return undefined;
    }
    return secret;
  }

  secret(id: string): StoredSecret {
    const secret = this.find(id);
    if (!secret) throw new ApiError(404, 'NOT_FOUND', `Secret [${this.secretName(id)}] not found.`);
    return secret;
  }

  create(id: string, body: Record<string, unknown>): StoredSecret {
    if (!SECRET_ID.test(id)) throw invalidArgument(`Invalid secret id "${id}": ids are 1-255 of [A-Za-z0-9_-].`);
    if (!isObject(body.replication) || Object.keys(body.replication).length === 0) {
      throw invalidArgument('Secret.replication is required.');
    }
    if (this.find(id)) throw new ApiError(409, 'ALREADY_EXISTS', `Secret [${this.secretName(id)}] already exists.`);
    const secret: StoredSecret = {
      id, seq: ++this.#seq, createTime: new Date(), labels: checkLabels(body.labels), annotations: checkAnnotations(body.annotations),
      replication: body.replication, etag: '', expireTime: expireTimeOf(body), versions: [],
    };
    touch(secret);
    this.#secrets.set(id, secret);
    return secret;
  }

  update(id: string, body: Record<string, unknown>, updateMask: string): StoredSecret {
    const secret = this.secret(id);
    const paths = updateMask.split(',').map((p) => p.trim()).filter(Boolean);
    if (paths.length === 0) throw invalidArgument('update_mask is required.');
    if (typeof body.etag === 'string' && body.etag !== '' && body.etag !== secret.etag) {
      throw new ApiError(409, 'ABORTED', `The etag provided does not match the etag of Secret [${this.secretName(id)}].`);
    }
    for (const path of paths) {
      if (path === 'labels') secret.labels = checkLabels(body.labels);
      else if (path === 'annotations') secret.annotations = checkAnnotations(body.annotations);
      else if (path === 'expire_time' || path === 'expireTime') secret.expireTime = expireTimeOf(body);
      else throw invalidArgument(`The update_mask path "${path}" is not supported.`);
    }
    touch(secret);
    return secret;
  }

  delete(id: string, etag?: string): void {
    const secret = this.secret(id);
    if (etag && etag !== secret.etag) {
      throw new ApiError(409, 'ABORTED', `The etag provided does not match the etag of Secret [${this.secretName(id)}].`);
    }
    this.#secrets.delete(id);
  }

  addVersion(id: string, payload: unknown): StoredVersion {
    const secret = this.secret(id);
    if (!isObject(payload) || typeof payload.data !== 'string') throw invalidArgument('SecretPayload.data is required.');
    const data = Buffer.from(payload.data, 'base64');
    if (data.length > MAX_PAYLOAD_BYTES) {
      throw invalidArgument(`Secret Payload cannot be larger than 64KiB (got ${data.length} bytes).`);
    }
    const crc32c = String(crc32cOf(data));
    const sent = payload.dataCrc32c;
    if (sent !== undefined && String(sent) !== crc32c) {
      throw invalidArgument('Checksum mismatch: SecretPayload.data_crc32c does not match the data received.');
    }
    const version: StoredVersion = {
      id: (secret.versions.at(-1)?.id ?? 0) + 1, data, crc32c, state: 'ENABLED', createTime: new Date(),
      clientChecksum: sent !== undefined,
    };
    secret.versions.push(version);
    return version;
  }

  /** A version by number or the `latest` alias (the newest version, whatever its state). */
  version(id: string, versionId: string): StoredVersion {
    const secret = this.find(id);
    if (!secret || (versionId === 'latest' && secret.versions.length === 0)) {
      throw new ApiError(404, 'NOT_FOUND', `Secret [${this.secretName(id)}] not found or has no versions.`);
    }
    if (versionId !== 'latest' && !/^[1-9]\d*$/.test(versionId)) {
      throw invalidArgument(`Invalid secret version id "${versionId}": use a version number or "latest".`);
    }
    const found = versionId === 'latest' ? secret.versions.at(-1) : secret.versions.find((v) => v.id === Number(versionId));
    if (!found) throw new ApiError(404, 'NOT_FOUND', `Secret Version [${this.secretName(id)}/versions/${versionId}] not found.`);
    return found;
  }

  access(id: string, versionId: string): StoredVersion {
    const version = this.version(id, versionId);
    if (version.state !== 'ENABLED') {
      throw new ApiError(400, 'FAILED_PRECONDITION', `Secret Version [${this.secretName(id)}/versions/${version.id}] is in ${version.state} state.`);
    }
    return version;
  }

  changeState(id: string, versionId: string, action: 'enable' | 'disable' | 'destroy'): StoredVersion {
    const version = this.version(id, versionId);
    if (version.state === 'DESTROYED') {
      throw new ApiError(400, 'FAILED_PRECONDITION', `Secret Version [${this.secretName(id)}/versions/${version.id}] is in DESTROYED state.`);
    }
    if (action === 'enable') version.state = 'ENABLED';
    else if (action === 'disable') version.state = 'DISABLED';
    else {
      version.state = 'DESTROYED';
      version.data = undefined;
      version.destroyTime = new Date();
    }
    return version;
  }

  /** Secrets newest first, filtered, one page at a time. */
  listSecrets(query: ListQuery): { items: StoredSecret[]; nextPageToken?: string; totalSize?: number } {
    const filter = parseFilter(query.filter, ['name', 'labels', 'annotations']);
    const all = [...this.#secrets.keys()].map((id) => this.find(id)).filter((s): s is StoredSecret => s !== undefined);
    all.sort((a, b) => b.seq - a.seq);
    const matching = all.filter((s) => matchesFilter(filter, { name: this.secretName(s.id), labels: s.labels, annotations: s.annotations }));
    return page(matching, query, filter, query.filter ? undefined : matching.length);
  }

  /** Versions of a secret newest first, filtered, one page at a time. */
  listVersions(id: string, query: ListQuery): { items: StoredVersion[]; nextPageToken?: string; totalSize?: number } {
    const secret = this.secret(id);
    const filter = parseFilter(query.filter, ['name', 'state']);
    const matching = [...secret.versions].reverse()
      .filter((v) => matchesFilter(filter, { name: `${this.secretName(id)}/versions/${v.id}`, state: v.state }));
    return page(matching, query, filter, query.filter ? undefined : matching.length);
  }

  secretJson(secret: StoredSecret): Record<string, unknown> {
    return omitEmpty({
      name: this.secretName(secret.id),
      replication: secret.replication,
      createTime: secret.createTime.toISOString(),
      labels: secret.labels,
      annotations: secret.annotations,
      etag: secret.etag,
      expireTime: secret.expireTime?.toISOString(),
    });
  }

  versionJson(secretId: string, version: StoredVersion, enumsAsInt: boolean): Record<string, unknown> {
    return omitEmpty({
      name: `${this.secretName(secretId)}/versions/${version.id}`,
      createTime: version.createTime.toISOString(),
      destroyTime: version.destroyTime?.toISOString(),
      state: enumsAsInt ? STATE_NUMBER[version.state] : version.state,
      replicationStatus: { automatic: {} },
      etag: `"${version.state.toLowerCase()}-${version.id}"`,
      clientSpecifiedPayloadChecksum: version.clientChecksum || undefined,
    });
  }
}

export interface ListQuery { pageSize?: number; pageToken?: string; filter?: string; defaultPageSize: number }

/** CRC32C (Castagnoli), as Secret Manager computes `data_crc32c`. */
export function crc32cOf(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function page<T>(items: T[], query: ListQuery, filter: Filter, totalSize: number | undefined): { items: T[]; nextPageToken?: string; totalSize?: number } {
  const size = Math.min(query.pageSize && query.pageSize > 0 ? query.pageSize : query.defaultPageSize, MAX_PAGE_SIZE);
  const offset = query.pageToken ? decodePageToken(query.pageToken, filter.source) : 0;
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? encodePageToken(offset + size, filter.source) : undefined;
  return { items: slice, nextPageToken: next, totalSize };
}

function encodePageToken(offset: number, filter: string): string {
  return Buffer.from(JSON.stringify({ o: offset, f: hash(filter) })).toString('base64url');
}

function decodePageToken(token: string, filter: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; f?: unknown };
    if (typeof parsed.o === 'number' && parsed.f === hash(filter)) return parsed.o;
  } catch { /* fall through */ }
  throw invalidArgument('Invalid page token.');
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function touch(secret: StoredSecret): void {
  secret.etag = `"${createHash('sha256').update(`${secret.id}:${Date.now()}:${Math.random()}`).digest('hex').slice(0, 14)}"`;
}

function checkLabels(labels: unknown): Record<string, string> {
  const entries = Object.entries(isObject(labels) ? labels : {});
  if (entries.length > 64) throw invalidArgument('A secret can have at most 64 labels.');
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || typeof value !== 'string' || !LABEL_VALUE.test(value)) {
      throw invalidArgument(`Invalid label "${key}": keys start with a lowercase letter; keys and values use lowercase letters, digits, "_" and "-", at most 63 characters.`);
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function checkAnnotations(annotations: unknown): Record<string, string> {
  const entries = Object.entries(isObject(annotations) ? annotations : {});
  let bytes = 0;
  for (const [key, value] of entries) {
    if (!ANNOTATION_KEY.test(key) || typeof value !== 'string') {
      throw invalidArgument(`Invalid annotation key "${key}": 1-63 characters, alphanumeric at both ends, "-", "_" and "." between.`);
    }
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > MAX_ANNOTATION_BYTES) throw invalidArgument('The total size of annotation keys and values must be less than 16KiB.');
  return Object.fromEntries(entries) as Record<string, string>;
}

function expireTimeOf(body: Record<string, unknown>): Date | undefined {
  if (typeof body.expireTime === 'string') {
    const time = new Date(body.expireTime);
    if (Number.isNaN(time.getTime())) throw invalidArgument('Invalid expire_time.');
    if (time.getTime() <= Date.now()) throw invalidArgument('expire_time must be in the future.');
    return time;
  }
  if (typeof body.ttl === 'string' && /^\d+(\.\d+)?s$/.test(body.ttl)) return new Date(Date.now() + parseFloat(body.ttl) * 1000);
  return undefined;
}

/** proto3 JSON leaves out unset fields, empty strings and empty maps. */
function omitEmpty(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined && v !== '' && !(isObject(v) && Object.keys(v).length === 0)));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
