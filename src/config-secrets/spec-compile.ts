/**
 * Compiling a spec for config secrets (see spec.ts): the relaxed copy ajv validates (every secret
 * subschema S as `{ if: { const: SECRET_PLACEHOLDER }, else: S }`), its validators per subschema,
 * and the caches of local `$ref`s, discriminators and patterns — built once per spec (cached by
 * object and by JSON text).
 */
import { Ajv } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { LockboxError } from '../errors.js';

/** A JSON Schema object (draft-07 by default; `$schema` 2019-09 / 2020-12 are honoured). */
export type JsonSchema = Record<string, unknown>;

/** The string that stands in for a non-raw secret node during validation. */
export const SECRET_PLACEHOLDER = 'lockbox:secret-placeholder';

/** A schema node. */
export type Schema = Record<string, unknown>;
type AjvCore = Ajv | Ajv2019 | Ajv2020;
/** The compiled form of a spec: ajv with the relaxed spec, and per-node caches. */
export interface SpecEntry {
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
export function specEntry(spec: JsonSchema): SpecEntry {
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

export function validatorFor(entry: SpecEntry, schema: Schema): ValidateFunction | undefined {
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


export function resolveRef(entry: SpecEntry, ref: string): unknown {
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


export function patternFor(entry: SpecEntry, pattern: string): RegExp {
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

export function isSecretSchema(schema: Schema): boolean {
  return schema.airbyte_secret === true || schema['x-secret'] === true;
}

export function isSchemaObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


function escapePointer(key: string): string {
  return encodeURIComponent(key.replace(/~/g, '~0').replace(/\//g, '~1'));
}

function defineData(target: Schema, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

export function invalidSpec(error: unknown): LockboxError {
  const detail = error instanceof Error ? error.message : String(error);
  return new LockboxError('INVALID_INPUT', `spec is not a valid JSON Schema: ${detail}`, { cause: error });
}
