/**
 * State of the Kubernetes emulator: core/v1 Secrets per namespace, one cluster-wide
 * resourceVersion counter (etcd's revision), the validation the API server applies to Secrets
 * (DNS-1123 names, data keys, base64 data, the 1 MiB size limit, label syntax, `immutable`),
 * and the `Status` objects it answers failures with.
 */
import { randomUUID } from 'node:crypto';

/** The documented limit on the bytes of a Secret's data (MaxSecretSize). */
export const MAX_SECRET_BYTES = 1024 * 1024;

export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string;
    labels?: Record<string, string>; annotations?: Record<string, string>; [key: string]: unknown;
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
  immutable?: boolean;
}

/** A failure the API server reports with a `Status` body. */
export class StatusError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }

  /** The `Status` object of the API (meta/v1). */
  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason,
      ...(this.details ? { details: this.details } : {}), code: this.code,
    };
  }
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class SecretStore {
  readonly #namespaces = new Map<string, Map<string, SecretObject>>();
  #revision = 1;

  /** The current cluster-wide resourceVersion. */
  get revision(): number {
    return this.#revision;
  }

  /** Secrets of a namespace, sorted by name (etcd key order). */
  list(namespace: string): SecretObject[] {
    return [...(this.#namespaces.get(namespace)?.values() ?? [])].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  get(namespace: string, name: string): SecretObject {
    const found = this.#namespaces.get(namespace)?.get(name);
    if (!found) throw notFound(name);
    return found;
  }

  create(namespace: string, body: SecretObject): SecretObject {
    const name = body.metadata?.name ?? '';
    validate(namespace, body);
    const secrets = this.#bucket(namespace);
    if (secrets.has(name)) throw new StatusError(409, 'AlreadyExists', `secrets "${name}" already exists`, { name, kind: 'secrets' });
    const stored = normalise(body, namespace, {
      uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), resourceVersion: this.#next(),
    });
    secrets.set(name, stored);
    return stored;
  }

  /** PUT: a set metadata.resourceVersion must match the stored one (optimistic concurrency). */
  replace(namespace: string, name: string, body: SecretObject): SecretObject {
    if (body.metadata?.name !== name) {
      throw new StatusError(400, 'BadRequest', `the name of the object (${String(body.metadata?.name)}) does not match the name on the URL (${name})`);
    }
    const current = this.get(namespace, name);
    const wanted = body.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== '' && wanted !== current.metadata.resourceVersion) throw conflict(name);
    validate(namespace, body);
    if (current.immutable && (JSON.stringify(mergedData(body)) !== JSON.stringify(current.data ?? {}) || body.immutable === false)) {
      throw invalid(name, 'data', 'FieldValueForbidden', 'Forbidden: field is immutable when `immutable` is set');
    }
    const stored = normalise(body, namespace, {
      uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp, resourceVersion: this.#next(),
    });
    this.#bucket(namespace).set(name, stored);
    return stored;
  }

  /** DELETE with optional preconditions (uid, resourceVersion). */
  delete(namespace: string, name: string, preconditions: { uid?: string; resourceVersion?: string } = {}): SecretObject {
    const current = this.get(namespace, name);
    for (const field of ['uid', 'resourceVersion'] as const) {
      const wanted = preconditions[field];
      if (wanted !== undefined && wanted !== current.metadata[field]) {
        const label = field === 'uid' ? 'UID' : 'ResourceVersion';
        throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": Precondition failed: ${label} in precondition: ${wanted}, ${label} in object meta: ${String(current.metadata[field])}`, { name, kind: 'secrets' });
      }
    }
    this.#bucket(namespace).delete(name);
    this.#next();
    return current;
  }

  /** Seeds a Secret as if `kubectl apply` had created it (tests: Secrets not made by lockbox). */
  seed(namespace: string, body: SecretObject): SecretObject {
    const existing = this.#namespaces.get(namespace)?.get(body.metadata.name);
    return existing ? this.replace(namespace, body.metadata.name, { ...body, metadata: { ...body.metadata, resourceVersion: undefined } }) : this.create(namespace, body);
  }

  #bucket(namespace: string): Map<string, SecretObject> {
    let secrets = this.#namespaces.get(namespace);
    if (!secrets) this.#namespaces.set(namespace, (secrets = new Map()));
    return secrets;
  }

  #next(): string {
    this.#revision += 1;
    return String(this.#revision);
  }
}

/** A label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-joined. */
export function parseLabelSelector(selector: string): (labels: Record<string, string>) => boolean {
  const requirements: Array<(labels: Record<string, string>) => boolean> = [];
  for (const part of splitRequirements(selector)) {
    const text = part.trim();
    if (text === '') continue;
    let match: RegExpMatchArray | null;
    if ((match = /^!\s*([^\s=!(),]+)$/.exec(text))) {
      const key = match[1]!;
      requirements.push((labels) => !(key in labels));
    } else if ((match = /^([^\s=!(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text))) {
      const [, key, op, list] = match as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      requirements.push(op === 'in' ? (labels) => key in labels && values.has(labels[key]!) : (labels) => !(key in labels) || !values.has(labels[key]!));
    } else if ((match = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(text))) {
      const [, key, op, value] = match as unknown as [string, string, string, string];
      requirements.push(op === '!=' ? (labels) => labels[key] !== value : (labels) => labels[key] === value);
    } else if ((match = /^([^\s=!(),]+)$/.exec(text))) {
      const key = match[1]!;
      requirements.push((labels) => key in labels);
    } else {
      throw new StatusError(400, 'BadRequest', `unable to parse requirement: found '${text}', expected: key, !key, key=value, key!=value, key in (…) or key notin (…)`);
    }
  }
  return (labels) => requirements.every((requirement) => requirement(labels));
}

/** RFC 7386 JSON merge patch (also used for strategic merge patches: Secrets have no merge keys). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** RFC 6902 JSON patch: add, replace, remove and test on object members. */
export function jsonPatch(target: SecretObject, operations: unknown): SecretObject {
  if (!Array.isArray(operations)) throw new StatusError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const document = structuredClone(target) as unknown as Record<string, unknown>;
  for (const op of operations as Array<{ op?: string; path?: string; value?: unknown }>) {
    const segments = String(op.path ?? '').split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segments.pop();
    let parent: Record<string, unknown> = document;
    for (const segment of segments) {
      const next = parent[segment];
      if (typeof next !== 'object' || next === null) {
        if (op.op !== 'add') throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request: path ${op.path} not found`);
        parent[segment] = {};
      }
      parent = parent[segment] as Record<string, unknown>;
    }
    if (last === undefined) throw new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request: empty path');
    if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !(last in parent)) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request: replace operation does not apply: doc is missing key: ${op.path}`);
      parent[last] = op.value;
    } else if (op.op === 'remove') {
      if (!(last in parent)) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request: remove operation does not apply: doc is missing path: ${op.path}`);
      delete parent[last];
    } else if (op.op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${op.path} failed`);
    } else {
      throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request: Unexpected kind: ${String(op.op)}`);
    }
  }
  return document as unknown as SecretObject;
}

export function notFound(name: string): StatusError {
  return new StatusError(404, 'NotFound', `secrets "${name}" not found`, { name, kind: 'secrets' });
}

export function conflict(name: string): StatusError {
  return new StatusError(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: 'secrets' });
}

function validate(namespace: string, body: SecretObject): void {
  const name = body?.metadata?.name ?? '';
  if (body?.kind !== undefined && body.kind !== 'Secret') throw new StatusError(400, 'BadRequest', `the object provided is unrecognized (kind ${String(body.kind)} is not Secret)`);
  if (body.metadata.namespace !== undefined && body.metadata.namespace !== '' && body.metadata.namespace !== namespace) {
    throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
  }
  if (name.length === 0) throw invalid(name, 'metadata.name', 'FieldValueRequired', 'Required value: name or generateName is required');
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw invalid(name, 'metadata.name', 'FieldValueInvalid', `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`);
  }
  for (const [key, value] of Object.entries(body.metadata.labels ?? {})) {
    const [prefix, labelName] = key.includes('/') ? key.split('/', 2) as [string, string] : [undefined, key];
    if ((prefix !== undefined && !DNS_SUBDOMAIN.test(prefix)) || labelName.length > 63 || !LABEL_NAME.test(labelName)) {
      throw invalid(name, 'metadata.labels', 'FieldValueInvalid', `Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    }
    if (typeof value !== 'string' || value.length > 63 || (value !== '' && !LABEL_NAME.test(value))) {
      throw invalid(name, `metadata.labels`, 'FieldValueInvalid', `Invalid value: "${String(value)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    }
  }
  let total = 0;
  for (const [key, value] of Object.entries(body.data ?? {})) {
    if (key.length > 253 || !DATA_KEY.test(key) || key === '.' || key === '..') {
      throw invalid(name, `data[${key}]`, 'FieldValueInvalid', `Invalid value: "${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`);
    }
    if (typeof value !== 'string' || !BASE64.test(value)) throw new StatusError(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0`);
    total += Buffer.from(value, 'base64').length;
  }
  for (const value of Object.values(body.stringData ?? {})) total += Buffer.byteLength(String(value));
  if (total > MAX_SECRET_BYTES) throw invalid(name, 'data', 'FieldValueTooLong', `Too long: must have at most ${MAX_SECRET_BYTES} bytes`);
}

function invalid(name: string, field: string, reason: string, message: string): StatusError {
  return new StatusError(422, 'Invalid', `Secret "${name}" is invalid: ${field}: ${message}`, {
    name, kind: 'Secret', causes: [{ reason, message, field }],
  });
}

/** data with stringData folded in (the API server does this on write). */
function mergedData(body: SecretObject): Record<string, string> {
  const data = { ...(body.data ?? {}) };
  for (const [key, value] of Object.entries(body.stringData ?? {})) data[key] = Buffer.from(value).toString('base64');
  return data;
}

function normalise(body: SecretObject, namespace: string, meta: { uid?: string; creationTimestamp?: string; resourceVersion: string }): SecretObject {
  const { stringData: _ignored, ...rest } = body;
  return {
    ...rest,
    apiVersion: 'v1', kind: 'Secret', type: body.type ?? 'Opaque', data: mergedData(body),
    metadata: { ...body.metadata, namespace, uid: meta.uid, creationTimestamp: meta.creationTimestamp, resourceVersion: meta.resourceVersion },
  };
}

function splitRequirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) { parts.push(current); current = ''; } else current += char;
  }
  parts.push(current);
  return parts;
}
