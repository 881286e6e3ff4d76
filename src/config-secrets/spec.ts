/**
 * Spec-driven secret detection and validation. A JSON Schema "spec" marks secret fields with
 * `airbyte_secret: true` or `x-secret: true`; findSecretPaths walks the spec and a config
 * together and returns the hydration path of every secret field present in the config.
 * Validation runs ajv on a "relaxed" copy of the spec in which every secret subschema S becomes
 * `{ if: { const: SECRET_PLACEHOLDER }, else: S }`: pointers, masks and `secret_coordinate::`
 * strings are swapped for the placeholder (so they validate whatever S says), while raw values
 * are still checked against S. Messages name paths, never config values.
 */
import type { ErrorObject } from 'ajv';
import { LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import {
  SECRET_PLACEHOLDER, isSchemaObject, isSecretSchema, patternFor, resolveRef, specEntry, validatorFor,
  type JsonSchema, type Schema, type SpecEntry,
} from './spec-compile.js';
import { MASK, SECRET_COORDINATE_PREFIX, formatPath, getAt, isPointerLike, parsePath, setManyAt, type PathSegment } from './nodes.js';

export { formatPath, getAt, parsePath, setAt, setManyAt, type PathSegment } from './nodes.js';
export { SECRET_PLACEHOLDER, type JsonSchema } from './spec-compile.js';

/** A secret field found in a config: its hydration path, the path's segments and the value there. */
export interface SecretField { path: string; segments: PathSegment[]; value: unknown }

/** Hydration paths of every secret field of `spec` present in `config` (spec order, arrays by index). */
export function findSecretPaths(spec: JsonSchema, config: unknown): string[] {
  return collectSecretFields(spec, config).map((field) => field.path);
}

/**
 * Like findSecretPaths, with each field's segments and current value. oneOf/anyOf pick the
 * first branch the config matches (a const / single-value enum discriminator first, then ajv
 * on the branch); when none matches, the secrets of every candidate branch are returned.
 */
export function collectSecretFields(spec: JsonSchema, config: unknown): SecretField[] {
  const entry = specEntry(spec);
  const found: Found[] = [];
  walk(entry, entry.root, config, [], found, new Set());
  const fields = new Map<string, SecretField>();
  for (const { segments, value } of found) {
    const path = formatPath(segments);
    if (!fields.has(path)) fields.set(path, { path, segments, value });
  }
  return [...fields.values()].filter((field) => !hasSecretAncestor(field.segments, fields));
}

/**
 * Validates `config` against `spec`, with each secret path holding a pointer, mask or
 * `secret_coordinate::` string replaced by a placeholder.
 * @throws LockboxError SPEC_VALIDATION listing up to 5 issues as "$.path: message".
 */
export function validateAgainstSpec(spec: JsonSchema, config: unknown, secretPaths: readonly string[]): void {
  validateSecretFields(spec, config, secretPaths.map((path) => {
    const segments = parsePath(path);
    return { segments, value: getAt(config, segments) };
  }));
}

/** validateAgainstSpec for fields already collected (no path parsing, no lookups). */
export function validateSecretFields(spec: JsonSchema, config: unknown, fields: readonly Pick<SecretField, 'segments' | 'value'>[]): void {
  const entry = specEntry(spec);
  const data = withPlaceholders(config, fields);
  const validate = validatorFor(entry, entry.root);
  if (validate === undefined || validate(data)) return;
  throw new LockboxError('SPEC_VALIDATION', `config does not match its spec: ${describeErrors(validate.errors ?? [], data)}`, {
    hint: 'fix the fields named; secret fields accept a value, a {"_secret": …} pointer or the mask',
  });
}

interface Found { segments: PathSegment[]; value: unknown }

function walk(entry: SpecEntry, schema: unknown, value: unknown, segments: PathSegment[], out: Found[], visiting: Set<object>): void {
  if (!isSchemaObject(schema) || visiting.has(schema)) return;
  visiting.add(schema);
  if (isSecretSchema(schema)) {
    out.push({ segments: [...segments], value });
    return;
  }
  if (typeof schema.$ref === 'string') walk(entry, resolveRef(entry, schema.$ref), value, segments, out, visiting);
  if (Array.isArray(schema.allOf)) for (const branch of schema.allOf) walk(entry, branch, value, segments, out, visiting);
  if (Array.isArray(schema.anyOf)) walkChosen(entry, schema.anyOf, value, segments, out, visiting);
  if (Array.isArray(schema.oneOf)) walkChosen(entry, schema.oneOf, value, segments, out, visiting);
  if (isSchemaObject(schema.if) && (schema.then !== undefined || schema.else !== undefined)) {
    walk(entry, trial(entry, schema.if, value) ? schema.then : schema.else, value, segments, out, visiting);
  }
  if (isDataObject(value)) walkProperties(entry, schema, value, segments, out);
  else if (Array.isArray(value)) walkItems(entry, schema, value, segments, out);
}

function walkChosen(entry: SpecEntry, branches: unknown[], value: unknown, segments: PathSegment[], out: Found[], visiting: Set<object>): void {
  const candidates = isDataObject(value) ? branches.filter((branch) => !discriminatorMismatch(entry, branch, value)) : branches;
  if (candidates.length === 1) return walk(entry, candidates[0], value, segments, out, visiting);
  for (const branch of candidates) {
    const found = trial(entry, branch, value);
    if (found === undefined) continue;
    for (const field of found) out.push({ segments: [...segments, ...field.segments], value: field.value });
    return;
  }
  for (const branch of candidates.length > 0 ? candidates : branches) walk(entry, branch, value, segments, out, visiting);
}

/** The secrets of `schema` in `value` (relative paths) when `value` matches it, else undefined. */
function trial(entry: SpecEntry, schema: unknown, value: unknown): Found[] | undefined {
  if (typeof schema === 'boolean') return schema ? [] : undefined;
  if (!isSchemaObject(schema)) return undefined;
  const found: Found[] = [];
  walk(entry, schema, value, [], found, new Set());
  const validate = validatorFor(entry, schema);
  return validate === undefined || validate(withPlaceholders(value, found)) ? found : undefined;
}

function walkProperties(entry: SpecEntry, schema: Schema, value: Record<string, unknown>, segments: PathSegment[], out: Found[]): void {
  const properties = isSchemaObject(schema.properties) ? schema.properties : undefined;
  const patterns = isSchemaObject(schema.patternProperties) ? Object.entries(schema.patternProperties) : [];
  const additional = isSchemaObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
  const descend = (key: string, sub: unknown): void => {
    if (value[key] === undefined) return;
    segments.push(key);
    walk(entry, sub, value[key], segments, out, new Set());
    segments.pop();
  };
  if (patterns.length === 0 && additional === undefined) {
    if (properties !== undefined) for (const key of Object.keys(properties)) if (Object.hasOwn(value, key)) descend(key, properties[key]);
    return;
  }
  for (const key of Object.keys(value)) {
    let matched = properties !== undefined && Object.hasOwn(properties, key);
    if (matched) descend(key, properties?.[key]);
    for (const [pattern, sub] of patterns) {
      if (!patternFor(entry, pattern).test(key)) continue;
      matched = true;
      descend(key, sub);
    }
    if (!matched && additional !== undefined) descend(key, additional);
  }
}

function walkItems(entry: SpecEntry, schema: Schema, value: unknown[], segments: PathSegment[], out: Found[]): void {
  let prefix: unknown[] = [];
  let rest: unknown = schema.items;
  if (Array.isArray(schema.prefixItems)) prefix = schema.prefixItems;
  else if (Array.isArray(schema.items)) [prefix, rest] = [schema.items, schema.additionalItems];
  value.forEach((item, index) => {
    const sub = index < prefix.length ? prefix[index] : rest;
    if (!isSchemaObject(sub) || item === undefined) return;
    segments.push(index);
    walk(entry, sub, item, segments, out, new Set());
    segments.pop();
  });
}

function discriminatorMismatch(entry: SpecEntry, branch: unknown, value: Record<string, unknown>): boolean {
  let target = branch;
  for (let hops = 0; isSchemaObject(target) && typeof target.$ref === 'string' && !isSchemaObject(target.properties) && hops < 32; hops++) {
    target = resolveRef(entry, target.$ref);
  }
  if (!isSchemaObject(target)) return false;
  let discriminators = entry.discriminators.get(target);
  if (discriminators === undefined) {
    discriminators = [];
    const required = Array.isArray(target.required) ? target.required : [];
    for (const [key, sub] of Object.entries(isSchemaObject(target.properties) ? target.properties : {})) {
      const property = isSchemaObject(sub) && typeof sub.$ref === 'string' ? resolveRef(entry, sub.$ref) : sub;
      if (!isSchemaObject(property) || isSecretSchema(property)) continue;
      const single = Object.hasOwn(property, 'const') ? [property.const] : Array.isArray(property.enum) && property.enum.length === 1 ? property.enum : undefined;
      if (single !== undefined) discriminators.push({ key, value: single[0], required: required.includes(key) });
    }
    entry.discriminators.set(target, discriminators);
  }
  return discriminators.some(({ key, value: expected, required }) =>
    Object.hasOwn(value, key) ? !jsonEqual(value[key], expected) : required);
}

function withPlaceholders(value: unknown, fields: readonly Found[]): unknown {
  const replacements: [PathSegment[], unknown][] = [];
  for (const field of fields) {
    const v = field.value;
    if (v instanceof SecretValue) replacements.push([field.segments, v.reveal()]);
    else if (isPointerLike(v) || v === MASK || (typeof v === 'string' && v.startsWith(SECRET_COORDINATE_PREFIX))) {
      replacements.push([field.segments, SECRET_PLACEHOLDER]);
    }
  }
  return replacements.length === 0 ? value : setManyAt(value, replacements);
}

function describeErrors(errors: readonly ErrorObject[], data: unknown): string {
  const lines: string[] = [];
  for (const error of errors) {
    if (error.keyword === 'if') continue;
    const segments = instanceSegments(error.instancePath, data);
    let message = error.message ?? 'is invalid';
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
      segments.push(params.missingProperty);
      message = 'is required';
    } else if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      segments.push(params.additionalProperty);
      message = 'is not allowed by the spec';
    }
    const line = `${formatPath(segments)}: ${message}`;
    if (!lines.includes(line)) lines.push(line);
  }
  const shown = lines.slice(0, 5).join('; ');
  return lines.length > 5 ? `${shown}; and ${lines.length - 5} more` : shown;
}

function instanceSegments(pointer: string, data: unknown): PathSegment[] {
  const segments: PathSegment[] = [];
  let node = data;
  for (const raw of pointer === '' ? [] : pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment = Array.isArray(node) && /^\d+$/.test(key) ? Number(key) : key;
    segments.push(segment);
    node = getAt(node, [segment]);
  }
  return segments;
}

function hasSecretAncestor(segments: PathSegment[], fields: Map<string, SecretField>): boolean {
  for (let length = 0; length < segments.length; length++) if (fields.has(formatPath(segments.slice(0, length)))) return true;
  return false;
}

function isDataObject(value: unknown): value is Record<string, unknown> {
  return isSchemaObject(value) && !(value instanceof SecretValue);
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length
    && keys.every((key) => Object.hasOwn(b, key) && jsonEqual((a as Schema)[key], (b as Schema)[key]));
}


