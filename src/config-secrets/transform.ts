/**
 * Pure document transforms over configs with secret fields: classify (before anything is
 * written), replace, mask, find pointers, hydrate. Inputs are never mutated; only the
 * containers along the changed paths are copied.
 */
import { LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import {
  MASK, classifySecretNode, formatPath, isPointerLike, parsePath, readPointer, setManyAt,
  type PathSegment, type SecretNode,
} from './nodes.js';
import { collectSecretFields, validateSecretFields, type JsonSchema } from './spec.js';

/** A secret field of a config, classified. */
export interface ProcessedSecret { path: string; node: SecretNode }

/** A pointer found in a stored (partial) config. */
export interface Pointer { coordinate?: string; referenceId?: string }

/**
 * Classifies every secret field of `config` and validates `config` against `spec` (pointers,
 * masks and `secret_coordinate::` strings validate as placeholders; raw values against their
 * own subschema). Throws before anything is written.
 * @throws LockboxError SECRET_NODE_INVALID, INVALID_COORDINATE, INVALID_INPUT, SPEC_VALIDATION.
 */
export function processConfig(spec: JsonSchema, config: unknown): ProcessedSecret[] {
  const fields = collectSecretFields(spec, config);
  const processed = fields.map(({ path, value }) => ({ path, node: classifySecretNode(value, path) }));
  validateSecretFields(spec, config, fields);
  return processed;
}

/** A new document with the value at each path replaced. */
export function replaceAtPaths<T>(config: T, replacements: ReadonlyMap<string, unknown>): T {
  if (replacements.size === 0) return config;
  return setManyAt(config, [...replacements].map(([path, value]) => [parsePath(path), value] as const));
}

/**
 * Masks a config for display: every secret path of `spec` (when given) and every
 * `{_secret…}` / `{_secret_reference_id…}` node anywhere becomes MASK.
 */
export function maskConfig(spec: JsonSchema | undefined, config: unknown): unknown {
  const entries: [PathSegment[], unknown][] = [];
  if (spec !== undefined) for (const field of collectSecretFields(spec, config)) entries.push([field.segments, MASK]);
  visitPointers(config, [], (segments) => entries.push([segments, MASK]));
  return entries.length === 0 ? config : setManyAt(config, entries);
}

/**
 * Every pointer node of a partial config (found without a spec: any object with `_secret` or
 * `_secret_reference_id`), as path → { coordinate?, referenceId? }, in document order.
 * @throws LockboxError SECRET_NODE_INVALID / INVALID_INPUT for a malformed pointer.
 */
export function findPointers(partial: unknown): Map<string, Pointer> {
  const pointers = new Map<string, Pointer>();
  visitPointers(partial, [], (segments, node) => {
    const path = formatPath(segments);
    pointers.set(path, readPointer(node, path));
  });
  return pointers;
}

/**
 * A new document with every pointer replaced by the text `resolve(path, pointer)` returns
 * (resolutions run concurrently). The resolver decides whether the reference id or the
 * coordinate wins (dual read).
 */
export async function hydrateConfig(
  partial: unknown,
  resolve: (path: string, pointer: Pointer) => Promise<string | SecretValue>,
): Promise<unknown> {
  return hydrateConfigWith(partial, (found) => Promise.all(found.map(({ path, pointer }) => resolve(path, pointer))));
}

/**
 * hydrateConfig with one call for all pointers: `resolveAll` gets every pointer (document order)
 * and returns their texts in the same order, e.g. from one batched read.
 */
export async function hydrateConfigWith(
  partial: unknown,
  resolveAll: (found: ReadonlyArray<{ path: string; pointer: Pointer }>) => Promise<ReadonlyArray<string | SecretValue>>,
): Promise<unknown> {
  const found: { segments: PathSegment[]; path: string; pointer: Pointer }[] = [];
  visitPointers(partial, [], (segments, node) => {
    const path = formatPath(segments);
    found.push({ segments, path, pointer: readPointer(node, path) });
  });
  if (found.length === 0) return partial;
  const values = await resolveAll(found);
  return setManyAt(partial, found.map(({ segments, path }, i) => [segments, textOf(values[i], path)] as const));
}

function visitPointers(
  node: unknown,
  segments: PathSegment[],
  onPointer: (segments: PathSegment[], node: Record<string, unknown>) => void,
): void {
  if (typeof node !== 'object' || node === null || node instanceof SecretValue) return;
  if (isPointerLike(node)) {
    onPointer([...segments], node);
    return;
  }
  const isArray = Array.isArray(node);
  const keys: PathSegment[] = isArray ? node.map((_, i) => i) : Object.keys(node);
  for (const key of keys) {
    const child = (node as Record<PathSegment, unknown>)[key];
    if (typeof child !== 'object' || child === null) continue;
    segments.push(key);
    visitPointers(child, segments, onPointer);
    segments.pop();
  }
}

function textOf(value: unknown, path: string): string {
  if (typeof value === 'string') return value;
  if (value instanceof SecretValue) return value.reveal();
  throw new LockboxError('INVALID_INPUT', `the resolver returned no text for the secret at ${path}`);
}
