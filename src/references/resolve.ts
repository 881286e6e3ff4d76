/**
 * Resolves `${secret:…}` and `${env:…}` references in a string or a JSON/YAML document: every
 * secret reference is collected first and fetched in ONE batched `fetchMany` call, everything
 * that can be resolved is, and then one error lists every reference that could not be.
 */
import { LockboxError } from '../errors.js';
import { assertValidScope } from '../names.js';
import type { SecretValue } from '../secret-value.js';
import type { SecretRef } from '../types.js';
import { parseTemplate, type EnvReference, type Reference, type SecretReference, type TemplatePart } from './parse.js';

export type FetchOutcome = { status: 'found'; value: SecretValue } | { status: 'missing' } | { status: 'error'; error: unknown };

/** What the resolver reads through: the SecretManager implements it (one batched call). */
export interface SecretReader {
  /** One outcome per ref, in order; a `field` in a ref is already extracted (or an error). */
  fetchMany(refs: SecretRef[]): Promise<FetchOutcome[]>;
}

export interface ResolveOptions {
  /** Tenant applied to every secret reference that has none. @default undefined (global) */
  scope?: string;
  /** Environment `${env:…}` reads. @default process.env */
  env?: Record<string, string | undefined>;
}

export interface UnresolvedReference {
  /** The reference as written, e.g. `${secret:db/pw}`. */
  reference: string;
  /** Why: "not found", the error's code and message, or the unset variable. */
  reason: string;
  /** NOT_FOUND, or the code of the error that stopped it. */
  code?: string;
  /** Where in a document it was first met, e.g. `database.password` (resolveDocument only). */
  location?: string;
}

/** One error for every reference that could not be resolved; `unresolved` lists them. */
export class UnresolvedReferencesError extends LockboxError {
  readonly unresolved: UnresolvedReference[];

  constructor(unresolved: UnresolvedReference[], transient = false) {
    const count = unresolved.length === 1 ? '1 reference' : `${unresolved.length} references`;
    const lines = unresolved.map((u) => `  ${u.reference}${u.location ? ` in ${u.location}` : ''}: ${u.reason}`);
    super('UNRESOLVED_REFERENCES', [`${count} could not be resolved:`, ...lines].join('\n'), {
      transient,
      hint: 'create what is missing or fix what failed; ?optional and ?default=text cover only secrets that are not found',
    });
    this.name = 'UnresolvedReferencesError';
    this.unresolved = unresolved;
  }
}

/** Resolves every reference in a string (escapes `$${…}` become `${…}`). */
export async function resolveString(reader: SecretReader, input: string, options: ResolveOptions = {}): Promise<string> {
  if (typeof input !== 'string') throw new LockboxError('INVALID_INPUT', `resolveString takes a string, not ${typeof input}`);
  if (input.indexOf('${') === -1) return input;
  const batch = new Batch(options);
  const bound = batch.add(input);
  const failures = await batch.fetch(reader);
  const output = batch.render(bound, failures, undefined);
  failures.throwIfAny();
  return output;
}

/**
 * Resolves string VALUES of a plain JSON/YAML document (objects and arrays); keys and
 * non-string values are kept. Returns a new document; the input is not changed.
 */
export async function resolveDocument<T>(reader: SecretReader, document: T, options: ResolveOptions = {}): Promise<T> {
  if (typeof document === 'string') return (await resolveString(reader, document, options)) as T;
  const batch = new Batch(options);
  const holes: Hole[] = [];
  const copy = copyTree(document, batch, holes, [], []);
  const failures = await batch.fetch(reader);
  for (const hole of holes) setOwn(hole.target, hole.key, batch.render(hole.bound, failures, hole.path));
  failures.throwIfAny();
  return copy as T;
}

/**
 * Every reference in a string or document, in order of first appearance, one per distinct
 * reference text (for `lockbox check`); the objects are frozen. Throws INVALID_REFERENCE or
 * INVALID_NAME like the resolver.
 */
export function collectReferences(document: unknown): Reference[] {
  const batch = new Batch({ env: {} });
  const holes: Hole[] = [];
  if (typeof document === 'string') {
    if (document.indexOf('${') !== -1) holes.push({ target: {}, key: '', bound: batch.add(document) });
  } else {
    copyTree(document, batch, holes, [], []);
  }
  const seen = new Map<string, Reference>();
  for (const { bound } of holes) {
    for (const part of bound.compiled.parts) if (part.kind !== 'text' && !seen.has(part.raw)) seen.set(part.raw, part);
  }
  return [...seen.values()];
}

type Path = Array<string | number>;
type Container = Record<string | number, unknown>;
/** A parsed string: its parts and, for each secret part, its deduplication key (frozen, cached). */
interface Compiled { readonly parts: readonly TemplatePart[]; readonly keys: readonly string[] }
/** A parsed string bound to one batch: slot i is the index of part i's ref in the batch. */
interface Bound { compiled: Compiled; slots: number[] }
/** A string in a copied document, filled in once the batch is fetched. */
interface Hole { target: Container; key: string | number; bound: Bound; path?: Path }

/** The refs of one resolution, deduplicated, and the outcomes of its one fetch. */
class Batch {
  readonly #scope: string | undefined;
  readonly #env: Record<string, string | undefined>;
  readonly #refs: SecretRef[] = [];
  readonly #slotByKey = new Map<string, number>();
  #outcomes: FetchOutcome[] = [];

  constructor(options: ResolveOptions) {
    this.#scope = options.scope === undefined ? undefined : assertValidScope(options.scope);
    this.#env = options.env ?? process.env;
  }

  /** Parses a string (cached) and registers its secret refs. */
  add(text: string): Bound {
    const compiled = compile(text);
    const slots: number[] = new Array(compiled.parts.length);
    for (let i = 0; i < compiled.parts.length; i += 1) {
      const part = compiled.parts[i]!;
      slots[i] = part.kind === 'secret' ? this.#slotOf(part, compiled.keys[i]!) : -1;
    }
    return { compiled, slots };
  }

  /** Fetches every registered ref in one call; a rejected call fails every ref. */
  async fetch(reader: SecretReader): Promise<Failures> {
    const failures = new Failures();
    if (this.#refs.length === 0) return failures;
    let outcomes: FetchOutcome[];
    try {
      outcomes = await reader.fetchMany(this.#refs);
    } catch (error) {
      outcomes = this.#refs.map(() => ({ status: 'error', error }));
    }
    if (!Array.isArray(outcomes) || outcomes.length !== this.#refs.length) {
      throw new LockboxError('INVALID_INPUT', `the secret reader returned ${Array.isArray(outcomes) ? outcomes.length : 'no'} outcomes for ${this.#refs.length} references`);
    }
    this.#outcomes = outcomes;
    return failures;
  }

  /** Substitutes a string's references; what cannot be resolved is recorded in failures. */
  render({ compiled, slots }: Bound, failures: Failures, path: Path | undefined): string {
    let output = '';
    for (let i = 0; i < compiled.parts.length; i += 1) {
      const part = compiled.parts[i]!;
      if (part.kind === 'text') output += part.text;
      else if (part.kind === 'env') output += this.#envValue(part, failures, path);
      else output += this.#secretValue(part, this.#outcomes[slots[i]!], failures, path);
    }
    return output;
  }

  /** Within a batch the scope is fixed, so the parsed ref's key identifies the fetch. */
  #slotOf(part: SecretReference, key: string): number {
    let slot = this.#slotByKey.get(key);
    if (slot === undefined) {
      const ref = part.ref.scope === undefined && this.#scope !== undefined ? { ...part.ref, scope: this.#scope } : part.ref;
      slot = this.#refs.push(ref) - 1;
      this.#slotByKey.set(key, slot);
    }
    return slot;
  }

  #envValue(part: EnvReference, failures: Failures, path: Path | undefined): string {
    const value = this.#env[part.variable];
    if (part.defaultValue !== undefined && (value === undefined || value === '')) return part.defaultValue;
    if (value !== undefined) return value;
    failures.add(part.raw, `environment variable ${part.variable} is not set`, 'NOT_FOUND', path, false);
    return '';
  }

  #secretValue(part: SecretReference, outcome: FetchOutcome | undefined, failures: Failures, path: Path | undefined): string {
    if (outcome?.status === 'found') return outcome.value.reveal();
    if (outcome?.status === 'error') {
      const { reason, code, transient } = describeError(outcome.error);
      failures.add(part.raw, reason, code, path, transient);
      return '';
    }
    if (part.optional) return '';
    if (part.defaultValue !== undefined) return part.defaultValue;
    failures.add(part.raw, this.#scope === undefined ? 'not found' : `not found (tenant "${this.#scope}")`, 'NOT_FOUND', path, false);
    return '';
  }
}

/** Unresolved references, one per reference text, in order of first appearance. */
class Failures {
  readonly #byReference = new Map<string, UnresolvedReference>();
  #allTransient = true;

  add(reference: string, reason: string, code: string | undefined, path: Path | undefined, transient: boolean): void {
    if (this.#byReference.has(reference)) return;
    const entry: UnresolvedReference = { reference, reason };
    if (code !== undefined) entry.code = code;
    if (path) entry.location = formatPath(path);
    this.#byReference.set(reference, entry);
    this.#allTransient &&= transient;
  }

  throwIfAny(): void {
    if (this.#byReference.size > 0) throw new UnresolvedReferencesError([...this.#byReference.values()], this.#allTransient);
  }
}

/**
 * Parsed templates by text, shared by every resolution so that a warm resolve parses nothing.
 * Bounded (oldest entry out first); holds template text only, never resolved values.
 */
const templateCache = new Map<string, Compiled>();
const TEMPLATE_CACHE_LIMIT = 2000;

function compile(text: string): Compiled {
  let compiled = templateCache.get(text);
  if (compiled) return compiled;
  const parts = parseTemplate(text);
  const keys = parts.map((part) => part.kind === 'secret' ? refKey(part.ref) : '');
  for (const part of parts) {
    if (part.kind === 'secret') Object.freeze(part.ref);
    Object.freeze(part);
  }
  compiled = Object.freeze({ parts: Object.freeze(parts), keys: Object.freeze(keys) });
  if (templateCache.size >= TEMPLATE_CACHE_LIMIT) templateCache.delete(templateCache.keys().next().value!);
  templateCache.set(text, compiled);
  return compiled;
}

function refKey(ref: SecretRef): string {
  return `${ref.provider ?? ''}\0${ref.scope ?? ''}\0${ref.name}\0${ref.version ?? 'current'}\0${ref.field ?? ''}`;
}

/**
 * A reason that never holds a value: a LockboxError's code and message (its messages never
 * carry values); for anything else only its code or name, never its message.
 */
function describeError(error: unknown): { reason: string; code?: string; transient: boolean } {
  if (error instanceof LockboxError) return { reason: `${error.code}: ${error.message}`, code: error.code, transient: error.transient };
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; name?: unknown };
  const code = typeof e.code === 'string' && SAFE_LABEL.test(e.code) ? e.code : undefined;
  const name = typeof e.name === 'string' && SAFE_LABEL.test(e.name) ? e.name : 'Error';
  return { reason: `unexpected error (${code ?? name})`, code, transient: false };
}
const SAFE_LABEL = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Copies arrays and plain objects (anything else is kept as is), registering every string that
 * holds `${` with the batch and as a hole to fill. Keys become own data properties, `__proto__`
 * included, so no prototype ever changes. A document that contains itself is an error.
 */
function copyTree(node: unknown, batch: Batch, holes: Hole[], path: Path, ancestors: object[]): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const isArray = Array.isArray(node);
  const proto: unknown = Object.getPrototypeOf(node);
  if (!isArray && proto !== Object.prototype && proto !== null) return node;
  if (ancestors.includes(node)) throw new LockboxError('INVALID_INPUT', `the document contains itself at ${formatPath(path) || 'its root'}`);
  ancestors.push(node);
  const source = node as Container;
  const keys = isArray ? undefined : Object.keys(node);
  const count = keys ? keys.length : (node as unknown[]).length;
  const copy: Container = isArray ? new Array(count) : proto === null ? Object.create(null) : {};
  for (let i = 0; i < count; i += 1) {
    const key = keys ? keys[i]! : i;
    const value = source[key];
    if (typeof value === 'string' && value.indexOf('${') !== -1) {
      path.push(key);
      holes.push({ target: copy, key, bound: addAt(batch, value, path), path: path.slice() });
      path.pop();
    } else if (typeof value === 'object' && value !== null) {
      path.push(key);
      setOwn(copy, key, copyTree(value, batch, holes, path, ancestors));
      path.pop();
      continue;
    }
    setOwn(copy, key, value);
  }
  ancestors.pop();
  return copy;
}

function setOwn(target: Container, key: string | number, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

/** batch.add, with where the string was appended to a parse error. */
function addAt(batch: Batch, text: string, path: Path): Bound {
  try {
    return batch.add(text);
  } catch (error) {
    if (error instanceof LockboxError) error.message += ` (in ${formatPath(path)})`;
    throw error;
  }
}

/** `servers[0].token`, with odd keys quoted: `labels["a.b"]`. */
function formatPath(path: Path): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (PLAIN_KEY.test(key)) text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(key)}]`;
  }
  return text;
}
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;
