/**
 * Spec-driven secret detection and validation. A JSON Schema "spec" marks secret fields with
 * `airbyte_secret: true` or `x-secret: true`; findSecretPaths walks the spec and a config
 * together and returns the hydration path of every secret field present in the config.
 * Validation runs ajv on a "relaxed" copy of the spec in which every secret subschema S becomes
 * `{ if: { const: SECRET_PLACEHOLDER }, else: S }`: pointers, masks and `secret_coordinate::`
 * strings are swapped for the placeholder (so they validate whatever S says), while raw values
 * are still checked against S. Messages name paths, never config values.
 */
import { Ajv } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LockboxError } from '../errors.js';
import { SecretValue } from '../secret-value.js';
import { MASK, SECRET_COORDINATE_PREFIX, formatPath, getAt, isPointerLike, parsePath, setManyAt, type PathSegment } from './nodes.js';

export { formatPath, getAt, parsePath, setAt, setManyAt, type PathSegment } from './nodes.js';

/** A JSON Schema object (draft-07 by default; `$schema` 2019-09 / 2020-12 are honoured). */
export type JsonSchema = Record<string, unknown>;

/** A secret field found in a config: its hydration path, the path's segments and the value there. */
export interface SecretField { path: string; segments: PathSegment[]; value: unknown }

/** The string that stands in for a non-raw secret node during validation. */
export const SECRET_PLACEHOLDER = 'lockbox:secret-placeholder';

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
type Schema = Record<string, unknown>;
type AjvCore = Ajv | Ajv2019 | Ajv2020;
interface SpecEntry {
  root: Schema;
  ajv: AjvCore;
  pointers: Map<object, string>;
  validators: Map<object, ValidateFunction>;
  refs: Map<string, unknown>;
  discriminators: Map<object, Discriminator[]>;
  patterns: Map<string, RegExp>;
}
type Discriminator = { key: string; value: unknown; required: boolean };

const SPEC_ID = 'lockbox:spec';
const TEXT_CACHE_LIMIT = 64;
const bySpec = new WeakMap<object, SpecEntry>();
const byText = new Map<string, SpecEntry>();
const metaValidators = new Map<string, AjvCore>();
const SCHEMA_KEYS = new Set(['not', 'if', 'then', 'else', 'additionalProperties', 'additionalItems', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'items']);
const SCHEMA_LIST_KEYS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items']);
const SCHEMA_MAP_KEYS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas', 'dependencies']);
const ANNOTATION_KEYWORDS = ['airbyte_secret', 'x-secret', 'airbyte_hidden', 'order', 'group', 'groups', 'always_show', 'display_type', 'multiline'];

/** The compiled form of a spec: cached by object (WeakMap) and by JSON text (small LRU). */
function specEntry(spec: JsonSchema): SpecEntry {
  if (!isSchemaObject(spec)) throw new LockboxError('INVALID_INPUT', 'spec must be a JSON Schema object');
  const cached = bySpec.get(spec);
  if (cached !== undefined) return cached;
  const text = JSON.stringify(spec);
  let entry = byText.get(text);
  if (entry === undefined) {
    entry = buildEntry(JSON.parse(text) as Schema);
    if (byText.size >= TEXT_CACHE_LIMIT) byText.delete(byText.keys().next().value as string);
  } else {
    byText.delete(text);
  }
  byText.set(text, entry);
  bySpec.set(spec, entry);
  return entry;
}

function buildEntry(root: Schema): SpecEntry {
  const draft = typeof root.$schema === 'string' && /2020-12/.test(root.$schema) ? '2020' : typeof root.$schema === 'string' && /2019-09/.test(root.$schema) ? '2019' : '07';
  const { $schema: _schema, $id: _id, id: _legacyId, ...bare } = root;
  const meta = metaValidators.get(draft) ?? createAjv(draft, true);
  metaValidators.set(draft, meta);
  if (!meta.validateSchema(bare)) {
    throw new LockboxError('INVALID_INPUT', `spec is not a valid JSON Schema: ${meta.errorsText(meta.errors, { dataVar: 'spec' })}`);
  }
  const pointers = new Map<object, string>();
  const relaxedRoot = relax(bare, '', pointers);
  pointers.set(root, '');
  const ajv = createAjv(draft, false);
  try {
    ajv.addSchema(relaxedRoot as Schema, SPEC_ID);
  } catch (error) {
    throw invalidSpec(error);
  }
  return { root, ajv, pointers, validators: new Map(), refs: new Map(), discriminators: new Map(), patterns: new Map() };
}

function createAjv(draft: string, meta: boolean): AjvCore {
  const options = { strict: false, allErrors: true, validateFormats: false, logger: false as const, unicodeRegExp: false, ...(meta ? {} : { meta: false, validateSchema: false }) };
  const ajv = draft === '2020' ? new Ajv2020(options) : draft === '2019' ? new Ajv2019(options) : new Ajv(options);
  if (!meta) for (const keyword of ANNOTATION_KEYWORDS) if (!ajv.getKeyword(keyword)) ajv.addKeyword(keyword);
  return ajv;
}

/** Copy of a schema with every secret subschema S as `{ if: { const: PLACEHOLDER }, else: S }`. */
function relax(node: unknown, pointer: string, pointers: Map<object, string>): unknown {
  if (!isSchemaObject(node)) return node;
  pointers.set(node, pointer);
  if (isSecretSchema(node)) return { if: { const: SECRET_PLACEHOLDER }, else: node };
  const copy: Schema = {};
  for (const [key, child] of Object.entries(node)) {
    const at = `${pointer}/${escapePointer(key)}`;
    let out = child;
    if (SCHEMA_LIST_KEYS.has(key) && Array.isArray(child)) out = child.map((item, i) => relax(item, `${at}/${i}`, pointers));
    else if (SCHEMA_KEYS.has(key)) out = relax(child, at, pointers);
    else if (SCHEMA_MAP_KEYS.has(key) && isSchemaObject(child)) {
      const map: Schema = {};
      for (const [name, sub] of Object.entries(child)) defineData(map, name, relax(sub, `${at}/${escapePointer(name)}`, pointers));
      out = map;
    }
    defineData(copy, key, out);
  }
  return copy;
}

function validatorFor(entry: SpecEntry, schema: Schema): ValidateFunction | undefined {
  const cached = entry.validators.get(schema);
  if (cached !== undefined) return cached;
  const pointer = entry.pointers.get(schema);
  if (pointer === undefined) return undefined;
  let validate: ValidateFunction | undefined;
  try {
    validate = pointer === '' ? entry.ajv.getSchema(SPEC_ID) : entry.ajv.compile({ $ref: `${SPEC_ID}#${pointer}` });
  } catch (error) {
    throw invalidSpec(error);
  }
  if (validate !== undefined) entry.validators.set(schema, validate);
  return validate;
}

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

function resolveRef(entry: SpecEntry, ref: string): unknown {
  if (entry.refs.has(ref)) return entry.refs.get(ref);
  if (!ref.startsWith('#') || (ref.length > 1 && ref[1] !== '/')) {
    throw new LockboxError('INVALID_INPUT', `spec $ref "${ref}" is not supported: only local references such as "#/definitions/…" and "#/$defs/…" are`);
  }
  let node: unknown = entry.root;
  for (const segment of ref.length > 1 ? ref.slice(2).split('/') : []) {
    const key = decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~');
    node = typeof node === 'object' && node !== null && Object.hasOwn(node, key) ? (node as Schema)[key] : undefined;
    if (node === undefined) throw new LockboxError('INVALID_INPUT', `spec $ref "${ref}" does not resolve`);
  }
  entry.refs.set(ref, node);
  return node;
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

function patternFor(entry: SpecEntry, pattern: string): RegExp {
  let regex = entry.patterns.get(pattern);
  if (regex === undefined) {
    try {
      regex = new RegExp(pattern);
    } catch {
      throw new LockboxError('INVALID_INPUT', `spec patternProperties has an invalid regular expression "${pattern}"`);
    }
    entry.patterns.set(pattern, regex);
  }
  return regex;
}

function isSecretSchema(schema: Schema): boolean {
  return schema.airbyte_secret === true || schema['x-secret'] === true;
}

function isSchemaObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

function escapePointer(key: string): string {
  return encodeURIComponent(key.replace(/~/g, '~0').replace(/\//g, '~1'));
}

function defineData(target: Schema, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function invalidSpec(error: unknown): LockboxError {
  const detail = error instanceof Error ? error.message : String(error);
  return new LockboxError('INVALID_INPUT', `spec is not a valid JSON Schema: ${detail}`, { cause: error });
}
