/**
 * Where a secret sits in a config and what it is: hydration paths (`$.a.b`, `$.list[0]`,
 * `$['weird key']`) with copy-on-write get/set, the input forms a secret field can hold
 * (seed 000 §3), and the pointer node that replaces a secret in a stored config.
 * Errors name the path, never the value.
 */
import { LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import { parseCoordinate, type SecretCoordinate } from './coordinates.js';

/** What masked configs show in place of a secret; sent back unchanged it means "keep the stored secret". */
export const MASK = '**********';
/** A string secret field `secret_coordinate::NAME` points at an external secret NAME. */
export const SECRET_COORDINATE_PREFIX = 'secret_coordinate::';
/** Pointer-node keys. */
export const SECRET_FIELD = '_secret';
export const SECRET_REFERENCE_ID_FIELD = '_secret_reference_id';
export const SECRET_STORAGE_ID_FIELD = '_secret_storage_id';

export type SecretNode =
  /** A plaintext secret to store (numbers and booleans arrive as their text). */
  | { kind: 'raw'; value: SecretValue }
  /** `{"_secret": coord}` (optionally with a reference id and storage id) or `secret_coordinate::NAME`. */
  | { kind: 'coordinate'; coordinate: SecretCoordinate; referenceId?: string; storageId?: string }
  /** `{"_secret_reference_id": uuid}` alone. */
  | { kind: 'reference'; referenceId: string }
  /** The mask sent back unchanged: keep what is stored at this path. */
  | { kind: 'masked' };

/** A pointer node as stored in a partial config. */
export type PointerNode = { _secret: string; _secret_reference_id?: string };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const POINTER_KEYS = new Set([SECRET_FIELD, SECRET_REFERENCE_ID_FIELD, SECRET_STORAGE_ID_FIELD]);

/**
 * Classifies the value found at a secret path.
 * @throws LockboxError SECRET_NODE_INVALID for undefined, null, arrays and objects that are not
 *   pointer nodes; INVALID_COORDINATE for a malformed coordinate; INVALID_INPUT for a reference or
 *   storage id that is not a UUID. Messages name `path`, never the value.
 */
export function classifySecretNode(value: unknown, path: string): SecretNode {
  if (typeof value === 'string') {
    if (value === MASK) return { kind: 'masked' };
    if (value.startsWith(SECRET_COORDINATE_PREFIX)) {
      const full = value.slice(SECRET_COORDINATE_PREFIX.length);
      if (full.length === 0) {
        throw new LockboxError('INVALID_COORDINATE', `secret field at ${path} is "${SECRET_COORDINATE_PREFIX}" without a secret name`);
      }
      return { kind: 'coordinate', coordinate: { kind: 'external', full } };
    }
    return { kind: 'raw', value: new SecretValue(value) };
  }
  if (typeof value === 'number' || typeof value === 'boolean') return { kind: 'raw', value: new SecretValue(String(value)) };
  if (value instanceof SecretValue) return { kind: 'raw', value };
  if (value === undefined) throw invalidNode(path, 'is missing');
  if (value === null) throw invalidNode(path, 'is null');
  if (Array.isArray(value)) throw invalidNode(path, 'is an array');
  if (typeof value !== 'object') throw invalidNode(path, `is a ${typeof value}`);
  return classifyPointer(value as Record<string, unknown>, path);
}

/** The pointer node stored in place of a secret. */
export function pointerNode(coordinate: string, referenceId?: string): PointerNode {
  return referenceId === undefined ? { _secret: coordinate } : { _secret: coordinate, _secret_reference_id: referenceId };
}

/** True for an object that has `_secret` or `_secret_reference_id` (a pointer, well-formed or not). */
export function isPointerLike(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    && (Object.hasOwn(value, SECRET_FIELD) || Object.hasOwn(value, SECRET_REFERENCE_ID_FIELD));
}

/**
 * Reads a pointer node found in a stored partial config.
 * @throws LockboxError SECRET_NODE_INVALID when `_secret` is not a non-empty string;
 *   INVALID_INPUT when `_secret_reference_id` is not a UUID.
 */
export function readPointer(node: Record<string, unknown>, path: string): { coordinate?: string; referenceId?: string } {
  const pointer: { coordinate?: string; referenceId?: string } = {};
  if (Object.hasOwn(node, SECRET_FIELD)) pointer.coordinate = coordinateText(node[SECRET_FIELD], path);
  if (Object.hasOwn(node, SECRET_REFERENCE_ID_FIELD)) pointer.referenceId = uuidField(node, SECRET_REFERENCE_ID_FIELD, path);
  return pointer;
}

/** One step of a hydration path: an object key or an array index. */
export type PathSegment = string | number;

/** `$` followed by `.key`, `[index]` or `['key']` for keys that are not identifiers. */
export function formatPath(segments: readonly PathSegment[]): string {
  let path = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) path += `.${segment}`;
    else path += `['${segment.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return path;
}

/**
 * Parses a hydration path (the inverse of formatPath; also accepts `$.any-chars` and `["key"]`).
 * @throws LockboxError INVALID_INPUT naming the path when it is malformed.
 */
export function parsePath(path: string): PathSegment[] {
  if (typeof path !== 'string' || !path.startsWith('$')) throw badPath(path, 'it must start with "$"');
  const segments: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    if (path[i] === '.') {
      let end = i + 1;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
      if (end === i + 1) throw badPath(path, `empty key at offset ${i}`);
      segments.push(path.slice(i + 1, end));
      i = end;
    } else if (path[i] === '[' && (path[i + 1] === "'" || path[i + 1] === '"')) {
      const quote = path[i + 1];
      let key = '';
      let end = i + 2;
      for (; end < path.length && path[end] !== quote; end++) key += path[end] === '\\' ? path[++end] ?? '' : path[end];
      if (path[end + 1] !== ']') throw badPath(path, `unterminated ['key'] at offset ${i}`);
      segments.push(key);
      i = end + 2;
    } else if (path[i] === '[') {
      const end = path.indexOf(']', i);
      const digits = end === -1 ? '' : path.slice(i + 1, end);
      if (!/^(0|[1-9][0-9]*)$/.test(digits)) throw badPath(path, `bad [index] at offset ${i}`);
      segments.push(Number(digits));
      i = end + 1;
    } else {
      throw badPath(path, `unexpected "${path[i]}" at offset ${i}`);
    }
  }
  return segments;
}

/** The value at `path` (own properties only), or undefined. */
export function getAt(document: unknown, path: string | readonly PathSegment[]): unknown {
  let node = document;
  for (const segment of typeof path === 'string' ? parsePath(path) : path) {
    const own = typeof segment === 'number'
      ? Array.isArray(node) && segment < node.length
      : typeof node === 'object' && node !== null && !Array.isArray(node) && Object.hasOwn(node, segment);
    if (!own) return undefined;
    node = (node as Record<PathSegment, unknown>)[segment];
  }
  return node;
}

/** A new document with `value` at `path`; `document` is never mutated. */
export function setAt<T>(document: T, path: string | readonly PathSegment[], value: unknown): T {
  return setManyAt(document, [[typeof path === 'string' ? parsePath(path) : path, value]]);
}

/**
 * A new document with every `[segments, value]` applied. Only the containers along the paths
 * are copied, each at most once; missing containers are created; when one path lies inside
 * another, the outer replacement wins. `__proto__`/`constructor` keys stay plain data properties.
 * @throws LockboxError INVALID_INPUT when a path runs through a value that is not a container.
 */
export function setManyAt<T>(document: T, entries: ReadonlyArray<readonly [readonly PathSegment[], unknown]>): T {
  const ordered = entries.length > 1 ? [...entries].sort((a, b) => b[0].length - a[0].length) : entries;
  const owned = new WeakSet<object>();
  let root: unknown = document;
  for (const [segments, value] of ordered) root = setOwned(root, segments, 0, value, owned);
  return root as T;
}

/** True for a canonical UUID string (any version). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

function setOwned(node: unknown, segments: readonly PathSegment[], index: number, value: unknown, owned: WeakSet<object>): unknown {
  if (index === segments.length) return value;
  const segment = segments[index] as PathSegment;
  let container: Record<PathSegment, unknown>;
  if (typeof node === 'object' && node !== null && owned.has(node)) container = node as Record<PathSegment, unknown>;
  else if (typeof segment === 'number' ? Array.isArray(node) : typeof node === 'object' && node !== null && !Array.isArray(node)) {
    container = (Array.isArray(node) ? node.slice() : { ...(node as object) }) as Record<PathSegment, unknown>;
  } else if (node === undefined) container = (typeof segment === 'number' ? [] : {}) as Record<PathSegment, unknown>;
  else throw new LockboxError('INVALID_INPUT', `cannot set ${formatPath(segments)}: ${formatPath(segments.slice(0, index))} is not ${typeof segment === 'number' ? 'an array' : 'an object'}`);
  owned.add(container);
  if (typeof segment === 'number' && segment > (container as unknown as unknown[]).length) {
    throw new LockboxError('INVALID_INPUT', `cannot set ${formatPath(segments)}: index ${segment} is past the end of the array`);
  }
  const child = Object.hasOwn(container, segment) ? container[segment] : undefined;
  Object.defineProperty(container, segment, { value: setOwned(child, segments, index + 1, value, owned), writable: true, enumerable: true, configurable: true });
  return container;
}

function badPath(path: unknown, why: string): LockboxError {
  return new LockboxError('INVALID_INPUT', `invalid hydration path ${JSON.stringify(String(path).slice(0, 200))}: ${why}`);
}

function classifyPointer(node: Record<string, unknown>, path: string): SecretNode {
  const keys = Object.keys(node);
  if (keys.length === 0) throw invalidNode(path, 'is an empty object');
  if (keys.some((key) => !POINTER_KEYS.has(key))) {
    throw invalidNode(path, `is an object with keys other than ${SECRET_FIELD}, ${SECRET_REFERENCE_ID_FIELD} and ${SECRET_STORAGE_ID_FIELD}`);
  }
  const referenceId = Object.hasOwn(node, SECRET_REFERENCE_ID_FIELD) ? uuidField(node, SECRET_REFERENCE_ID_FIELD, path) : undefined;
  const storageId = Object.hasOwn(node, SECRET_STORAGE_ID_FIELD) ? uuidField(node, SECRET_STORAGE_ID_FIELD, path) : undefined;
  if (!Object.hasOwn(node, SECRET_FIELD)) {
    if (referenceId === undefined) throw invalidNode(path, `has ${SECRET_STORAGE_ID_FIELD} without ${SECRET_FIELD} or ${SECRET_REFERENCE_ID_FIELD}`);
    if (storageId !== undefined) throw invalidNode(path, `has ${SECRET_STORAGE_ID_FIELD} without ${SECRET_FIELD}`);
    return { kind: 'reference', referenceId };
  }
  const full = coordinateText(node[SECRET_FIELD], path);
  let coordinate: SecretCoordinate;
  try {
    coordinate = parseCoordinate(full);
  } catch (error) {
    if (!(error instanceof LockboxError)) throw error;
    throw new LockboxError(error.code, `secret field at ${path}: ${error.message}`, { hint: error.hint });
  }
  return {
    kind: 'coordinate',
    coordinate,
    ...(referenceId === undefined ? {} : { referenceId }),
    ...(storageId === undefined ? {} : { storageId }),
  };
}

function coordinateText(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidNode(path, `has a ${SECRET_FIELD} that is not a non-empty string`);
  return value;
}

function uuidField(node: Record<string, unknown>, key: string, path: string): string {
  const value = node[key];
  if (!isUuid(value)) throw new LockboxError('INVALID_INPUT', `secret field at ${path}: ${key} is not a UUID`);
  return value.toLowerCase();
}

function invalidNode(path: string, what: string): LockboxError {
  return new LockboxError('SECRET_NODE_INVALID', `secret field at ${path} ${what}; expected a string, a number, a boolean, "${MASK}", "${SECRET_COORDINATE_PREFIX}NAME" or a {"${SECRET_FIELD}": …} / {"${SECRET_REFERENCE_ID_FIELD}": …} pointer`);
}
